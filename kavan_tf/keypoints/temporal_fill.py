"""Temporal filling: a face missed in one frame gets keypoints from its neighbours.

GIF frames are consecutive, so a detector that finds a face in frames 3 and 6
but not in 4 and 5 has most likely missed it there (motion blur, a turned
head) rather than lost it. :func:`fill_gaps` gives such frames keypoints
interpolated linearly between the two nearest frames with that face, when
the gap is at most ``max_gap`` frames. It works per person, so a frame where
one of three faces was missed gets the missing one:

- a person of frame ``a`` is the same as the nearest person of a later frame
  ``b`` when the mean distance of their points is under ``match_distance``
  times the face's size (the diagonal of its points' box); the first such
  ``b`` within ``max_gap + 1`` frames ends the gap;
- a frame of the gap that already holds that person (detected, or filled
  from another pair) is left as it is;
- frame ``t`` between ``a`` and ``b`` gets ``(1 - s) p_a + s p_b`` with
  ``s = (t - a) / (b - a)``, for ``x``, ``y`` and the confidence alike, and
  then the confidence is multiplied by ``confidence_factor`` (0.5): a filled
  point never weighs as much in the loss as a detected one;
- frames before the first face, after the last, or in a longer gap stay
  empty, and are masked out of the loss (docs/decisions.md#keypoints-and-heatmaps): a face that
  leaves the frame is not dragged along.

Example:

```python
filled, was_filled = fill_gaps(per_frame, max_gap=3)
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kavan_tf.keypoints.layout import check_frame_keypoints


def _face_size(person: np.ndarray) -> float:
    xy = person[:, :2]
    return float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0))))


def _nearest(person: np.ndarray, people: np.ndarray, match_distance: float) -> int | None:
    """The index of the person in ``people`` that is ``person`` (nearest, close enough)."""
    if not len(people):
        return None
    distances = np.linalg.norm(people[:, :, :2] - person[None, :, :2], axis=2).mean(axis=1)
    best = int(np.argmin(distances))
    return best if distances[best] < match_distance * max(_face_size(person), 1.0) else None


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
        The frames (detected people first, then the filled ones) and a bool
        ``[N]`` array marking the frames that had no detection and were filled
        (a frame with both detected and filled people is not marked).
    """
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
        raise ValueError(f"`max_gap` must be an int >= 0. Received: max_gap={max_gap!r}")
    if not 0 < confidence_factor <= 1:
        raise ValueError(
            f"`confidence_factor` must be in (0, 1]. Received: {confidence_factor!r}"
        )
    if not match_distance > 0:
        raise ValueError(f"`match_distance` must be > 0. Received: {match_distance!r}")
    detected = [check_frame_keypoints(f, f"frames[{t}]") for t, f in enumerate(frames)]
    added: list[list[np.ndarray]] = [[] for _ in detected]
    for a, people in enumerate(detected):
        for person in people:
            # The next frame within reach where this person is found again.
            for b in range(a + 1, min(len(detected), a + max_gap + 2)):
                j = _nearest(person, detected[b], match_distance)
                if j is not None:
                    break
            else:
                continue
            later = detected[b][j]
            for t in range(a + 1, b):
                s = (t - a) / (b - a)
                guess = ((1 - s) * person + s * later).astype(np.float32)
                guess[:, 2] *= confidence_factor
                present = np.concatenate([detected[t], *([np.stack(added[t])]
                                                          if added[t] else [])])
                if _nearest(guess, present, match_distance) is None:
                    added[t].append(guess)
    arrays = [np.concatenate([d, np.stack(extra)]) if extra else d
              for d, extra in zip(detected, added, strict=True)]
    filled = np.array([not len(d) and bool(extra) for d, extra in zip(detected, added,
                                                                       strict=True)], bool)
    return arrays, filled
