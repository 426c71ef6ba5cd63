"""TSN frame sampling and resizing with the keypoints transformed alike.

The decisions: docs/decisions.md#gif-decoding-and-sampling.

Sampling (paper 3.1, after TSN) splits a GIF into ``T`` equal segments and
takes one frame from each: at a uniformly random point of the segment in
training, at its middle in evaluation.

- ``by="index"`` (default): the segments split ``[0, N)``, the frame indices
  taken as a continuous axis (frame ``i`` covers ``[i, i + 1)``). Segment ``k``
  is ``[k N / T, (k + 1) N / T)``; evaluation takes frame
  ``floor((k + 1/2) N / T)`` (computed exactly in integers, as the exported
  serving graph does); training takes ``floor((k + u) N / T)``, ``u ~ U[0, 1)``.
- ``by="time"``: the segments split the display time ``[0, sum(delays))``
  instead, and the frame on screen at the chosen instant is taken, so a frame
  shown longer is taken more often.
- Fewer frames than segments (``N < T``) need no special case: frames repeat
  evenly and, in evaluation, every frame is used (e.g. ``N = 3, T = 8`` gives
  ``[0, 0, 0, 1, 1, 2, 2, 2]``).

Indices always come out sorted.

Resizing: ``"stretch"`` scales each axis to the target size; ``"letterbox"``
keeps the aspect ratio, centres the frame and pads with the background colour.
Frames are resampled with Pillow's bilinear filter. :class:`ResizeTransform`
maps pixel coordinates the same way, with pixel centres at integers (pixel
``i`` spans ``[i - 0.5, i + 0.5]``, the OpenPose and heatmap convention):
``x' = (x + 0.5) * scale + pad - 0.5``. :func:`transform_keypoints` applies it
to ``[..., 70, 3]`` keypoints.

Example:

```python
import numpy as np
from kavan_tf.data.sampling import resize_frames, sample_indices, transform_keypoints

indices = sample_indices(gif.num_frames, 8, training=True, rng=np.random.default_rng(0))
frames, transform = resize_frames(gif.frames[indices], (224, 224), mode="letterbox")
points = transform_keypoints(points, transform)     # [..., 70, 3] in resized pixels
```
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

_BY = ("index", "time")
_MODES = ("stretch", "letterbox")


def sampling_mode(media_format: str, configured: str) -> str:
    """How TSN sampling splits a file of ``media_format`` into segments.

    GIFs follow ``data.sampling`` (``"index"`` by default, as the served
    model does); every other format is sampled by display time, because its
    frames are defined by their timestamps (a video's frame rate may vary).
    """
    return configured if media_format == "GIF" else "time"


def sample_indices(
    num_frames: int,
    num_samples: int,
    *,
    training: bool,
    rng: np.random.Generator | None = None,
    delays_ms: np.ndarray | None = None,
    by: str = "index",
) -> np.ndarray:
    """TSN sampling (paper 3.1): one frame from each of ``num_samples`` equal segments.

    Args:
        num_frames: ``N >= 1``, the frames of the GIF.
        num_samples: ``T >= 1``, the segments (frames to return).
        training: A random point of each segment (``True``) or its middle
            (``False``).
        rng: The seeded generator training draws from. When ``None`` in
            training, a fresh unseeded generator is used (not reproducible).
        delays_ms: Per-frame display times, needed for ``by="time"``.
        by: ``"index"`` (segments of frame indices) or ``"time"`` (segments of
            display time).

    Returns:
        int64 ``[T]`` frame indices in non-decreasing order.

    Raises:
        ValueError: A count is not a positive int, ``by`` is unknown, or
            ``delays_ms`` is missing or not ``N`` positive finite numbers for
            ``by="time"``.
    """
    n, t = _check_counts(num_frames, num_samples, by)
    offsets = None
    if training:
        rng = rng if rng is not None else np.random.default_rng()
        offsets = rng.uniform(0.0, 1.0, size=t)
    return _indices_at(n, t, offsets, delays_ms, by)


def _check_counts(num_frames: int, num_samples: int, by: str) -> tuple[int, int]:
    for arg, value in (("num_frames", num_frames), ("num_samples", num_samples)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{arg}` must be an int >= 1. Received: {arg}={value!r}")
    if by not in _BY:
        raise ValueError(f"`by` must be one of {_BY}. Received: by={by!r}")
    return int(num_frames), int(num_samples)


def _indices_at(
    n: int, t: int, offsets: np.ndarray | None, delays_ms: np.ndarray | None, by: str
) -> np.ndarray:
    """The frame at ``offsets`` (in ``[0, 1)``) of each segment; ``None`` = the
    middle, computed exactly."""
    k = np.arange(t, dtype=np.int64)
    if by == "index":
        if offsets is None:
            return (2 * k + 1) * n // (2 * t)
        points = np.floor((k + offsets) * (n / t)).astype(np.int64)
        return np.clip(points, 0, n - 1)

    delays = _check_delays(delays_ms, n)
    starts = np.concatenate([[0], np.cumsum(delays)[:-1]])
    total = delays.sum()
    if offsets is None and delays.dtype.kind == "i":
        # Middle of segment k is (2k + 1) total / (2T): compare in integers.
        points, starts = (2 * k + 1) * total, starts * (2 * t)
    else:
        offsets = np.full(t, 0.5) if offsets is None else offsets
        points = (k + offsets) * (total / t)
    # The frame on screen at instant s is the last one that starts at or before s.
    index = np.searchsorted(starts, points, side="right") - 1
    return np.clip(index, 0, n - 1).astype(np.int64)


def segment_candidates(
    num_frames: int,
    num_samples: int,
    per_segment: int,
    *,
    delays_ms: np.ndarray | None = None,
    by: str = "index",
) -> np.ndarray:
    """``K`` frames of each TSN segment, at its quantiles ``(j + 1/2) / K``.

    The feature cache stores these and training samples one of the ``K`` per
    segment uniformly: TSN's uniform draw over the segment, stratified into
    ``K`` strata. ``K`` is odd, and the middle candidate is exactly the
    evaluation frame of :func:`sample_indices`.

    Returns:
        int64 ``[T, K]`` frame indices, segment-major.
    """
    k = per_segment
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0:
        raise ValueError(f"`per_segment` must be an odd int >= 1. Received: per_segment={k!r}")

    n, t = _check_counts(num_frames, num_samples, by)
    columns = [
        _indices_at(n, t, None if 2 * j + 1 == k else np.full(t, (j + 0.5) / k), delays_ms, by)
        for j in range(int(k))
    ]
    return np.stack(columns, axis=1)


def _check_delays(delays_ms: np.ndarray | None, num_frames: int) -> np.ndarray:
    if delays_ms is None:
        raise ValueError("`by='time'` needs the frame delays. Received: delays_ms=None")
    delays = np.asarray(delays_ms)
    if delays.dtype.kind in "iu":
        delays = delays.astype(np.int64)
    else:
        delays = delays.astype(np.float64)
    if delays.shape != (num_frames,) or not np.all(np.isfinite(delays) & (delays > 0)):
        raise ValueError(
            f"`delays_ms` must be {num_frames} positive delays, one per frame. "
            f"Received: delays_ms={np.asarray(delays_ms)!r}"
        )
    return delays


@dataclass(frozen=True)
class ResizeTransform:
    """The map from source to resized pixel coordinates: ``x' = x * scale_x + offset_x``.

    Coordinates use the pixel-centre convention of the keypoints and heatmaps
    (pixel ``i`` spans ``[i - 0.5, i + 0.5]``).

    Attributes:
        scale_x: Horizontal scale factor.
        scale_y: Vertical scale factor.
        offset_x: Horizontal offset in resized pixels (letterbox padding plus
            the half-pixel shift of centre-at-integer coordinates).
        offset_y: Vertical offset in resized pixels.
    """

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def apply(self, keypoints: np.ndarray) -> np.ndarray:
        """Same as ``transform_keypoints(keypoints, self)``."""
        return transform_keypoints(keypoints, self)


def resize_transform(
    source_size: tuple[int, int], target_size: tuple[int, int], mode: str = "stretch"
) -> tuple[ResizeTransform, tuple[int, int, int, int]]:
    """The transform and the placed box ``(left, top, width, height)`` of a resize.

    Args:
        source_size: ``(height, width)`` of the frames.
        target_size: ``(height, width)`` wanted.
        mode: ``"stretch"`` or ``"letterbox"`` (aspect kept, centred, padded).

    Returns:
        ``(transform, box)``; ``box`` is where the resized frame lands in the
        output (the whole output for ``"stretch"``).

    Raises:
        ValueError: A size is not two positive ints, or ``mode`` is unknown.
    """
    for arg, value in (("source_size", source_size), ("target_size", target_size)):
        if (
            len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
            or min(value) < 1
        ):
            raise ValueError(
                f"`{arg}` must be two positive ints (height, width). Received: {arg}={value!r}"
            )
    (src_h, src_w), (dst_h, dst_w) = (int(v) for v in source_size), (int(v) for v in target_size)
    if mode == "stretch":
        box = (0, 0, dst_w, dst_h)
    elif mode == "letterbox":
        scale = min(dst_w / src_w, dst_h / src_h)
        width = min(dst_w, max(1, round(src_w * scale)))
        height = min(dst_h, max(1, round(src_h * scale)))
        box = ((dst_w - width) // 2, (dst_h - height) // 2, width, height)
    else:
        raise ValueError(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
    left, top, width, height = box
    sx, sy = width / src_w, height / src_h
    # Pixel centres: x' + 0.5 = (x + 0.5) * s + left.
    transform = ResizeTransform(sx, sy, left + 0.5 * sx - 0.5, top + 0.5 * sy - 0.5)
    return transform, box


def resize_frames(
    frames: np.ndarray,
    size: tuple[int, int],
    *,
    mode: str = "stretch",
    background: tuple[int, int, int] = (255, 255, 255),
) -> tuple[np.ndarray, ResizeTransform]:
    """Resizes frames (bilinear) to ``size`` = ``(height, width)``.

    Args:
        frames: uint8 ``[..., H, W, 3]``, e.g. ``[T, H, W, 3]``.
        size: Target ``(height, width)``.
        mode: ``"stretch"`` or ``"letterbox"``.
        background: Padding colour of ``"letterbox"``.

    Returns:
        ``(uint8 [..., height, width, 3], transform)``; apply the transform
        to keypoints with :func:`transform_keypoints`.

    Raises:
        ValueError: ``frames`` is not uint8 ``[..., H, W, 3]`` with ``H, W >= 1``,
            or ``size`` or ``mode`` is invalid.
    """
    frames = np.asarray(frames)
    if frames.ndim < 3 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            "`frames` must be uint8 [..., H, W, 3]. "
            f"Received: shape {frames.shape}, dtype {frames.dtype}"
        )
    if min(frames.shape[-3:-1]) < 1:
        raise ValueError(f"`frames` must not be empty. Received: shape {frames.shape}")
    transform, (left, top, box_w, box_h) = resize_transform(frames.shape[-3:-1], size, mode)
    height, width = int(size[0]), int(size[1])
    flat = frames.reshape((-1,) + frames.shape[-3:])
    out = np.empty((flat.shape[0], height, width, 3), np.uint8)
    if (box_w, box_h) != (width, height):
        out[...] = np.asarray(background, np.uint8)
    same = (box_w, box_h) == (flat.shape[2], flat.shape[1])
    for i, frame in enumerate(flat):
        resized = frame if same else np.asarray(
            Image.fromarray(frame).resize((box_w, box_h), Image.Resampling.BILINEAR)
        )
        out[i, top : top + box_h, left : left + box_w] = resized
    return out.reshape(frames.shape[:-3] + (height, width, 3)), transform


def transform_keypoints(keypoints: np.ndarray, transform: ResizeTransform) -> np.ndarray:
    """Applies a resize transform to keypoints.

    Args:
        keypoints: ``[..., num_points, 3]`` rows of ``(x, y, confidence)``
            (``num_points = 70`` for OpenPose's face model). Points with
            confidence ``<= 0`` (missing) are left as they are.
        transform: From :func:`resize_frames` or :func:`resize_transform`.

    Returns:
        A new float32 array of the same shape.

    Raises:
        ValueError: The last axis is not ``(x, y, confidence)``.
    """
    points = np.array(keypoints, dtype=np.float32, copy=True)
    if points.ndim < 2 or points.shape[-1] != 3:
        raise ValueError(
            "`keypoints` must be [..., num_points, 3] (x, y, confidence). "
            f"Received: shape {points.shape}"
        )
    valid = points[..., 2] > 0
    points[..., 0] = np.where(valid, points[..., 0] * transform.scale_x + transform.offset_x,
                              points[..., 0])
    points[..., 1] = np.where(valid, points[..., 1] * transform.scale_y + transform.offset_y,
                              points[..., 1])
    return points
