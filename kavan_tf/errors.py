"""The package's typed errors."""

from __future__ import annotations


class KavanError(Exception):
    """Base class of the errors kavan_tf raises on bad input."""


class GifDecodeError(KavanError):
    """A GIF could not be decoded. The message names the file and the cause.

    Attributes:
        path: The file (or ``"<bytes>"``) that failed.
        cause: A short description of what was wrong.
    """

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: cannot decode GIF: {cause}")


class DecompressionBombError(GifDecodeError):
    """A GIF exceeds the configured size limits (``DataConfig.max_*``)."""


class KeypointFileError(KavanError):
    """A keypoint file is missing or malformed."""


class ManifestError(KavanError):
    """A dataset manifest is missing, malformed, or has bad values."""


class KeypointEstimatorError(KavanError):
    """A keypoint estimator cannot run (missing package or model file)."""


class VoteFileError(KavanError):
    """A GIFGIF vote dump is missing, unreadable, or has no valid header.

    Bad rows are not errors: they are skipped and counted (see
    :class:`kavan_tf.data.gifgif.VoteReport`).

    Attributes:
        path: The vote file.
        cause: A short description of what was wrong.
    """

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: cannot read GIFGIF votes: {cause}")
