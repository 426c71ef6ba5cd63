"""Colour-histogram features of a GIF (Jou et al. 2014; paper 4.3, Table 2).

Each frame's pixels are counted in a joint RGB histogram of ``bins`` levels per
channel (``bins ** 3`` cells; channel value ``v`` falls in level
``v * bins // 256``), L1-normalised, and the frame histograms are averaged with
equal weight per frame. Every pixel counts, transparent ones with the
background colour a browser would show (see :mod:`kavan_tf.data.gif`). The
result sums to 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from kavan_tf.baselines.base import FeatureExtractor, check_max_frames, sample_frame_indices


@dataclass
class ColorHistogram(FeatureExtractor):
    """Joint RGB histogram averaged over frames.

    Args:
        bins: Levels per channel, 1 to 256 (default 8: 512 cells).
        max_frames: Histogram at most this many evenly spread frames
            (:func:`~kavan_tf.baselines.base.sample_frame_indices`); ``None``
            (default) uses every frame.
    """

    kind: ClassVar[str] = "color_histogram"

    bins: int = 8
    max_frames: int | None = None

    def __post_init__(self) -> None:
        bins = self.bins
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 256:
            raise ValueError(f"`bins` must be an int in [1, 256]. Received: bins={self.bins!r}")
        check_max_frames(self.max_frames)

    @property
    def feature_dim(self) -> int:
        return self.bins**3

    def extract(self, frames: np.ndarray) -> np.ndarray:
        frames = _check_frames(frames)
        cells = self.feature_dim
        total = np.zeros(cells, dtype=np.float64)
        indices = sample_frame_indices(frames.shape[0], self.max_frames)
        for index in indices:
            levels = (frames[index].astype(np.int32) * self.bins) >> 8
            flat = (levels[..., 0] * self.bins + levels[..., 1]) * self.bins + levels[..., 2]
            counts = np.bincount(flat.ravel(), minlength=cells)
            total += counts / counts.sum()
        return (total / len(indices)).astype(np.float32)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0 or frames.size == 0:
        raise ValueError(
            "`frames` must be non-empty [num_frames, height, width, 3]. "
            f"Received: shape={frames.shape}"
        )
    if frames.dtype != np.uint8:
        raise ValueError(f"`frames` must be uint8 RGB. Received: dtype={frames.dtype}")
    return frames
