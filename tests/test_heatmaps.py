"""Tests for kavan_tf.data.heatmaps (paper Eq. 8; docs/decisions.md#keypoints-and-heatmaps)."""

from __future__ import annotations

import numpy as np
import pytest

from kavan_tf.config import DataConfig
from kavan_tf.data.heatmaps import area_matrix, keypoint_heatmaps, keypoint_heatmaps_from_list


def reference_heatmaps(
    keypoints, image_size, feature_grid, grid=64, sigma=5.0, mouth_weight=0.5, norm="softmax"
):
    """Direct implementation: per point, per grid pixel, then area averaging by supersampling."""
    keypoints = np.asarray(keypoints, np.float64)
    height, width = image_size
    h, w = feature_grid
    rows, cols = np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5, indexing="ij")
    heatmaps = np.zeros((len(keypoints), h, w))
    mask = np.zeros(len(keypoints))
    for t, frame in enumerate(keypoints):
        full = np.zeros((grid, grid))
        for person in frame:
            for j, (x, y, c) in enumerate(person):
                if not (c > 0 and np.isfinite([x, y, c]).all()):
                    continue
                weight = mouth_weight if 48 <= j <= 67 else 1.0
                # Pixel x (centre at x) sits at (x + 0.5) * G / W from the left edge.
                cx, cy = (x + 0.5) * grid / width, (y + 0.5) * grid / height
                d2 = (cols - cx) ** 2 + (rows - cy) ** 2
                full += c * weight * np.exp(-d2 / (2 * sigma**2))
        # Exact area average: replicate each grid cell h x w times, then average
        # G x G blocks (feature cell (i, k) = fine rows [i G, (i+1) G)).
        fine = np.repeat(np.repeat(full, h, axis=0), w, axis=1)
        down = fine.reshape(h, grid, w, grid).mean(axis=(1, 3))
        if down.sum() <= 0:
            continue
        mask[t] = 1.0
        if norm == "softmax":
            e = np.exp(down - down.max())
            heatmaps[t] = e / e.sum()
        else:
            heatmaps[t] = down / down.sum()
    return heatmaps, mask


def random_keypoints(rng, frames, people, image_size):
    height, width = image_size
    points = np.zeros((frames, people, 70, 3), np.float32)
    centre = rng.uniform(0.2, 0.8, (frames, people, 1, 2)) * (width, height)
    points[..., :2] = centre + rng.normal(0, 0.1 * min(image_size), (frames, people, 70, 2))
    points[..., 2] = rng.uniform(0.0, 1.0, (frames, people, 70))
    points[..., 2][rng.uniform(size=(frames, people, 70)) < 0.2] = 0.0
    return points


def single_point(index, x, y, conf=1.0, people=1):
    points = np.zeros((1, people, 70, 3), np.float32)
    points[0, 0, index] = (x, y, conf)
    return points


@pytest.mark.parametrize("norm", ["softmax", "l1"])
@pytest.mark.parametrize(
    "image_size, feature_grid, grid, sigma",
    [
        ((224, 224), (7, 7), 64, 5.0),
        ((120, 200), (4, 6), 64, 5.0),
        ((224, 224), (64, 64), 64, 5.0),
        ((224, 224), (1, 1), 64, 5.0),
        ((50, 80), (3, 5), 16, 2.5),
    ],
)
def test_matches_direct_loop(norm, image_size, feature_grid, grid, sigma):
    rng = np.random.default_rng(0)
    points = random_keypoints(rng, frames=3, people=2, image_size=image_size)
    points[1, 1] = 0.0  # one person absent in frame 1
    got, mask = keypoint_heatmaps(
        points, image_size, feature_grid, grid=grid, sigma=sigma, mouth_weight=0.5, norm=norm
    )
    want, want_mask = reference_heatmaps(points, image_size, feature_grid, grid, sigma, 0.5, norm)
    assert got.dtype == np.float32 and mask.dtype == np.float32
    assert got.shape == (3, *feature_grid) and mask.shape == (3,)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(mask, want_mask)


