"""The vote likelihood (kavan_tf/losses/vote.py): exact values worked out by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kavan_tf.config import LossConfig
from kavan_tf.data.trueskill import TrueSkillParams
from kavan_tf.losses import BradleyTerryVoteLoss, IntensityLoss, ThurstoneVoteLoss, gif_nmse
from kavan_tf.losses.vote import A_WINS, B_WINS, DRAW, NO_VOTE

# Bradley-Terry: F(z) = sigmoid(pi z / sqrt(3)); with scale = pi / sqrt(3) the
# logistic reads the margin-shifted difference itself. epsilon = 0.5 and
# d = f(a) - f(b) = ln 3 + 0.5, so that:
#   a wins: F((d - eps) / s) = sigmoid(ln 3) = 3 / 4       -> -log = log(4/3)  = 0.2876821
#   b wins: F((-d - eps) / s) = sigmoid(-ln 3 - 1)
#           = 1 / (1 + 3 e)                                 -> -log = log(1 + 3e) = 2.2142833
#   draw:   sigmoid(eps - d) - sigmoid(-eps - d) = 1/4 - 1/(1 + 3e)
#                                                           -> -log(1/4 - 1/(1 + 3e)) = 1.9606405
BT_SCALE = math.pi / math.sqrt(3.0)
EPS = 0.5
D = math.log(3.0) + EPS
BT_WIN, BT_LOSS, BT_DRAW = 0.2876821, 2.2142833, 1.9606405


def _pairs(diffs_and_codes, num_emotions=3, emotion=1):
    """Pair-ordered predictions [2V, E] and vote codes [2V, E] (codes on the a rows)."""
    y_pred = np.zeros((2 * len(diffs_and_codes), num_emotions), np.float32)
    codes = np.zeros_like(y_pred)
    for v, (diff, code) in enumerate(diffs_and_codes):
        y_pred[2 * v, emotion] = 0.25 + diff  # f(a); f(b) = 0.25
        y_pred[2 * v + 1, emotion] = 0.25
        codes[2 * v, emotion] = code
    return codes, y_pred


def test_bradley_terry_win_loss_draw_exact():
    loss = BradleyTerryVoteLoss(scale=BT_SCALE, draw_margin=EPS)
    codes, y_pred = _pairs([(D, A_WINS), (D, B_WINS), (D, DRAW)])
    per_pair = keras.ops.convert_to_numpy(loss.call(codes, y_pred))
    np.testing.assert_allclose(per_pair, [BT_WIN, BT_LOSS, BT_DRAW], atol=2e-6)
    # Keras averages the pairs.
    assert float(loss(codes, y_pred)) == pytest.approx((BT_WIN + BT_LOSS + BT_DRAW) / 3, abs=2e-6)


def test_thurstone_win_and_draw_exact():
    # d = eps: P(a wins) = Phi(0) = 1/2 -> log 2 = 0.6931472.
    # d = 0, eps / s = 1.959964: P(draw) = Phi(1.96) - Phi(-1.96) = 0.95 -> -log 0.95 = 0.0512933;
    # P(b wins) = Phi(-1.96) = 0.025 -> -log 0.025 = 3.6888795.
    s = 0.5
    loss = ThurstoneVoteLoss(scale=s, draw_margin=1.959964 * s)
    codes, y_pred = _pairs([(1.959964 * s, A_WINS), (0.0, DRAW), (0.0, B_WINS)])
    per_pair = keras.ops.convert_to_numpy(loss.call(codes, y_pred))
    np.testing.assert_allclose(per_pair, [0.6931472, 0.0512933, 3.6888795], atol=2e-5)


def test_masking_and_votes_on_several_emotions():
    loss = BradleyTerryVoteLoss(scale=BT_SCALE, draw_margin=EPS)
    codes, y_pred = _pairs([(D, A_WINS), (D, NO_VOTE)])
    # The same pair voted on emotion 2 too (b wins there): the pair's loss is the sum.
    y_pred[0, 2], y_pred[1, 2] = 0.25 + D, 0.25
    codes[0, 2] = B_WINS
    # Codes on b rows are ignored, and so are predictions of emotions without a vote.
    codes[1, 0] = A_WINS
    y_pred[2:, 0] = [5.0, -5.0]
    per_pair = keras.ops.convert_to_numpy(loss.call(codes, y_pred))
    np.testing.assert_allclose(per_pair, [BT_WIN + BT_LOSS, 0.0], atol=2e-6)


def test_batching_does_not_change_a_pairs_loss():
    rng = np.random.default_rng(0)
    diffs = rng.normal(0, 0.5, 6)
    votes = [(float(d), int(c)) for d, c in zip(diffs, rng.integers(1, 4, 6), strict=True)]
    loss = ThurstoneVoteLoss()
    whole = keras.ops.convert_to_numpy(loss.call(*_pairs(votes)))
    halves = np.concatenate([keras.ops.convert_to_numpy(loss.call(*_pairs(votes[:3]))),
                             keras.ops.convert_to_numpy(loss.call(*_pairs(votes[3:])))])
    np.testing.assert_allclose(whole, halves, rtol=1e-6)


def test_intensity_loss_on_vote_batches_adds_weighted_regression():
    codes, y_pred = _pairs([(D, A_WINS), (D, DRAW)])
    scores = np.tile(np.array([[0.1, -0.2, 0.4]], np.float32), (4, 1))
    y_true = np.concatenate([scores, codes], axis=-1)
    votes_only = IntensityLoss(vote_weight=2.0, regression_weight=0.0,
                               vote_model="bradley_terry", vote_scale=BT_SCALE,
                               vote_draw_margin=EPS)
    both = IntensityLoss(vote_weight=2.0, regression_weight=0.5, vote_model="bradley_terry",
                         vote_scale=BT_SCALE, vote_draw_margin=EPS)
    nmse = keras.ops.convert_to_numpy(gif_nmse(scores, y_pred)).reshape(2, 2).mean(axis=1)
    # L_ANCHOR: emotion 1, the one voted on, is 0.25 + D on the a rows and 0.25
    # on the b rows: each pair's midpoint is 0.25 + D / 2.
    anchor = (0.25 + D / 2) ** 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(votes_only.call(y_true, y_pred)),
                               [2 * (BT_WIN + anchor), 2 * (BT_DRAW + anchor)], atol=5e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(both.call(y_true, y_pred)),
                               [2 * (BT_WIN + anchor) + 0.5 * nmse[0],
                                2 * (BT_DRAW + anchor) + 0.5 * nmse[1]], atol=5e-6)
    # Manifest batches ([B, E] targets) get the plain regression loss.
    np.testing.assert_allclose(float(both(scores, y_pred)), float(IntensityLoss()(scores, y_pred)),
                               rtol=1e-6)


def test_the_votes_leave_an_emotions_offset_free_and_the_anchor_fixes_it():
    """Adding c to one emotion of every GIF changes no vote's likelihood; with the
    anchor, the loss grows by c^2 when the pairs sat around 0, and its gradient
    points back; each pair's anchor is its own, whatever the batch."""
    rng = np.random.default_rng(1)
    votes = [(float(d), int(c)) for d, c in zip(rng.normal(0, 0.3, 8), rng.integers(1, 4, 8),
                                                strict=True)]
    codes, y_pred = _pairs(votes)
    y_true = np.concatenate([np.zeros_like(codes), codes], axis=-1)
    y_pred = y_pred - y_pred.mean(axis=0)  # every emotion's mean at 0
    anchored, free = (IntensityLoss(vote_weight=1.0, regression_weight=0.0, vote_anchor=a)
                      for a in (1.0, 0.0))
    shift = np.zeros_like(y_pred)
    shift[:, 1] = 0.4

    def total(loss, offset):
        return float(loss(y_true, y_pred + offset))

    assert total(free, shift) == pytest.approx(total(free, 0), rel=1e-6)
    assert total(anchored, shift) == pytest.approx(total(anchored, 0) + 0.4 ** 2, rel=1e-5)
    shifted = tf.Variable(y_pred + shift)
    with tf.GradientTape() as tape:
        value = anchored(y_true, shifted)
    gradient = tape.gradient(value, shifted).numpy()
    # Descent lowers emotion 1 of every GIF, towards pairs around 0.
    np.testing.assert_allclose(gradient[:, 1].sum(), 2 * 0.4, rtol=1e-4)
    # Per pair: the same values in one batch or two.
    whole = keras.ops.convert_to_numpy(anchored.call(y_true, y_pred))
    halves = np.concatenate([keras.ops.convert_to_numpy(anchored.call(y_true[:8], y_pred[:8])),
                             keras.ops.convert_to_numpy(anchored.call(y_true[8:], y_pred[8:]))])
    np.testing.assert_allclose(whole, halves, rtol=1e-6)


