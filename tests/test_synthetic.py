"""Tests of the synthetic GIF generator (kavan_tf.synthetic)."""

from __future__ import annotations

import csv
import gzip
import json
import math
import pathlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageSequence

from kavan_tf import synthetic
from kavan_tf.config import LabelConfig
from kavan_tf.labels import EMOTIONS
from kavan_tf.synthetic import (
    SyntheticConfig,
    default_emotion_angles,
    generate_dataset,
    generate_example,
    read_config,
)

# Small and fast: labels and keypoint statistics do not need big frames.
DATASET = {"num_gifs": 40, "seed": 7, "votes_per_gif": 1.0, "keypoint_missing_gif_rate": 0.25}
TINY = {"frame_size": (32, 32), "num_frames": (2, 3), "clutter_shapes": 0, "moving_distractors": 1}


def _quadrant_category(vector: np.ndarray) -> np.ndarray:
    """Category id (default mapping) of the circumplex quadrant a vector points into."""
    angle = np.degrees(np.arctan2(vector[..., 1], vector[..., 0])) % 360
    # 0-90 pleasure-arousal (0), 90-180 misery-arousal (2), 180-270 misery-sleep (3),
    # 270-360 pleasure-sleep (1).
    return np.select([angle < 90, angle < 180, angle < 270], [0, 2, 3], 1)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    rank_a = np.argsort(np.argsort(a))
    rank_b = np.argsort(np.argsort(b))
    return float(np.corrcoef(rank_a, rank_b)[0, 1])


def _decode(path: pathlib.Path) -> tuple[list[np.ndarray], list[int]]:
    with Image.open(path) as image:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            frames.append(np.asarray(frame.convert("RGB")))
            durations.append(frame.info.get("duration", 0))
    return frames, durations


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """40 GIFs at the default frame size, with votes and some missing keypoints."""
    root = tmp_path_factory.mktemp("synthetic")
    config = SyntheticConfig(**DATASET)
    return generate_dataset(root, config)


# ----------------------------------------------------------------------------
# Config.
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [
        ("num_gifs", 0),
        ("seed", -1),
        ("frame_size", (16, 96)),
        ("num_frames", 1),
        ("num_frames", (8, 4)),
        ("face_scale", (0.2, 0.1)),
        ("label_mode", "start"),
        ("category_weights", (1.0, 1.0)),
        ("category_weights", (0.0, 0.0, 0.0, 0.0)),
        ("keypoint_drop_rate", 1.5),
        ("keypoint_missing_gif_rate", -0.1),
        ("supersample", 8),
        ("palette_colors", 256),
        ("judge_noise", 0.0),
        ("emotion_angles", (0.0, 90.0)),
        ("moving_distractors", 0),
    ],
)
def test_config_rejects_bad_values(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"synthetic.{name}"):
        SyntheticConfig(**{name: value})