def test_matches_scalar_loop_small():
    """A fully scalar loop (no meshgrid) on a tiny grid, 8 x 8 -> 3 x 3."""
    points = single_point(10, 5.0, 9.0, 0.8)
    points[0, 0, 50] = (12.0, 3.0, 0.6)
    image_size, grid, sigma, h = (16, 16), 8, 1.5, 3
    full = np.zeros((grid, grid))
    for x, y, c, weight in [(5.0, 9.0, 0.8, 1.0), (12.0, 3.0, 0.6, 0.5)]:
        gx, gy = (x + 0.5) * grid / 16 - 0.5, (y + 0.5) * grid / 16 - 0.5
        for i in range(grid):
            for j in range(grid):
                full[i, j] += c * weight * np.exp(-((j - gx) ** 2 + (i - gy) ** 2) / (2 * sigma**2))
    down = np.zeros((h, h))
    for i in range(h):
        for k in range(h):
            for a in range(grid):
                for b in range(grid):
                    overlap_r = max(0.0, min((i + 1) * grid / h, a + 1) - max(i * grid / h, a))
                    overlap_c = max(0.0, min((k + 1) * grid / h, b + 1) - max(k * grid / h, b))
                    down[i, k] += full[a, b] * overlap_r * overlap_c / (grid / h) ** 2
    got, mask = keypoint_heatmaps(points, image_size, (h, h), grid=grid, sigma=sigma, norm="l1")
    np.testing.assert_allclose(got[0], down / down.sum(), atol=1e-7)
    assert mask.tolist() == [1.0]


@pytest.mark.parametrize("norm", ["softmax", "l1"])
def test_valid_frames_sum_to_one(norm):
    rng = np.random.default_rng(1)
    points = random_keypoints(rng, frames=8, people=3, image_size=(224, 224))
    heatmaps, mask = keypoint_heatmaps(points, (224, 224), (7, 7), norm=norm)
    assert mask.tolist() == [1.0] * 8
    np.testing.assert_allclose(heatmaps.sum(axis=(1, 2)), 1.0, atol=1e-6)
    assert (heatmaps >= 0).all()


def test_masking_frames_without_keypoints():
    rng = np.random.default_rng(2)
    points = random_keypoints(rng, frames=5, people=2, image_size=(224, 224))
    points[1] = 0.0  # no person
    points[2, ..., 2] = 0.0  # people, but every confidence 0
    points[3, ..., 2] = -1.0  # negative confidences
    points[4, ..., 2] = np.nan  # non-finite confidences
    for norm in ("softmax", "l1"):
        heatmaps, mask = keypoint_heatmaps(points, (224, 224), (7, 7), norm=norm)
        assert mask.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
        assert not heatmaps[1:].any()
        assert heatmaps[0].sum() == pytest.approx(1.0, abs=1e-6)


def test_no_people_at_all():
    heatmaps, mask = keypoint_heatmaps(np.zeros((4, 0, 70, 3)), (224, 224), (7, 7))
    assert heatmaps.shape == (4, 7, 7) and not heatmaps.any()
    assert mask.tolist() == [0.0] * 4
    heatmaps, mask = keypoint_heatmaps(np.zeros((0, 2, 70, 3)), (224, 224), (7, 7))
    assert heatmaps.shape == (0, 7, 7) and mask.shape == (0,)


def test_non_finite_coordinates_are_ignored():
    points = single_point(0, 100.0, 100.0)
    with_nan = points.copy()
    with_nan[0, 0, 1] = (np.nan, 5.0, 1.0)
    with_nan[0, 0, 2] = (5.0, np.inf, 1.0)
    np.testing.assert_array_equal(
        keypoint_heatmaps(with_nan, (224, 224), (7, 7))[0],
        keypoint_heatmaps(points, (224, 224), (7, 7))[0],
    )


