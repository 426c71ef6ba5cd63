"""Keypoint heatmaps: the targets of the keypoint loss (paper Eq. 8).

The decisions: docs/decisions.md#keypoints-and-heatmaps.

For frame ``t`` the heatmap is built in three steps:

1. On a ``G x G`` grid (``G = 64``) add, for every keypoint ``j`` of every
   person with confidence ``c_j > 0``, an unnormalised Gaussian
   ``c_j * w_j * exp(-d^2 / (2 sigma^2))`` (Eq. 8), where ``d`` is the distance
   in grid cells between the cell centre and the keypoint, ``sigma = 5`` cells,
   and ``w_j = mouth_weight = 0.5`` for the mouth points 48-67 and 1 otherwise
   (the mouth is sampled densely by the 70-point layout, paper 4.1).
2. Area-downsample the grid to the backbone's feature grid ``(h, w)`` (7 x 7
   for ResNet-50): feature cell ``(i, k)`` covers the same image area as grid
   rows ``[i G/h, (i+1) G/h)`` and columns ``[k G/w, (k+1) G/w)`` and takes
   the mean of the grid over that area, with grid cells that straddle a border
   counted by the fraction inside (exact area averaging; ``G`` need not be a
   multiple of ``h``). Means, not sums, so the values the softmax sees do not
   depend on the grid size.
3. Normalise over the ``h * w`` cells: softmax (the paper) or L1.

A frame without keypoints (no person, or no point with ``c * w > 0``) gets an
all-zero heatmap and mask 0: it is left out of the keypoint loss rather than
given a uniform target. The model's keypoint loss relies on this: an
all-zero target frame is masked.

Coordinates. Keypoints are ``(x, y)`` pixels of the frames the heatmaps are
for (frames already resized to ``image_size = (H, W)``), with pixel centres at
integer coordinates (OpenPose's and dlib's convention), so the image spans
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. The grid spans the same area: pixel
``x`` maps to ``(x + 0.5) * G / W`` in grid units measured from the image's
left edge, where grid cell ``j``'s centre is at ``j + 0.5``. (In other words,
``x * G / W`` in the continuous convention where pixel ``i`` covers
``[i, i + 1)``.)

Implementation. The Gaussian is separable and the area downsampling is a
linear map along each axis, so the ``h x w`` heatmap before normalisation is
``sum_j c_j w_j (A_h g_y(j)) (A_w g_x(j))^T``, where ``g_x(j)`` is the
``G``-vector of 1-D Gaussian values of point ``j`` along x and ``A_w`` is the
``[w, G]`` area-averaging matrix. That is one batched matrix product per GIF,
vectorised over frames, people and points, and it equals the per-pixel sum
exactly (up to rounding). The averaging matrices are cached per shape.

Example:

```python
heatmaps, mask = keypoint_heatmaps(points, image_size=(224, 224), feature_grid=(7, 7))
heatmaps.shape, mask.shape      # (T, 7, 7), (T,)
```
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from kavan_tf.config import DataConfig
from kavan_tf.keypoints import MOUTH_SLICE, NUM_KEYPOINTS, pad_people

NORMS = ("softmax", "l1")


@functools.lru_cache(maxsize=1)
def _default_config() -> DataConfig:
    return DataConfig()


@functools.lru_cache(maxsize=64)
def area_matrix(grid: int, size: int) -> np.ndarray:
    """The ``[size, grid]`` matrix that area-averages ``grid`` cells into ``size`` cells.

    Row ``i`` holds the fraction of each grid cell that lies inside output
    cell ``i`` (which spans grid coordinates ``[i grid/size, (i+1) grid/size)``),
    divided by that cell's width ``grid / size``, so every row sums to 1. The
    result is cached and read-only.

    Args:
        grid: Number of input cells.
        size: Number of output cells.
    """
    edges = np.arange(size + 1, dtype=np.float64) * (grid / size)
    lo = np.maximum(edges[:-1, None], np.arange(grid)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, grid + 1)[None, :])
    matrix = np.clip(hi - lo, 0.0, None) * (size / grid)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=64)
def _point_weights(mouth_weight: float) -> np.ndarray:
    weights = np.ones(NUM_KEYPOINTS, np.float64)
    weights[MOUTH_SLICE] = mouth_weight
    weights.setflags(write=False)
    return weights


def _profiles(coords: np.ndarray, grid: int, sigma: float) -> np.ndarray:
    """1-D Gaussians ``exp(-(u - j)^2 / (2 sigma^2))`` over cells ``j``.

    Returns an array of shape ``coords.shape + (grid,)``.
    """
    values = np.subtract.outer(coords, np.arange(grid, dtype=np.float64))
    np.square(values, out=values)
    values *= -0.5 / (sigma * sigma)
    return np.exp(values, out=values)


def _pair(value: Any, name: str) -> tuple[int, int]:
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or min(pair) <= 0 or any(p != v for p, v in zip(pair, value, strict=True)):
        raise ValueError(f"`{name}` must be two positive ints (height, width). Received: {value!r}")
    return pair  # type: ignore[return-value]


def _resolve(
    grid: int | None,
    sigma: float | None,
    mouth_weight: float | None,
    norm: str | None,
    config: DataConfig | None,
) -> tuple[int, float, float, str]:
    config = config if config is not None else _default_config()
    grid = config.heatmap_grid if grid is None else grid
    sigma = config.heatmap_sigma if sigma is None else sigma
    mouth_weight = config.mouth_weight if mouth_weight is None else mouth_weight
    norm = config.heatmap_norm if norm is None else norm
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid <= 0:
        raise ValueError(f"`grid` must be a positive int. Received: grid={grid!r}")
    if not isinstance(sigma, (int, float, np.floating)) or not sigma > 0:
        raise ValueError(f"`sigma` must be > 0. Received: sigma={sigma!r}")
    if not isinstance(mouth_weight, (int, float, np.floating)) or not mouth_weight >= 0:
        raise ValueError(f"`mouth_weight` must be >= 0. Received: mouth_weight={mouth_weight!r}")
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}. Received: norm={norm!r}")
    return int(grid), float(sigma), float(mouth_weight), norm


def keypoint_heatmaps(
    keypoints: np.ndarray,
    image_size: tuple[int, int],
    feature_grid: tuple[int, int],
    *,
    grid: int | None = None,
    sigma: float | None = None,
    mouth_weight: float | None = None,
    norm: str | None = None,
    config: DataConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap targets of the keypoint loss for a sequence of frames (Eq. 8).

    Settings left as ``None`` come from ``config`` (default: ``DataConfig()``,
    i.e. grid 64, sigma 5, mouth weight 0.5, softmax).

    Args:
        keypoints: float ``[T, P, 70, 3]``, ``(x, y, confidence)`` in pixels of
            the frames (size ``image_size``); people padded with confidence 0.
            Points with confidence <= 0 or non-finite values are ignored.
        image_size: ``(H, W)`` of the frames the keypoints refer to.
        feature_grid: ``(h, w)`` of the backbone's feature map.
        grid: Side ``G`` of the grid the Gaussians are drawn on.
        sigma: Gaussian sigma, in grid cells.
        mouth_weight: Weight of the mouth points 48-67.
        norm: ``"softmax"`` (paper) or ``"l1"``.
        config: Where the settings left as ``None`` come from.

    Returns:
        ``(heatmaps, mask)``: float32 ``[T, h, w]`` summing to 1 per frame
        with keypoints and all zero otherwise, and float32 ``[T]``, 1 for
        frames with keypoints and 0 otherwise. A frame has keypoints when
        at least one point has ``c * w > 0``.

    Raises:
        ValueError: On a bad shape or setting.
    """
    grid, sigma, mouth_weight, norm = _resolve(grid, sigma, mouth_weight, norm, config)
    height, width = _pair(image_size, "image_size")
    h, w = _pair(feature_grid, "feature_grid")
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 4 or points.shape[2:] != (NUM_KEYPOINTS, 3):
        raise ValueError(
            f"`keypoints` must have shape [T, P, {NUM_KEYPOINTS}, 3]. "
            f"Received: shape={points.shape}"
        )
    frames = points.shape[0]
    points = points.reshape(frames, points.shape[1] * NUM_KEYPOINTS, 3)
    x, y, conf = points[..., 0], points[..., 1], points[..., 2]
    valid = (conf > 0) & np.isfinite(conf) & np.isfinite(x) & np.isfinite(y)
    weight = np.where(valid, conf, 0.0) * np.tile(
        _point_weights(mouth_weight), points.shape[1] // NUM_KEYPOINTS
    )
    # Grid units with cell j's centre at j (see the module docstring).
    gx = np.where(valid, (x + 0.5) * (grid / width) - 0.5, 0.0)
    gy = np.where(valid, (y + 0.5) * (grid / height) - 0.5, 0.0)
    profile_x = _profiles(gx, grid, sigma) @ area_matrix(grid, w).T  # [T, N, w]
    profile_y = _profiles(gy, grid, sigma) @ area_matrix(grid, h).T  # [T, N, h]
    raw = np.matmul((profile_y * weight[..., None]).transpose(0, 2, 1), profile_x)  # [T, h, w]
    total = raw.sum(axis=(1, 2))
    # Zero mass: no point with c * w > 0 (or every Gaussian underflowed, for
    # points hundreds of cells off the image).
    has_points = total > 0
    if norm == "softmax":
        flat = raw.reshape(frames, h * w)
        flat = np.exp(flat - flat.max(axis=1, keepdims=True, initial=0.0))
        out = flat / flat.sum(axis=1, keepdims=True)
    else:
        out = raw.reshape(frames, h * w) / np.where(total > 0, total, 1.0)[:, None]
    out = np.where(has_points[:, None], out, 0.0).reshape(frames, h, w)
    return out.astype(np.float32), has_points.astype(np.float32)


def keypoint_heatmaps_from_list(
    keypoints: Sequence[np.ndarray],
    image_size: tuple[int, int],
    feature_grid: tuple[int, int],
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`keypoint_heatmaps` for per-frame arrays ``[P_t, 70, 3]`` (``P_t`` may be 0).

    Args:
        keypoints: ``T`` arrays, one per frame.
        image_size: ``(H, W)`` of the frames.
        feature_grid: ``(h, w)`` of the feature map.
        **kwargs: Settings passed to :func:`keypoint_heatmaps`.
    """
    return keypoint_heatmaps(pad_people(keypoints), image_size, feature_grid, **kwargs)
