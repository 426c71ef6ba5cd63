"""TSN frame sampling, resizing and the keypoint transform."""

from __future__ import annotations

import numpy as np
import pytest

from kavan_tf.config import DataConfig
from kavan_tf.data.gif import decode_gif
from kavan_tf.data.sampling import (
    ResizeTransform,
    resize_frames,
    resize_transform,
    sample_indices,
    transform_keypoints,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- sampling by index


@pytest.mark.parametrize(
    "n, t, expected",
    [
        (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),  # N = T: every frame
        (16, 8, [1, 3, 5, 7, 9, 11, 13, 15]),  # middle of [2k, 2k + 2)
        (24, 8, [1, 4, 7, 10, 13, 16, 19, 22]),  # middle of [3k, 3k + 3)
        (10, 4, [1, 3, 6, 8]),  # middles 1.25, 3.75, 6.25, 8.75
        (9, 8, [0, 1, 2, 3, 5, 6, 7, 8]),  # middles (2k + 1) 9 / 16
        (3, 8, [0, 0, 0, 1, 1, 2, 2, 2]),  # N < T: repeated evenly
        (5, 8, [0, 0, 1, 2, 2, 3, 4, 4]),
        (1, 8, [0] * 8),
        (7, 1, [3]),
        (1000, 3, [166, 500, 833]),
    ],
)
def test_index_sampling_in_evaluation(n, t, expected):
    indices = sample_indices(n, t, training=False)
    np.testing.assert_array_equal(indices, expected)
    assert indices.dtype == np.int64


@pytest.mark.parametrize("n, t", [(16, 8), (10, 4), (9, 8), (100, 8), (8, 8), (3, 8), (7, 8)])
def test_index_sampling_in_training_draws_from_each_segment(n, t):
    # Segment k is [k n / t, (k + 1) n / t): frames floor(k n / t) .. ceil((k + 1) n / t) - 1.
    k = np.arange(t)
    low = k * n // t
    high = -((-(k + 1) * n) // t) - 1
    seen = [set() for _ in range(t)]
    generator = rng(1)
    for _ in range(400):
        indices = sample_indices(n, t, training=True, rng=generator)
        assert indices.dtype == np.int64
        assert ((indices >= low) & (indices <= high)).all(), indices
        assert (np.diff(indices) >= 0).all()
        for segment, index in enumerate(indices):
            seen[segment].add(int(index))
    # Every frame a segment overlaps gets drawn.
    assert all(seen[i] == set(range(low[i], high[i] + 1)) for i in range(t))


def test_index_sampling_with_as_many_frames_as_segments_is_the_identity():
    for training in (False, True):
        np.testing.assert_array_equal(
            sample_indices(8, 8, training=training, rng=rng()), np.arange(8)
        )


def test_training_sampling_is_reproducible_from_the_seed():
    first = [sample_indices(50, 8, training=True, rng=g) for g in [rng(7)] for _ in range(3)]
    again = [sample_indices(50, 8, training=True, rng=g) for g in [rng(7)] for _ in range(3)]
    np.testing.assert_array_equal(first, again)
    assert not all(np.array_equal(first[0], x) for x in first[1:])  # draws differ between calls
    # Without a generator it still works (unseeded).
    assert sample_indices(50, 8, training=True).shape == (8,)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_fewer_frames_than_segments_use_every_frame_evenly_in_evaluation(n):
    indices = sample_indices(n, 8, training=False)
    assert set(indices.tolist()) == set(range(n))
    assert (np.diff(indices) >= 0).all()
    counts = np.bincount(indices)
    assert counts.max() - counts.min() <= 1


# --------------------------------------------------------------------------- sampling by time


def test_time_sampling_in_evaluation():
    # 800 ms in 8 segments: middles at 50, 150, ..., 750 ms.
    delays = np.array([100, 100, 100, 500])
    indices = sample_indices(4, 8, training=False, by="time", delays_ms=delays)
    np.testing.assert_array_equal(indices, [0, 1, 2, 3, 3, 3, 3, 3])
    # A long last frame wins both halves.
    indices = sample_indices(5, 2, training=False, by="time", delays_ms=[10, 10, 10, 10, 1000])
    np.testing.assert_array_equal(indices, [4, 4])
    # Float delays.
    indices = sample_indices(3, 3, training=False, by="time", delays_ms=[0.6, 0.2, 0.2])
    np.testing.assert_array_equal(indices, [0, 0, 2])  # middles 1/6, 1/2, 5/6
    # Equal delays give the index sampling, exactly (middles on frame starts included).
    for n, t in [(16, 8), (24, 8), (8, 8), (4, 2), (9, 8), (3, 8), (10, 6), (37, 7)]:
        np.testing.assert_array_equal(
            sample_indices(n, t, training=False, by="time", delays_ms=np.full(n, 40)),
            sample_indices(n, t, training=False),
            err_msg=f"n={n} t={t}",
        )


def test_time_sampling_in_training_picks_the_frame_shown_in_each_segment():
    delays = np.array([100, 300, 50, 50, 500, 200])  # starts 0 100 400 450 500 1000, end 1200
    generator = rng(2)
    seen = [set() for _ in range(4)]  # segments of 300 ms
    for _ in range(500):
        indices = sample_indices(6, 4, training=True, rng=generator, by="time", delays_ms=delays)
        assert (np.diff(indices) >= 0).all()
        for k, i in enumerate(indices):
            seen[k].add(int(i))
    # Frames on screen during [0,300) [300,600) [600,900) [900,1200).
    assert seen == [{0, 1}, {1, 2, 3, 4}, {4}, {4, 5}]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_frames": 0, "num_samples": 8}, "num_frames"),
        ({"num_frames": 5, "num_samples": 0}, "num_samples"),
        ({"num_frames": True, "num_samples": 8}, "num_frames"),
        ({"num_frames": 2.0, "num_samples": 8}, "num_frames"),
        ({"num_frames": 5, "num_samples": 8, "by": "random"}, "by"),
        ({"num_frames": 5, "num_samples": 8, "by": "time"}, "delays_ms"),
        ({"num_frames": 2, "num_samples": 8, "by": "time", "delays_ms": [10]}, "delays_ms"),
        ({"num_frames": 2, "num_samples": 8, "by": "time", "delays_ms": [10, 0]}, "delays_ms"),
        ({"num_frames": 1, "num_samples": 8, "by": "time", "delays_ms": [np.nan]}, "delays_ms"),
    ],
)
def test_sampling_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_indices(**kwargs, training=False)