def test_config_needs_angles_for_unknown_categories() -> None:
    labels = LabelConfig(category_names=("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="emotion_angles"):
        SyntheticConfig(labels=labels)
    SyntheticConfig(labels=labels, emotion_angles=tuple(range(17)))


def test_config_dict_round_trip(dataset: pathlib.Path) -> None:
    config = SyntheticConfig(num_frames=5, keypoint_jitter=1.5, emotion_angles=tuple(range(17)))
    assert SyntheticConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert read_config(dataset.parent) == SyntheticConfig(**DATASET)
    with pytest.raises(ValueError, match="Unknown"):
        SyntheticConfig.from_dict({"num_gif": 3})


def test_generate_example_rejects_bad_index() -> None:
    with pytest.raises(ValueError, match="index=-1"):
        generate_example(SyntheticConfig(), -1)


# ----------------------------------------------------------------------------
# Labels.
# ----------------------------------------------------------------------------


def test_default_angles_put_emotions_in_their_quadrant() -> None:
    labels = LabelConfig()
    angles = default_emotion_angles(labels)
    unit = np.stack([np.cos(np.radians(angles)), np.sin(np.radians(angles))], axis=1)
    np.testing.assert_array_equal(_quadrant_category(unit), labels.emotion_to_category())
    # The nearest emotion to any angle lies in that angle's quadrant.
    grid = np.arange(0.5, 360.0, 1.0)
    nearest = np.argmax(np.cos(np.radians(grid[:, None] - angles[None, :])), axis=1)
    direction = np.stack([np.cos(np.radians(grid)), np.sin(np.radians(grid))], axis=1)
    np.testing.assert_array_equal(
        labels.emotion_to_category()[nearest], _quadrant_category(direction)
    )


def test_labels_cover_categories_and_follow_the_expression_change() -> None:
    config = SyntheticConfig(**TINY)
    labels = LabelConfig()
    examples = [generate_example(config, i) for i in range(200)]
    intensities = np.stack([e.intensities for e in examples])
    categories = np.array([e.category for e in examples])
    assert intensities.min() >= -1.0 and intensities.max() <= 1.0
    np.testing.assert_array_equal(labels.category_of(intensities), categories)
    shares = np.bincount(categories, minlength=4) / len(categories)
    assert shares.min() > 0.15, shares
    change = np.stack([e.valence_arousal[-1] - e.valence_arousal[0] for e in examples])
    # The direction of the change decides the category; one frame does not.
    np.testing.assert_array_equal(_quadrant_category(change), categories)
    directions = np.degrees(np.arctan2(change[:, 1], change[:, 0])) % 360
    error = (directions - np.array([e.angle for e in examples]) + 180) % 360 - 180
    np.testing.assert_allclose(error, 0.0, atol=1e-3)
    for frame in (0, -1):
        single = _quadrant_category(np.stack([e.valence_arousal[frame] for e in examples]))
        assert (single == categories).mean() < 0.65


def test_whole_frame_colour_is_a_weak_cue() -> None:
    config = SyntheticConfig(frame_size=(64, 64), num_frames=4)
    features, categories = [], []
    for index in range(200):
        example = generate_example(config, index)
        first, last = (example.frames[t].reshape(-1, 3).mean(axis=0) for t in (0, -1))
        features.append(np.concatenate([first, last, last - first]))
        categories.append(example.category)
    x = np.asarray(features)
    x = np.c_[(x - x.mean(0)) / x.std(0), np.ones(len(x))]
    y = np.eye(4)[categories]
    weights = np.linalg.solve(x[:150].T @ x[:150] + np.eye(x.shape[1]), x[:150].T @ y[:150])
    accuracy = (np.argmax(x[150:] @ weights, axis=1) == np.argmax(y[150:], axis=1)).mean()
    assert accuracy < 0.45  # chance is about 0.25


def test_label_mode_end_and_category_weights() -> None:
    config = SyntheticConfig(label_mode="end", category_weights=(0.0, 0.0, 1.0, 0.0), **TINY)
    for i in range(20):
        example = generate_example(config, i)
        assert example.category == 2
        assert _quadrant_category(example.valence_arousal[-1]) == 2


# ----------------------------------------------------------------------------
# Files.
# ----------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: pathlib.Path) -> None:
    config = SyntheticConfig(num_gifs=6, votes_per_gif=2.0, keypoint_jitter=0.5, **TINY)
    trees = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        root = tmp_path / name
        generate_dataset(root, SyntheticConfig.from_dict({**config.to_dict(), "seed": seed}))
        trees.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    assert trees[0] == trees[1]
    assert pathlib.Path("votes.csv.gz") in trees[0]
    differing = [p for p in trees[0] if p.suffix == ".gif" and trees[0][p] != trees[2][p]]
    assert len(differing) == 6


def test_manifest_columns_and_scores(dataset: pathlib.Path) -> None:
    frame = pd.read_csv(dataset, keep_default_na=False)
    assert list(frame.columns) == ["gif_id", "path", *EMOTIONS, "keypoints", "split"]
    assert len(frame) == 40
    assert set(frame["split"]) == {"train", "test"}
    assert (frame["split"] == "test").sum() == 8
    config = read_config(dataset.parent)
    for row in frame.head(3).itertuples(index=False):
        example = generate_example(config, int(row.gif_id[3:]))
        scores = np.array([getattr(row, e) for e in EMOTIONS])
        np.testing.assert_allclose(scores, example.scores, atol=1e-4)
        assert (dataset.parent / row.path).is_file()
        assert (dataset.parent / row.keypoints).is_file()
    scores = frame[list(EMOTIONS)].to_numpy()
    assert scores.min() >= 0.0 and scores.max() <= 50.0


def test_gifs_decode_to_the_generated_frames(dataset: pathlib.Path) -> None:
    config = read_config(dataset.parent)
    encodings = set()
    for index in range(12):
        example = generate_example(config, index)
        encodings.add(example.encoding)
        path = dataset.parent / "gifs" / f"{example.gif_id}.gif"
        frames, durations = _decode(path)
        low, high = config.num_frames
        assert low <= len(frames) <= high
        assert len(frames) == len(example.frames)
        assert frames[0].shape == (config.frame_size[1], config.frame_size[0], 3)
        for decoded, expected in zip(frames, example.frames, strict=True):
            np.testing.assert_array_equal(decoded, expected)
        assert durations == list(example.durations_ms)
    assert encodings == set(synthetic.ENCODINGS)


def _gif_frames(data: bytes) -> list[dict[str, object]]:
    """Walks a GIF's blocks: per frame, its box, local palette flag and GCE fields."""
    assert data[:6] in (b"GIF87a", b"GIF89a")
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, control = [], {}

    def skip_sub_blocks(pos: int) -> int:
        while data[pos]:
            pos += data[pos] + 1
        return pos + 1

    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            if data[pos + 1] == 0xF9:
                packed = data[pos + 3]
                control = {
                    "disposal": (packed >> 2) & 7,
                    "transparent": bool(packed & 1),
                    "delay": int.from_bytes(data[pos + 4 : pos + 6], "little") * 10,
                }
            pos = skip_sub_blocks(pos + 2)
        elif data[pos] == 0x2C:
            box = [int.from_bytes(data[pos + i : pos + i + 2], "little") for i in (1, 3, 5, 7)]
            packed = data[pos + 9]
            frames.append({"box": tuple(box), "local_palette": bool(packed & 0x80), **control})
            control = {}
            pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)
        else:
            raise AssertionError(f"unexpected block {data[pos]:#x} at {pos}")
    return frames


def test_gif_encodings_vary(dataset: pathlib.Path) -> None:
    config = read_config(dataset.parent)
    width, height = config.frame_size
    seen = {}
    for index in range(config.num_gifs):
        example = generate_example(config, index)
        frames = _gif_frames((dataset.parent / "gifs" / f"{example.gif_id}.gif").read_bytes())
        assert len(frames) == len(example.frames)
        assert any(f["local_palette"] for f in frames[1:])  # one palette per frame
        assert [f.get("delay", 0) for f in frames] == list(example.durations_ms)
        seen.setdefault(example.encoding, frames)
    assert set(seen) == set(synthetic.ENCODINGS)
    delta = seen["delta"][1:]
    assert any(f["transparent"] for f in delta)  # unchanged pixels are transparent
    full = (0, 0, width, height)
    assert all(f["disposal"] == 2 and f["box"] == full for f in seen["restore"])
    assert all(f["disposal"] == 1 and not f["transparent"] for f in seen["keep"])
    assert any(f["box"] != full for f in seen["keep"][1:] + delta)  # partial frames


def test_keypoint_files_match_the_format(dataset: pathlib.Path) -> None:
    config = read_config(dataset.parent)
    missing_gifs = 0
    for index in range(config.num_gifs):
        example = generate_example(config, index)
        path = dataset.parent / "keypoints" / f"{example.gif_id}.json"
        document = json.loads(path.read_text())
        assert set(document) == {"format", "source", "frame_size", "frames"}
        assert document["format"] == "kavan-keypoints-v1"
        assert document["source"] == "synthetic"
        assert document["frame_size"] == list(config.frame_size)
        assert len(document["frames"]) == len(example.frames)
        people = [len(f["people"]) for f in document["frames"]]
        missing_gifs += not any(people)
        for entry, observed in zip(document["frames"], example.observed_keypoints, strict=True):
            if observed is None:
                assert entry == {"people": []}
                continue
            values = entry["people"][0]["face_keypoints_2d"]
            assert len(values) == 210
            np.testing.assert_allclose(np.reshape(values, (70, 3)), observed, atol=0.006)
    assert 0 < missing_gifs < config.num_gifs / 2  # keypoint_missing_gif_rate = 0.25


def test_real_loaders_read_the_dataset(dataset: pathlib.Path) -> None:
    from kavan_tf import keypoints
    from kavan_tf.data import manifest
    frame = manifest.read_manifest(dataset)
    assert len(frame) == 40
    gif = keypoints.load_keypoints(frame["keypoints"].iloc[0])
    example = generate_example(read_config(dataset.parent), 0)
    assert gif.num_frames == len(example.frames)
    assert tuple(gif.frame_size) == read_config(dataset.parent).frame_size


def test_project_decoder_reads_the_gifs(dataset: pathlib.Path) -> None:
    from kavan_tf.data import gif
    config = read_config(dataset.parent)
    for index in range(12):
        example = generate_example(config, index)
        decoded = gif.decode_gif(dataset.parent / "gifs" / f"{example.gif_id}.gif")
        np.testing.assert_array_equal(decoded.frames, example.frames)
        # A 0 delay shows for 100 ms (docs/decisions.md#gif-decoding-and-sampling).
        assert list(decoded.delays_ms) == [d or 100 for d in example.durations_ms]
        assert not decoded.warnings


# ----------------------------------------------------------------------------
# Keypoints.
# ----------------------------------------------------------------------------


def test_keypoints_lie_on_the_drawn_face() -> None:
    config = SyntheticConfig()
    pupil_errors, mouth_errors = [], []
    for index in range(10):
        example = generate_example(config, index)
        for t, (points, box) in enumerate(zip(example.keypoints, example.face_boxes, strict=True)):
            xy = points[:, :2]
            assert np.all(xy >= box[:2]) and np.all(xy <= box[2:])
            cx, cy, half_width, half_height, roll = example.head_ellipses[t]
            c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
            dx, dy = xy[:, 0] - cx, xy[:, 1] - cy
            u, v = (c * dx + s * dy) / half_width, (-s * dx + c * dy) / half_height
            assert np.all(u**2 + v**2 < 1.0)  # inside the head outline
            for k in (68, 69):
                x, y = np.round(xy[k]).astype(int)
                colour = example.frames[t, y, x].astype(int)
                pupil_errors.append(np.abs(colour - synthetic.render.PUPIL_COLOUR).max())
            if xy[66, 1] - xy[62, 1] >= 2.5:  # Open mouth: the inside shows.
                x, y = np.round((xy[62] + xy[66]) / 2).astype(int)
                colour = example.frames[t, y, x].astype(int)
                mouth_errors.append(np.abs(colour - synthetic.render.MOUTH_INSIDE_COLOUR).max())
            assert np.all(points[:, 2] == 1.0)
    assert max(pupil_errors) <= 40
    assert len(mouth_errors) > 10 and max(mouth_errors) <= 40


def test_keypoint_order_follows_ibug() -> None:
    example = generate_example(SyntheticConfig(), 1)
    points = example.keypoints[0, :, :2]
    # Roll is at most 16 degrees, so image-left/right and up/down orders hold.
    assert points[0, 0] < points[8, 0] < points[16, 0]  # jaw: left ear, chin, right ear
    assert points[8, 1] > points[30, 1] > points[27, 1]  # chin below nose tip below bridge
    assert points[36, 0] < points[39, 0] < points[42, 0] < points[45, 0]  # eye corners
    assert points[68, 0] < points[69, 0]  # right pupil on the image's left
    assert points[21, 0] < points[22, 0]  # inner brow ends
    assert points[48, 0] < points[54, 0] and points[60, 0] < points[64, 0]  # mouth corners
    assert points[51, 1] < points[57, 1]  # upper lip above lower lip


def test_keypoint_options_do_what_they_say() -> None:
    base = SyntheticConfig(keypoint_missing_frame_rate=0.0, keypoint_missing_gif_rate=0.0, **TINY)
    exact = [generate_example(base, i) for i in range(60)]
    for example in exact:
        for points, observed in zip(example.keypoints, example.observed_keypoints, strict=True):
            np.testing.assert_array_equal(points, observed)

    def examples(**options: float) -> list[synthetic.SyntheticExample]:
        config = SyntheticConfig.from_dict({**base.to_dict(), **options})
        return [generate_example(config, i) for i in range(60)]

    noisy = examples(
        keypoint_jitter=2.0,
        keypoint_drop_rate=0.3,
        keypoint_low_confidence_rate=0.25,
        keypoint_missing_frame_rate=0.4,
    )
    kept, dropped, low, missing, errors = 0, 0, 0, 0, []
    for clean, example in zip(exact, noisy, strict=True):
        np.testing.assert_array_equal(clean.frames, example.frames)  # pixels untouched
        for points, observed in zip(clean.keypoints, example.observed_keypoints, strict=True):
            if observed is None:
                missing += 1
                continue
            gone = observed[:, 2] == 0
            dropped += gone.sum()
            kept += (~gone).sum()
            assert np.all(observed[gone] == 0)
            confidence = observed[~gone, 2]
            assert np.all(confidence == confidence[0])
            low += bool(confidence[0] < 1.0)
            assert confidence[0] == 1.0 or 0.05 <= confidence[0] <= 0.3
            errors.append(observed[~gone, :2] - points[~gone, :2])
    frames = sum(len(e.keypoints) for e in exact)
    assert abs(missing / frames - 0.4) < 0.1
    assert abs(dropped / (dropped + kept) - 0.3) < 0.03
    assert abs(low / (frames - missing) - 0.25) < 0.1
    assert abs(np.concatenate(errors).std() - 2.0) < 0.1

    for example in examples(keypoint_missing_gif_rate=1.0):
        assert all(observed is None for observed in example.observed_keypoints)
    for example in examples(keypoint_drop_rate=1.0):
        assert all(np.all(observed == 0) for observed in example.observed_keypoints)


# ----------------------------------------------------------------------------
# Votes.
# ----------------------------------------------------------------------------


def test_votes_file_format(tmp_path: pathlib.Path) -> None:
    config = SyntheticConfig(num_gifs=10, votes_per_gif=4.0, votes_empty_id_rate=0.1, **TINY)
    generate_dataset(tmp_path, config)
    with gzip.open(tmp_path / "votes.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["metric", "left", "right", "choice"]
    votes = rows[1:]
    assert len(votes) == 10 * 17 * 4 // 2
    ids = {f"syn{i:05d}" for i in range(10)}
    assert {v[0] for v in votes} <= set(EMOTIONS)
    assert {v[3] for v in votes} == {"left", "right", "neither"}
    empty = [v for v in votes if not v[1] or not v[2]]
    assert 0 < len(empty) < 0.2 * len(votes)
    full = [v for v in votes if v[1] and v[2]]
    assert all(v[1] in ids and v[2] in ids and v[1] != v[2] for v in full)


def test_votes_round_trip_through_trueskill(tmp_path: pathlib.Path) -> None:
    from kavan_tf.data import gifgif
    config = SyntheticConfig(num_gifs=60, votes_per_gif=30.0, votes_empty_id_rate=0.01, **TINY)
    manifest = generate_dataset(tmp_path, config)
    truth = pd.read_csv(manifest).set_index("gif_id")[list(EMOTIONS)]

    report = gifgif.votes_to_manifest(
        tmp_path / "votes.csv.gz",
        tmp_path / "from_votes.csv",
        images_dir=tmp_path / "gifs",
        drop_missing=True,
        progress=False,
    )
    assert report.skipped["empty_id"] > 0
    recovered = pd.read_csv(tmp_path / "from_votes.csv").set_index("gif_id")
    assert sorted(recovered.index) == sorted(truth.index)
    recovered = recovered.loc[truth.index, list(EMOTIONS)]
    rho = [_spearman(truth[e].to_numpy(), recovered[e].to_numpy()) for e in EMOTIONS]
    assert np.mean(rho) > 0.85 and min(rho) > 0.75, rho


def test_segment_windows() -> None:
    assert [synthetic.segment_window(8, p) for p in synthetic.SEGMENT_POSITIONS] == [
        (0, 4), (2, 6), (4, 8)]
    assert [synthetic.segment_window(9, p) for p in synthetic.SEGMENT_POSITIONS] == [
        (0, 4), (2, 6), (5, 9)]
    assert synthetic.segment_window(2, "late") == (1, 2)
    assert [synthetic.segment_window(8, p, 0.75) for p in synthetic.SEGMENT_POSITIONS] == [
        (0, 6), (1, 7), (2, 8)]
    with pytest.raises(ValueError, match="segment_fraction"):
        SyntheticConfig(segment_fraction=1.0)


def test_label_mode_segment_ground_truth() -> None:
    config = SyntheticConfig(label_mode="segment", **{**TINY, "num_frames": (8, 12)})
    angles = config.angles()
    seen = set()
    for i in range(30):
        example = generate_example(config, i)
        seen.add(example.position)
        first, stop = synthetic.segment_window(len(example.frames), example.position)
        path = example.valence_arousal
        # Neutral outside the window, one expression inside it ...
        outside = np.r_[path[:first], path[stop:]]
        np.testing.assert_array_equal(outside, 0.0)
        expression = path[first]
        np.testing.assert_array_equal(path[first:stop] - expression, 0.0)
        # ... whose direction is the label angle and whose distance sets the strength.
        direction = math.degrees(math.atan2(expression[1], expression[0])) % 360
        assert direction == pytest.approx(example.angle % 360, abs=1e-3)
        strength = 0.95 * float(np.linalg.norm(expression))
        clean = synthetic.intensity_profile(example.angle, strength, angles,
                                            config.intensity_sharpness)
        assert np.abs(example.intensities - clean).max() < 5 * config.intensity_noise + 1e-6
        assert example.category == _quadrant_category(expression)
    assert seen == set(synthetic.SEGMENT_POSITIONS)
    assert generate_example(SyntheticConfig(**TINY), 0).position is None


def test_votes_spread_makes_sigma_vary_within_a_gif(tmp_path: pathlib.Path) -> None:
    from kavan_tf.data import gifgif

    spreads = {}
    for spread in (0.0, 1.0):
        root = tmp_path / f"spread{spread}"
        config = SyntheticConfig(num_gifs=30, votes_per_gif=6.0, votes_spread=spread, **TINY)
        generate_dataset(root, config)
        gifgif.votes_to_manifest(root / "votes.csv.gz", root / "voted.csv", progress=False)
        voted = pd.read_csv(root / "voted.csv")
        sigma = voted[[f"{e}_sigma" for e in EMOTIONS]].to_numpy()
        spreads[spread] = float(np.mean(sigma.std(axis=1)))
        with gzip.open(root / "votes.csv.gz", "rt") as f:
            assert sum(1 for _ in f) - 1 == 30 * 17 * 6 // 2  # the same vote budget
    assert spreads[1.0] > 2 * spreads[0.0]