def test_mouth_weighting():
    """A mouth point counts like a non-mouth point at `mouth_weight` times the confidence."""
    mouth = single_point(60, 50.0, 150.0, 0.8)
    mouth[0, 0, 30] = (160.0, 60.0, 1.0)
    plain = single_point(20, 50.0, 150.0, 0.8 * 0.5)
    plain[0, 0, 30] = (160.0, 60.0, 1.0)
    for norm in ("softmax", "l1"):
        a, _ = keypoint_heatmaps(mouth, (224, 224), (7, 7), norm=norm)
        b, _ = keypoint_heatmaps(plain, (224, 224), (7, 7), norm=norm)
        np.testing.assert_allclose(a, b, atol=1e-7)
    # With the weight at 1 the mouth point is as strong as the nose point.
    full, _ = keypoint_heatmaps(mouth, (224, 224), (7, 7), mouth_weight=1.0, norm="l1")
    half, _ = keypoint_heatmaps(mouth, (224, 224), (7, 7), norm="l1")
    assert full[0, 5, 1] > half[0, 5, 1]
    # A zero weight removes mouth points entirely: a mouth-only frame is masked.
    only_mouth = single_point(55, 50.0, 150.0)
    heatmaps, mask = keypoint_heatmaps(only_mouth, (224, 224), (7, 7), mouth_weight=0.0)
    assert mask.tolist() == [0.0] and not heatmaps.any()


def test_confidence_weighting():
    def two_points(c_a, c_b):
        points = single_point(0, 40.0, 40.0, c_a)
        points[0, 0, 1] = (183.0, 183.0, c_b)  # mirror image of (40, 40)
        return points

    l1 = {
        c: keypoint_heatmaps(two_points(*c), (224, 224), (7, 7), norm="l1")[0][0]
        for c in [(0.3, 0.6), (0.5, 1.0), (1.0, 1.0)]
    }
    # L1 is invariant to a common scale of the confidences, not to their ratio.
    np.testing.assert_allclose(l1[(0.3, 0.6)], l1[(0.5, 1.0)], atol=1e-7)
    assert l1[(0.5, 1.0)][0, 0] < l1[(1.0, 1.0)][0, 0]
    np.testing.assert_allclose(l1[(1.0, 1.0)][0, 0], l1[(1.0, 1.0)][6, 6], rtol=1e-6)
    # The softmax sees the unnormalised values: a weaker point gives a flatter map.
    soft_low = keypoint_heatmaps(single_point(0, 112.0, 112.0, 0.2), (224, 224), (7, 7))[0]
    soft_high = keypoint_heatmaps(single_point(0, 112.0, 112.0, 1.0), (224, 224), (7, 7))[0]
    assert soft_low.max() < soft_high.max()


def test_people_add_up():
    a = single_point(0, 40.0, 50.0, 0.9)
    b = single_point(5, 150.0, 170.0, 0.7)
    both = np.concatenate([a, b], axis=1)
    merged = a.copy()
    merged[0, 0, 5] = b[0, 0, 5]
    np.testing.assert_allclose(
        keypoint_heatmaps(both, (224, 224), (7, 7))[0],
        keypoint_heatmaps(merged, (224, 224), (7, 7))[0],
        atol=1e-7,
    )


def test_pixel_centre_convention_is_symmetric():
    """A point at the image centre, ((W - 1) / 2, (H - 1) / 2), gives a symmetric map."""
    for size in [(224, 224), (101, 150)]:
        point = single_point(0, (size[1] - 1) / 2, (size[0] - 1) / 2)
        heatmap = keypoint_heatmaps(point, size, (7, 7), norm="l1")[0][0]
        np.testing.assert_allclose(heatmap, heatmap[::-1, ::-1], atol=1e-7)
        np.testing.assert_allclose(heatmap, heatmap[::-1, :], atol=1e-7)
        assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (3, 3)