# --------------------------------------------------------------------------- resizing


def dot_image(height: int, width: int, x: int, y: int, radius: int = 2) -> np.ndarray:
    """White frame with a red square of side ``2 radius + 1`` centred on pixel (x, y)."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    image[y - radius : y + radius + 1, x - radius : x + radius + 1] = (255, 0, 0)
    return image


def red_centroid(image: np.ndarray) -> tuple[float, float]:
    redness = (255.0 - image[..., 1].astype(np.float64))  # green drops where red is
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return float((xs * redness).sum() / redness.sum()), float((ys * redness).sum() / redness.sum())


@pytest.mark.parametrize("mode", ["stretch", "letterbox"])
@pytest.mark.parametrize(
    "shape, size, point",
    [
        ((60, 120), (64, 64), (90, 20)),  # wide, downscaled
        ((120, 50), (64, 64), (10, 100)),  # tall
        ((40, 30), (224, 224), (20, 8)),  # upscaled
        ((50, 50), (32, 48), (25, 30)),
    ],
)
def test_keypoint_on_a_dot_stays_on_the_dot(mode, shape, size, point):
    frame = dot_image(*shape, *point, radius=3)
    resized, transform = resize_frames(frame[None], size, mode=mode, background=(0, 0, 255))
    assert resized.shape == (1, *size, 3) and resized.dtype == np.uint8
    keypoints = np.array([[point[0], point[1], 0.9]], dtype=np.float32)
    x, y, c = transform_keypoints(keypoints, transform)[0]
    image = resized[0].copy()
    image[(image == (0, 0, 255)).all(-1)] = 255  # padding is not red
    cx, cy = red_centroid(image)
    # Within 0.1 px; a half-pixel convention slip would be off by 0.2-2.3 px here.
    assert abs(x - cx) < 0.1 and abs(y - cy) < 0.1, (x, y, cx, cy)
    assert c == pytest.approx(0.9)
    # The point lands on a red pixel.
    assert tuple(resized[0, int(round(y)), int(round(x))]) != (255, 255, 255)


def test_stretch_transform():
    frames = np.zeros((2, 3, 10, 20, 3), dtype=np.uint8)
    resized, transform = resize_frames(frames, (5, 40))
    assert resized.shape == (2, 3, 5, 40, 3)
    assert transform == ResizeTransform(scale_x=2.0, scale_y=0.5, offset_x=0.5, offset_y=-0.25)
    # Pixel-area corners map to corners: -0.5 -> -0.5 and W - 0.5 -> W' - 0.5.
    corners = np.array([[-0.5, -0.5, 1.0], [19.5, 9.5, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(transform_keypoints(corners, transform)[:, :2],
                               [[-0.5, -0.5], [39.5, 4.5]])


def test_letterbox_pads_with_background_and_keeps_aspect():
    frames = np.full((1, 100, 200, 3), 7, dtype=np.uint8)
    resized, transform = resize_frames(frames, (224, 224), mode="letterbox",
                                       background=(10, 20, 30))
    assert transform.scale_x == transform.scale_y == pytest.approx(1.12)
    assert transform.offset_y == pytest.approx(56 + 0.5 * 1.12 - 0.5)
    assert (resized[0, :56] == (10, 20, 30)).all() and (resized[0, 168:] == (10, 20, 30)).all()
    assert (resized[0, 56:168] == 7).all()


def test_same_size_is_the_identity():
    frames = rng().integers(0, 256, (3, 12, 9, 3)).astype(np.uint8)
    for mode in ("stretch", "letterbox"):
        resized, transform = resize_frames(frames, (12, 9), mode=mode)
        np.testing.assert_array_equal(resized, frames)
        assert transform == ResizeTransform(1.0, 1.0, 0.0, 0.0)


def test_missing_keypoints_are_left_untouched():
    transform = ResizeTransform(scale_x=2.0, scale_y=3.0, offset_x=1.0, offset_y=-1.0)
    points = rng().uniform(0, 50, (2, 4, 70, 3)).astype(np.float32)
    points[..., 2] = np.where(rng(1).random((2, 4, 70)) < 0.3, 0.0, points[..., 2])
    points[0, 0, 5, 2] = -1.0
    original = points.copy()
    moved = transform_keypoints(points, transform)
    np.testing.assert_array_equal(points, original)  # input not modified
    assert moved.shape == (2, 4, 70, 3) and moved.dtype == np.float32
    missing = original[..., 2] <= 0
    np.testing.assert_array_equal(moved[missing], original[missing])
    np.testing.assert_allclose(moved[~missing][:, 0], original[~missing][:, 0] * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(moved[~missing][:, 1], original[~missing][:, 1] * 3 - 1, rtol=1e-6)
    np.testing.assert_array_equal(moved[..., 2], original[..., 2])
    np.testing.assert_array_equal(transform.apply(points), moved)


@pytest.mark.parametrize(
    "frames, size, mode, match",
    [
        (np.zeros((4, 4, 3), np.float32), (2, 2), "stretch", "uint8"),
        (np.zeros((4, 4), np.uint8), (2, 2), "stretch", "frames"),
        (np.zeros((4, 4, 4), np.uint8), (2, 2), "stretch", "frames"),
        (np.zeros((0, 4, 3), np.uint8), (2, 2), "stretch", "empty"),
        (np.zeros((4, 4, 3), np.uint8), (2, 0), "stretch", "size"),
        (np.zeros((4, 4, 3), np.uint8), (2,), "stretch", "size"),
        (np.zeros((4, 4, 3), np.uint8), (2.5, 2), "stretch", "size"),
        (np.zeros((4, 4, 3), np.uint8), (2, 2), "crop", "mode"),
    ],
)
def test_resize_rejects_bad_arguments(frames, size, mode, match):
    with pytest.raises(ValueError, match=match):
        resize_frames(frames, size, mode=mode)


def test_resize_transform_box():
    transform, box = resize_transform((100, 200), (224, 224), "letterbox")
    assert box == (0, 56, 224, 112)
    transform, box = resize_transform((300, 100), (224, 224), "letterbox")
    assert box == (74, 0, 75, 224)
    assert transform.scale_x == pytest.approx(0.75)
    assert transform.scale_y == pytest.approx(224 / 300)
    assert resize_transform((3, 4), (6, 8))[1] == (0, 0, 8, 6)
    with pytest.raises(ValueError, match="source_size"):
        resize_transform((0, 4), (6, 8))


def test_transform_keypoints_rejects_bad_shape():
    with pytest.raises(ValueError, match="keypoints"):
        transform_keypoints(np.zeros((70, 2)), ResizeTransform(1, 1, 0, 0))


# --------------------------------------------------------------------------- decode, sample, resize


def test_sampling_and_resizing_a_corpus_gif(testdata_dir):
    gif = decode_gif(testdata_dir / "gifs" / "gif-test-suite" / "animated_loop_variable_delay.gif")
    indices = sample_indices(gif.num_frames, 8, training=False)
    np.testing.assert_array_equal(indices, [0, 0, 1, 1, 2, 2, 3, 3])
    frames, transform = resize_frames(gif.frames[indices], (32, 48))
    assert frames.shape == (8, 32, 48, 3)
    np.testing.assert_array_equal(frames[0], frames[1])
    # By time the 100 ms third frame is on screen for 1/31 of the loop: skipped.
    config = DataConfig(sampling="time", resize="letterbox")
    indices = sample_indices(gif.num_frames, 8, training=False, delays_ms=gif.delays_ms,
                             by=config.sampling)
    assert 2 not in indices.tolist()
    frames, transform = resize_frames(gif.frames[indices], (32, 32), mode=config.resize)
    assert transform.scale_x == transform.scale_y == pytest.approx(0.32)