def test_default_scale_and_margin_are_gifgifs_trueskill_in_intensity_units():
    params = TrueSkillParams()
    config = LossConfig()
    # score = 25 (intensity + 1): 25 points per intensity unit.
    assert config.vote_scale == pytest.approx(math.sqrt(2 * params.beta2) / 25, abs=1e-4)
    assert config.vote_draw_margin == pytest.approx(params.draw_margin / 25, abs=1e-4)
    assert ThurstoneVoteLoss().scale == config.vote_scale
    assert ThurstoneVoteLoss().draw_margin == config.vote_draw_margin


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: ThurstoneVoteLoss(scale=0), "scale=0"),
        (lambda: BradleyTerryVoteLoss(draw_margin=-0.1), "draw_margin=-0.1"),
        (lambda: IntensityLoss(vote_weight=-1), "vote_weight=-1"),
        (lambda: IntensityLoss(vote_model="elo"), "vote_model='elo'"),
        (lambda: IntensityLoss(vote_anchor=-1), "vote_anchor=-1"),
        (lambda: LossConfig(vote_anchor=-0.5), "vote_anchor"),
        (lambda: LossConfig(w_vote=1.0, sigma_weights=True), "sigma_weights"),
        (lambda: LossConfig(w_rg=0.0), "w_rg"),
        (lambda: LossConfig(vote_model="elo"), "vote_model"),
    ],
)
def test_bad_vote_arguments(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


@pytest.mark.parametrize("cls", [ThurstoneVoteLoss, BradleyTerryVoteLoss])
def test_vote_loss_config_round_trip(cls):
    loss = cls(scale=0.3, draw_margin=0.05)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is cls and again.scale == 0.3 and again.draw_margin == 0.05
    intensity = IntensityLoss(vote_weight=1.5, regression_weight=0.0, vote_model="bradley_terry")
    again = IntensityLoss.from_config(intensity.get_config())
    assert (again.vote_weight, again.regression_weight, again.vote_model) == (1.5, 0.0,
                                                                               "bradley_terry")