def test_list_variant_pads_people():
    rng = np.random.default_rng(3)
    frames = [
        random_keypoints(rng, 1, 2, (120, 160))[0],
        np.zeros((0, 70, 3), np.float32),
        random_keypoints(rng, 1, 1, (120, 160))[0],
    ]
    heatmaps, mask = keypoint_heatmaps_from_list(frames, (120, 160), (4, 5), norm="l1")
    want, want_mask = reference_heatmaps(
        [np.concatenate([f, np.zeros((2 - len(f), 70, 3))]) for f in frames],
        (120, 160),
        (4, 5),
        norm="l1",
    )
    np.testing.assert_allclose(heatmaps, want, atol=1e-6)
    assert mask.tolist() == want_mask.tolist() == [1.0, 0.0, 1.0]
    heatmaps, mask = keypoint_heatmaps_from_list([], (120, 160), (4, 5))
    assert heatmaps.shape == (0, 4, 5) and mask.shape == (0,)


def test_settings_come_from_data_config():
    rng = np.random.default_rng(4)
    points = random_keypoints(rng, 2, 1, (224, 224))
    config = DataConfig(heatmap_grid=32, heatmap_sigma=3.0, mouth_weight=0.25, heatmap_norm="l1")
    got = keypoint_heatmaps(points, (224, 224), (7, 7), config=config)[0]
    want = keypoint_heatmaps(
        points, (224, 224), (7, 7), grid=32, sigma=3.0, mouth_weight=0.25, norm="l1"
    )[0]
    np.testing.assert_array_equal(got, want)
    # Explicit arguments win over the config.
    softmax = keypoint_heatmaps(points, (224, 224), (7, 7), norm="softmax", config=config)[0]
    assert not np.allclose(softmax, got)
    # Defaults are DataConfig()'s.
    np.testing.assert_array_equal(
        keypoint_heatmaps(points, (224, 224), (7, 7))[0],
        keypoint_heatmaps(
            points, (224, 224), (7, 7), grid=64, sigma=5.0, mouth_weight=0.5, norm="softmax"
        )[0],
    )


def test_area_matrix():
    matrix = area_matrix(64, 7)
    assert matrix.shape == (7, 64)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    # Output cell 0 spans grid [0, 64/7): cells 0-8 fully, 2/7 of cell 9.
    np.testing.assert_allclose(matrix[0, :9], 7 / 64)
    np.testing.assert_allclose(matrix[0, 9], (64 / 7 - 9) * 7 / 64)
    assert not matrix[0, 10:].any()
    # Each grid cell is fully distributed: columns sum to h / G.
    np.testing.assert_allclose(matrix.sum(axis=0), 7 / 64)
    np.testing.assert_array_equal(area_matrix(8, 8), np.eye(8))
    assert area_matrix(64, 7) is matrix  # cached
    assert not matrix.flags.writeable


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"keypoints": np.zeros((2, 1, 68, 3))}, "shape"),
        ({"keypoints": np.zeros((1, 70, 3))}, "shape"),
        ({"norm": "l2"}, "norm"),
        ({"sigma": 0.0}, "sigma"),
        ({"grid": 0}, "grid"),
        ({"grid": 6.5}, "grid"),
        ({"mouth_weight": -0.5}, "mouth_weight"),
        ({"image_size": (224,)}, "image_size"),
        ({"image_size": (0, 224)}, "image_size"),
        ({"feature_grid": (7, 0)}, "feature_grid"),
        ({"feature_grid": (7.5, 7)}, "feature_grid"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"keypoints": np.zeros((2, 1, 70, 3)), "image_size": (224, 224), "feature_grid": (7, 7)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        keypoint_heatmaps(
            args.pop("keypoints"), args.pop("image_size"), args.pop("feature_grid"), **args
        )
