"""The package's typed errors."""

from __future__ import annotations


class KavanError(Exception):
    """Base class of the errors kavan_tf raises on bad input."""


class MediaDecodeError(KavanError):
    """An animation (GIF, WebP, APNG or video) could not be decoded.

    The message is ``<path>: cannot decode <format>: <cause>``.

    Attributes:
        path: The file (or ``"<bytes>"``) that failed.
        cause: A short description of what was wrong.
        format: ``"GIF"``, ``"WebP"``, ``"PNG"``, ``"MP4"`` or ``"WebM"``.
    """

    def __init__(self, path: str, cause: str, format: str = "GIF") -> None:  # noqa: A002
        self.path = path
        self.cause = cause
        self.format = format
        super().__init__(f"{path}: cannot decode {format}: {cause}")


class GifDecodeError(MediaDecodeError):
    """A GIF could not be decoded. The message names the file and the cause."""

    def __init__(self, path: str, cause: str, format: str = "GIF") -> None:  # noqa: A002
        super().__init__(path, cause, format)


class DecompressionBombError(GifDecodeError):
    """An animation exceeds the configured size limits (``DataConfig.max_*``)."""


class KeypointFileError(KavanError):
    """A keypoint file is missing or malformed."""


class ManifestError(KavanError):
    """A dataset manifest is missing, malformed, or has bad values."""


class KeypointEstimatorError(KavanError):
    """A keypoint estimator cannot run (missing package or model file)."""


class VoteFileError(KavanError):
    """A GIFGIF vote dump is missing, unreadable, or has no valid header.

    Bad rows are not errors: they are skipped and counted (see
    :class:`kavan_tf.data.vote_dump.VoteReport`).

    Attributes:
        path: The vote file.
        cause: A short description of what was wrong.
    """

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"{path}: cannot read GIFGIF votes: {cause}")
