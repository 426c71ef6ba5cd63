"""The feature-extractor interface shared by the Table 2 baselines."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import numpy as np


def sample_frame_indices(num_frames: int, max_frames: int | None) -> np.ndarray:
    """Indices of at most ``max_frames`` evenly spread frames.

    The frames are the middle frames of ``max_frames`` equal segments (TSN's
    evaluation sampling, docs/decisions.md#gif-decoding-and-sampling); all frames
    when ``max_frames`` is ``None`` or not smaller than ``num_frames``.

    Args:
        num_frames: Frames in the GIF (positive).
        max_frames: Frames to keep, or ``None`` for all.

    Returns:
        Sorted ``int64`` indices.
    """
    if max_frames is None or num_frames <= max_frames:
        return np.arange(num_frames)
    return ((np.arange(max_frames) + 0.5) * num_frames / max_frames).astype(np.int64)


def check_max_frames(max_frames: Any) -> None:
    """Raises ``ValueError`` unless ``max_frames`` is ``None`` or a positive int."""
    if max_frames is not None and (
        isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames <= 0
    ):
        raise ValueError(
            f"`max_frames` must be a positive int or None. Received: max_frames={max_frames!r}"
        )


class FeatureExtractor(abc.ABC):
    """Turns the composited frames of one GIF into one feature vector.

    Subclasses are dataclasses whose fields are their whole configuration:
    two extractors with equal :meth:`get_config` give equal features, which
    is what :class:`kavan_tf.baselines.pipeline.FeatureCache` relies on.
    """

    kind: ClassVar[str]
    """Name of the baseline, as passed to ``fit_baseline``."""

    @property
    @abc.abstractmethod
    def feature_dim(self) -> int:
        """Length of the feature vector."""

    @abc.abstractmethod
    def extract(self, frames: np.ndarray) -> np.ndarray:
        """Features of one GIF.

        Args:
            frames: ``uint8 [num_frames, height, width, 3]`` RGB frames, as
                :func:`kavan_tf.data.gif.decode_gif` returns them.

        Returns:
            ``float32 [feature_dim]``.
        """

    def get_config(self) -> dict[str, Any]:
        """The extractor's settings (its dataclass fields that take part in ``__init__``)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.init
        }
