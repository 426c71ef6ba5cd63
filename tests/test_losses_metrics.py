"""Losses and metrics against brute-force numpy (docs/decisions.md#losses-and-metrics)."""

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from kavan_tf.losses import (
    HingeRankingLoss,
    IntensityLoss,
    KeypointHeatmapLoss,
    LogisticRankingLoss,
    NormalizedMSE,
    gif_nmse,
    keypoint_loss,
    rank_error_count,
)
from kavan_tf.metrics import EmotionNMSE, GifNMSE, RankError, SpearmanPerGif, average_ranks


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    y_true = rng.uniform(-1, 1, size=(5, 17)).astype("float32")
    y_true[0, :3] = y_true[0, 3]  # ties in the target
    y_pred = rng.uniform(-1, 1, size=(5, 17)).astype("float32")
    y_pred[1, 5] = y_pred[1, 6]  # a tie in the prediction
    return y_true, y_pred


def test_gif_nmse_matches_numpy(batch):
    y_true, y_pred = batch
    expected = ((y_pred - y_true) ** 2).mean(axis=1) / (y_true.var(axis=1) + 1e-3)
    np.testing.assert_allclose(gif_nmse(y_true, y_pred, 1e-3), expected, rtol=1e-5)
    np.testing.assert_allclose(NormalizedMSE()(y_true, y_pred), expected.mean(), rtol=1e-5)
    metric = GifNMSE()
    metric.update_state(y_true[:2], y_pred[:2])
    metric.update_state(y_true[2:], y_pred[2:])
    np.testing.assert_allclose(metric.result(), expected.mean(), rtol=1e-5)


def test_gif_nmse_of_own_mean_is_about_one(batch):
    y_true, _ = batch
    own_mean = np.repeat(y_true.mean(axis=1, keepdims=True), 17, axis=1)
    values = np.asarray(gif_nmse(y_true, own_mean, 1e-9))
    np.testing.assert_allclose(values, 1.0, rtol=1e-4)


def test_emotion_nmse_matches_numpy(batch):
    y_true, y_pred = batch
    metric = EmotionNMSE(num_emotions=17)
    metric.update_state(y_true[:3], y_pred[:3])
    metric.update_state(y_true[3:], y_pred[3:])
    expected = ((y_pred - y_true) ** 2).mean(axis=0) / (y_true.var(axis=0) + 1e-8)
    np.testing.assert_allclose(metric.per_emotion(), expected, rtol=1e-4)
    np.testing.assert_allclose(metric.result(), expected.mean(), rtol=1e-4)
    metric.reset_state()
    assert float(metric.count.numpy()) == 0.0


def _brute_pairs(y_true, y_pred):
    for i in range(len(y_true)):
        yield i, [
            (k, l) for k, l in itertools.permutations(range(y_true.shape[1]), 2)
            if y_true[i, k] > y_true[i, l]
        ]


def test_rank_error_count_matches_brute_force(batch):
    y_true, y_pred = batch
    expected = [
        sum(y_pred[i, k] < y_pred[i, l] for k, l in pairs)
        for i, pairs in _brute_pairs(y_true, y_pred)
    ]
    np.testing.assert_array_equal(rank_error_count(y_true, y_pred), expected)
    metric = RankError()
    metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(metric.result(), np.mean(expected), rtol=1e-6)
    # Predicting the target itself makes no error; its reverse makes every one.
    np.testing.assert_array_equal(rank_error_count(y_true, y_true), 0)
    total_pairs = [len(p) for _, p in _brute_pairs(y_true, y_true)]
    np.testing.assert_array_equal(rank_error_count(y_true, -y_true), total_pairs)


@pytest.mark.parametrize(
    "loss_cls, pair_loss",
    [
        (LogisticRankingLoss, lambda d, t: np.log1p(np.exp(-d / t))),
        (HingeRankingLoss, lambda d, t: max(0.0, t - d)),
    ],
)
def test_ranking_surrogates_match_brute_force(batch, loss_cls, pair_loss):
    y_true, y_pred = batch
    t = 0.3
    per_gif = [
        np.mean([pair_loss(float(y_pred[i, k] - y_pred[i, l]), t) for k, l in pairs])
        for i, pairs in _brute_pairs(y_true, y_pred)
    ]
    loss = loss_cls(temperature=t)
    np.testing.assert_allclose(loss(y_true, y_pred), np.mean(per_gif), rtol=1e-5)


def test_intensity_loss_is_nmse_plus_weighted_rank(batch):
    y_true, y_pred = batch
    nmse = float(NormalizedMSE()(y_true, y_pred))
    rank = float(LogisticRankingLoss(temperature=0.1)(y_true, y_pred))
    combined = IntensityLoss(rank_weight=0.5, rank_temperature=0.1)(y_true, y_pred)
    np.testing.assert_allclose(combined, nmse + 0.5 * rank, rtol=1e-5)


