"""Temporal filling: a face missed in one frame gets keypoints from its neighbours.

GIF frames are consecutive, so a detector that finds a face in frames 3 and 6
but not in 4 and 5 has most likely missed it there (motion blur, a turned
head) rather than lost it. :func:`fill_gaps` gives such frames keypoints
interpolated linearly between the two nearest frames with a face, when the
gap is at most ``max_gap`` frames:

- a person of the earlier frame is matched to the person of the later frame
  whose points are nearest (mean distance under ``match_distance`` times the
  earlier face's size, the diagonal of its points' box); unmatched people
  are not filled;
- frame ``t`` between ``a`` and ``b`` gets ``(1 - s) p_a + s p_b`` with
  ``s = (t - a) / (b - a)``, for ``x``, ``y`` and the confidence alike, and
  then the confidence is multiplied by ``confidence_factor`` (0.5): a filled
  point never weighs as much in the loss as a detected one;
- frames before the first face, after the last, or in a longer gap stay
  empty, and are masked out of the loss (SPEC 4): a face that leaves the
  frame is not dragged along.

Example:

```python
filled, was_filled = fill_gaps(per_frame, max_gap=3)
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kavan_tf.data.keypoints import check_frame_keypoints


def _face_size(person: np.ndarray) -> float:
    xy = person[:, :2]
    return float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0))))


def _match(earlier: np.ndarray, later: np.ndarray, match_distance: float):
    """Pairs ``(i, j)`` of people of two frames, greedily by nearest mean point distance."""
    candidates = []
    for i, a in enumerate(earlier):
        size = max(_face_size(a), 1.0)
        for j, b in enumerate(later):
            distance = float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean())
            if distance < match_distance * size:
                candidates.append((distance, i, j))
    used_i: set[int] = set()
    used_j: set[int] = set()
    pairs = []
    for _, i, j in sorted(candidates):
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return sorted(pairs)


def fill_gaps(
    frames: Sequence[np.ndarray],
    max_gap: int = 3,
    confidence_factor: float = 0.5,
    match_distance: float = 0.5,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Fills short runs of frames without keypoints between frames with a face.

    Args:
        frames: One float32 array ``[P, 70, 3]`` per frame.
        max_gap: The longest run of empty frames that is filled; 0 fills nothing.
        confidence_factor: Multiplies the interpolated confidence, in (0, 1].
        match_distance: A person is the same in two frames when the mean
            distance of their points is under this times the face's size.

    Returns:
        The frames (filled ones replaced, the others as given) and a bool
        ``[N]`` array marking the filled frames.
    """
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
        raise ValueError(f"`max_gap` must be an int >= 0. Received: max_gap={max_gap!r}")
    if not 0 < confidence_factor <= 1:
        raise ValueError(
            f"`confidence_factor` must be in (0, 1]. Received: {confidence_factor!r}"
        )
    if not match_distance > 0:
        raise ValueError(f"`match_distance` must be > 0. Received: {match_distance!r}")
    arrays = [check_frame_keypoints(f, f"frames[{t}]") for t, f in enumerate(frames)]
    filled = np.zeros(len(arrays), bool)
    with_face = [t for t, a in enumerate(arrays) if len(a)]
    for a, b in zip(with_face, with_face[1:], strict=False):
        gap = b - a - 1
        if gap == 0 or gap > max_gap:
            continue
        pairs = _match(arrays[a], arrays[b], match_distance)
        if not pairs:
            continue
        start, end = arrays[a][[i for i, _ in pairs]], arrays[b][[j for _, j in pairs]]
        for t in range(a + 1, b):
            s = (t - a) / (b - a)
            people = ((1 - s) * start + s * end).astype(np.float32)
            people[..., 2] *= confidence_factor
            arrays[t] = people
            filled[t] = True
    return arrays, filled
