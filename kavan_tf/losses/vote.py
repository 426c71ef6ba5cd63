"""L_VOTE: the likelihood of GIFGIF's pairwise votes (docs/model.md#learning-from-the-votes).

A vote on emotion ``e`` between GIFs ``a`` and ``b`` is read as a judge who
perceives ``d + n``, ``d = f_e(a) - f_e(b)`` (the model's intensities) and
``n`` noise of standard deviation ``scale``, and answers ``a`` above the draw
margin ``epsilon``, ``b`` below ``-epsilon`` and ``neither`` in between
(TrueSkill's draw model; Rao and Kupper's for the logistic):

    P(a wins) = F((d - epsilon) / scale)
    P(b wins) = F((-d - epsilon) / scale)
    P(draw)   = F((epsilon - d) / scale) - F((-epsilon - d) / scale)

``F`` is the hook: the standard normal CDF (Thurstone, TrueSkill's own) or
the logistic of the same variance (Bradley-Terry). The loss of a vote is
``-log P(its outcome)``.

Layout: a vote batch lists its GIFs in pairs, ``(a_0, b_0, a_1, b_1, ...)``,
so ``y_pred`` is ``[2V, E]``. ``y_true`` is ``[2V, E]`` vote codes, or
``[2V, 2E]`` with the score targets first and the codes appended (what the
vote pipeline feeds, see :func:`kavan_tf.losses.nmse.split_targets`; the
metrics then read the scores, and :class:`~kavan_tf.losses.IntensityLoss`
adds ``L_RG`` on them). The codes of a pair sit on its ``a`` row, one
per emotion: :data:`NO_VOTE`, :data:`A_WINS`, :data:`B_WINS` or :data:`DRAW`;
the ``b`` rows are ignored. A pair may carry votes on several emotions; its
loss is their sum, and a pair with no vote costs 0.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kavan_tf.losses.nmse import split_targets

NO_VOTE, A_WINS, B_WINS, DRAW = 0, 1, 2, 3
"""Vote codes of the ``y_true`` layout (``vote_dump``'s outcome + 1)."""

_TINY = 1e-12
_LOGISTIC_SLOPE = math.pi / math.sqrt(3.0)  # a logistic of unit variance


def vote_codes(y_true, y_pred):
    """The ``[V, E]`` vote codes of a pair-ordered ``y_true`` (its ``a`` rows)."""
    _, appended = split_targets(y_true, y_pred)
    codes = y_true if appended is None else appended
    codes = ops.cast(codes, "int32")
    return ops.reshape(codes, (-1, 2, ops.shape(codes)[-1]))[:, 0, :]


def pair_differences(y_pred):
    """``[V, E]`` differences ``f(a) - f(b)`` of pair-ordered predictions ``[2V, E]``."""
    pairs = ops.reshape(ops.cast(y_pred, "float32"), (-1, 2, ops.shape(y_pred)[-1]))
    return pairs[:, 0, :] - pairs[:, 1, :]


class VoteLoss(keras.losses.Loss):
    """Base class: ``-log P(outcome)`` of each vote, summed per pair of GIFs.

    Subclasses implement :meth:`cdf`, the distribution of the standardised
    noise of the judge; :meth:`log_cdf` may be overridden where a stable
    closed form exists.

    Args:
        scale: Standard deviation of the judge's noise on the difference,
            in intensity units (``LossConfig.vote_scale``).
        draw_margin: ``epsilon``, in intensity units (``>= 0``; 0 makes a
            draw impossible, and its loss large).
        name: Loss name.
        **kwargs: Base loss arguments.
    """

    def __init__(self, scale=0.2357, draw_margin=0.0863, name="vote", **kwargs):
        super().__init__(name=name, **kwargs)
        if not scale > 0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale}")
        if not draw_margin >= 0:
            raise ValueError(f"`draw_margin` must be >= 0. Received: draw_margin={draw_margin}")
        self.scale = scale
        self.draw_margin = draw_margin

    def cdf(self, z):
        raise NotImplementedError

    def log_cdf(self, z):
        return ops.log(ops.maximum(self.cdf(z), _TINY))

    def vote_nll(self, diff, codes):
        """``[V, E]`` negative log-likelihoods of the votes (0 where there is none)."""
        upper = (self.draw_margin - diff) / self.scale
        lower = (-self.draw_margin - diff) / self.scale
        a_wins = -self.log_cdf(-upper)  # F((d - epsilon) / scale)
        b_wins = -self.log_cdf(lower)  # F((-d - epsilon) / scale)
        draw = -ops.log(ops.maximum(self.cdf(upper) - self.cdf(lower), _TINY))
        nll = ops.where(codes == A_WINS, a_wins, ops.zeros_like(diff))
        nll = ops.where(codes == B_WINS, b_wins, nll)
        return ops.where(codes == DRAW, draw, nll)

    def call(self, y_true, y_pred):
        """``[V]`` losses of the pairs: the sum of their votes' ``-log P``."""
        return ops.sum(self.vote_nll(pair_differences(y_pred), vote_codes(y_true, y_pred)),
                       axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "draw_margin": self.draw_margin})
        return config


@keras.saving.register_keras_serializable(package="kavan_tf")
class ThurstoneVoteLoss(VoteLoss):
    """Normal noise: ``F = Phi``, as TrueSkill models a match."""

    def __init__(self, scale=0.2357, draw_margin=0.0863, name="thurstone_vote", **kwargs):
        super().__init__(scale=scale, draw_margin=draw_margin, name=name, **kwargs)

    def cdf(self, z):
        return 0.5 * (1.0 + ops.erf(z / math.sqrt(2.0)))


@keras.saving.register_keras_serializable(package="kavan_tf")
class BradleyTerryVoteLoss(VoteLoss):
    """Logistic noise of the same variance: ``F(z) = sigmoid(pi z / sqrt(3))``."""

    def __init__(self, scale=0.2357, draw_margin=0.0863, name="bradley_terry_vote", **kwargs):
        super().__init__(scale=scale, draw_margin=draw_margin, name=name, **kwargs)

    def cdf(self, z):
        return ops.sigmoid(_LOGISTIC_SLOPE * z)

    def log_cdf(self, z):
        return -ops.softplus(-_LOGISTIC_SLOPE * z)


def pair_midpoints(y_true, y_pred):
    """``L_ANCHOR`` of each pair, ``[V]``: ``sum over its voted emotions e of
    ((f_e(a) + f_e(b)) / 2)^2``.

    The votes see only differences ``f_e(a) - f_e(b)``, so they leave each
    emotion's offset free: adding ``c_e`` to every GIF's ``f_e`` changes no
    vote's likelihood, but does change every metric that compares a GIF's
    emotions with each other (per-GIF nMSE and Spearman, the category read
    off the intensities). This term is smallest when each emotion's pairs
    sit around 0, the intensity of TrueSkill's prior score (25 points). It
    reads the pair's sum only, never the difference the vote is about, and
    each pair alone, so that a batch split over replicas has the same loss.
    """
    pairs = ops.reshape(ops.cast(y_pred, "float32"), (-1, 2, ops.shape(y_pred)[-1]))
    midpoints = 0.5 * (pairs[:, 0, :] + pairs[:, 1, :])
    voted = ops.cast(vote_codes(y_true, y_pred) != NO_VOTE, "float32")
    return ops.sum(voted * ops.square(midpoints), axis=-1)


VOTE_MODELS = {"thurstone": ThurstoneVoteLoss, "bradley_terry": BradleyTerryVoteLoss}
"""``LossConfig.vote_model`` -> loss class."""