def test_keypoint_loss_masks_frames_without_keypoints():
    rng = np.random.default_rng(0)
    heatmaps = rng.uniform(size=(2, 4, 3, 3)).astype("float32")
    heatmaps /= heatmaps.sum(axis=(2, 3), keepdims=True)
    heatmaps[0, 1] = 0.0  # no keypoints in frame 1 of GIF 0
    attention = rng.uniform(size=(2, 4, 3, 3)).astype("float32")
    values = np.asarray(keypoint_loss(heatmaps, attention))
    expected = ((heatmaps - attention) ** 2).sum(axis=(2, 3))
    expected[0, 1] = 0.0
    np.testing.assert_allclose(values, expected.sum(axis=1), rtol=1e-5)
    # Whatever the attention does on the masked frame, the loss does not move.
    changed = attention.copy()
    changed[0, 1] = rng.uniform(size=(3, 3))
    np.testing.assert_allclose(keypoint_loss(heatmaps, changed), values, rtol=1e-6)
    np.testing.assert_allclose(
        KeypointHeatmapLoss()(heatmaps, attention), values.mean(), rtol=1e-5
    )


def test_spearman_matches_scipy(batch):
    y_true, y_pred = batch
    metric = SpearmanPerGif()
    metric.update_state(y_true, y_pred)
    expected = [scipy.stats.spearmanr(a, b).statistic for a, b in zip(y_true, y_pred)]
    np.testing.assert_allclose(metric.result(), np.mean(expected), rtol=1e-5)
    np.testing.assert_allclose(
        average_ranks(y_true), np.stack([scipy.stats.rankdata(r) for r in y_true]), rtol=1e-6
    )


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: NormalizedMSE(epsilon=0), "epsilon=0"),
        (lambda: LogisticRankingLoss(temperature=-1), "temperature=-1"),
        (lambda: IntensityLoss(rank_weight=-0.5), "rank_weight=-0.5"),
        (lambda: IntensityLoss(rank_surrogate="exp"), "rank_surrogate='exp'"),
    ],
)
def test_bad_loss_arguments(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


def test_sigma_weights_exact_values():
    from kavan_tf.losses import sigma_weights

    # u = 1 / (sigma^2 + 1) = (0.5, 0.2, 0.1); w = 3 u / 0.8.
    np.testing.assert_allclose(sigma_weights([[1.0, 2.0, 3.0]], floor=1.0),
                               [[1.875, 0.75, 0.375]], rtol=1e-6)
    # Equal sigmas: every weight is 1, the plain nMSE.
    np.testing.assert_allclose(sigma_weights([[4.0, 4.0], [0.5, 0.5]]), np.ones((2, 2)))


def test_sigma_weighted_nmse_exact_value_and_unweighted_metrics():
    y_true = np.array([[0.5, 0.0, -0.5]], np.float32)
    y_pred = np.zeros((1, 3), np.float32)
    weights = np.array([[1.875, 0.75, 0.375]], np.float32)
    packed = np.concatenate([y_true, weights], axis=-1)
    # mean(w (y^ - y)^2) = (1.875 * 0.25 + 0.375 * 0.25) / 3 = 0.1875; var(y) = 1/6.
    expected = 0.1875 / (1 / 6 + 1e-3)
    assert float(np.asarray(gif_nmse(packed, y_pred))[0]) == pytest.approx(expected, rel=1e-5)
    loss = IntensityLoss(rank_weight=0.5)
    ranking = LogisticRankingLoss(temperature=0.1)
    assert float(loss(packed, y_pred)) == pytest.approx(
        expected + 0.5 * float(ranking(y_true, y_pred)), rel=1e-5)
    # Metrics read the targets only: the weights change the loss, not the scores.
    for metric in (GifNMSE(), RankError(), SpearmanPerGif(), EmotionNMSE(num_emotions=3)):
        plain = type(metric).from_config(metric.get_config())
        metric.update_state(packed, y_pred)
        plain.update_state(y_true, y_pred)
        assert float(metric.result()) == pytest.approx(float(plain.result()))


def test_sigma_weighting_config_and_targets(tmp_path):
    from kavan_tf.config import KavanConfig, LossConfig
    from kavan_tf.data.manifest import sigma_column
    from kavan_tf.data.pipeline import intensity_targets
    from kavan_tf.errors import ManifestError
    from kavan_tf.labels import EMOTIONS

    with pytest.raises(ValueError, match="loss.sigma_floor"):
        LossConfig(sigma_floor=0.0)
    rows = pd.DataFrame({e: [25.0, 40.0] for e in EMOTIONS})
    config = KavanConfig.from_dict({"loss": {"sigma_weights": True}})
    with pytest.raises(ManifestError, match="sigma columns"):
        intensity_targets(rows, config)
    for i, e in enumerate(EMOTIONS):
        rows[sigma_column(e)] = [1.0 + i, 2.0]
    targets = intensity_targets(rows, config)
    assert targets.shape == (2, 2 * len(EMOTIONS))
    np.testing.assert_allclose(targets[:, :len(EMOTIONS)], [[0.0] * 17, [0.6] * 17], atol=1e-6)
    np.testing.assert_allclose(targets[1, len(EMOTIONS):], np.ones(17))  # equal sigmas
    assert targets[0, len(EMOTIONS)] > 1 > targets[0, -1]  # smallest sigma, largest weight
    assert intensity_targets(rows, KavanConfig()).shape == (2, len(EMOTIONS))
