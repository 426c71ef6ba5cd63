"""The 70-point facial keypoint layout, and one GIF's keypoints.

The decisions: docs/decisions.md#keypoints-and-heatmaps.

Layout: OpenPose's 70-point face model, i.e. the iBUG 68 points followed by
the two pupils (index 68 = the subject's right pupil, 69 = the left pupil, as
OpenPose numbers them). Every point is ``(x, y, confidence)`` in pixel
coordinates of the original GIF frame, with pixel centres at integer
coordinates (OpenPose's and dlib's convention: the image spans
``[-0.5, width - 0.5]``). Points 48-67 are the mouth. One frame's keypoints
are a float32 array ``[P, 70, 3]`` (``P`` people, possibly 0); a GIF's are a
list of such arrays, one per decoded frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NUM_KEYPOINTS = 70
"""Points per face: iBUG 68 + 2 pupils (OpenPose face layout)."""
MOUTH_SLICE = slice(48, 68)
"""Indices of the 20 mouth points."""
RIGHT_EYE = tuple(range(36, 42))
"""iBUG indices of the subject's right eye (on the image's left)."""
LEFT_EYE = tuple(range(42, 48))
"""iBUG indices of the subject's left eye."""
RIGHT_PUPIL = 68
LEFT_PUPIL = 69

def empty_frame() -> np.ndarray:
    """Keypoints of a frame without people: float32 ``[0, 70, 3]``."""
    return np.zeros((0, NUM_KEYPOINTS, 3), np.float32)


def check_frame_keypoints(points: Any, where: str = "keypoints", finite: bool = True) -> np.ndarray:
    """Validates one frame's keypoints and returns them as float32 ``[P, 70, 3]``.

    Args:
        points: Array-like ``[P, 70, 3]``.
        where: Names the value in the error message.
        finite: Also reject NaN and infinite values.

    Raises:
        ValueError: On a wrong shape or (with ``finite``) non-finite values.
    """
    array = np.asarray(points, dtype=np.float32)
    if array.ndim != 3 or array.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(
            f"`{where}` must have shape [P, {NUM_KEYPOINTS}, 3]. Received: shape={array.shape}"
        )
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"`{where}` contains non-finite values")
    return array


def pad_people(frames: Sequence[np.ndarray], num_people: int | None = None) -> np.ndarray:
    """Stacks per-frame keypoints into one float32 array ``[T, P, 70, 3]``.

    Frames with fewer people are padded with all-zero people (confidence 0,
    which the heatmaps ignore).

    Args:
        frames: ``T`` arrays ``[P_t, 70, 3]``.
        num_people: ``P``; defaults to the largest ``P_t`` (at least 1). Frames
            with more people keep the first ``num_people``.
    """
    arrays = [check_frame_keypoints(f, f"frames[{i}]", finite=False) for i, f in enumerate(frames)]
    if num_people is None:
        num_people = max([a.shape[0] for a in arrays] + [1])
    if num_people < 0:
        raise ValueError(f"`num_people` must be >= 0. Received: num_people={num_people}")
    out = np.zeros((len(arrays), num_people, NUM_KEYPOINTS, 3), np.float32)
    for t, array in enumerate(arrays):
        n = min(array.shape[0], num_people)
        out[t, :n] = array[:n]
    return out


@dataclass
class GifKeypoints:
    """The keypoints of one GIF, as stored in a ``kavan-keypoints-v1`` file.

    Attributes:
        frames: One float32 array ``[P, 70, 3]`` per decoded GIF frame.
        frame_size: ``(width, height)`` of the original GIF frames.
        source: ``"openpose"``, ``"dlib"`` or ``"synthetic"``.
    """

    frames: list[np.ndarray]
    frame_size: tuple[int, int]
    source: str
    filled: tuple[int, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.frames)
