"""L_RANK: smooth pairwise ranking surrogates for Eq. 11, and the exact count."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.losses.nmse import split_targets


def _pairs(y_true, y_pred):
    """Score differences ``y^_k - y^_l`` and the mask of pairs with ``y_k > y_l``."""
    y_true, _ = split_targets(y_true, y_pred)
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    diff = y_pred[..., :, None] - y_pred[..., None, :]
    ordered = ops.cast(y_true[..., :, None] > y_true[..., None, :], "float32")
    return diff, ordered


def rank_error_count(y_true, y_pred):
    """Eq. 11 per GIF: pairs ordered ``y_k > y_l`` whose prediction has ``y^_k < y^_l``.

    Ties in the target are not pairs; a tie in the prediction is not an error.

    Returns:
        ``[B]`` counts (as float32).
    """
    diff, ordered = _pairs(y_true, y_pred)
    return ops.sum(ordered * ops.cast(diff < 0, "float32"), axis=(-2, -1))


class PairwiseRankingLoss(keras.losses.Loss):
    """Base class: mean of ``pairwise_loss(y^_k - y^_l)`` over pairs with ``y_k > y_l``.

    Subclasses implement :meth:`pairwise_loss`, the penalty for one pair given
    its score difference (which should be positive).

    Args:
        temperature: Scale of the score difference.
        name: Loss name.
        **kwargs: Base loss arguments.
    """

    def __init__(self, temperature=0.1, name="pairwise_ranking", **kwargs):
        super().__init__(name=name, **kwargs)
        if temperature <= 0:
            raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
        self.temperature = temperature

    def pairwise_loss(self, diff):
        raise NotImplementedError

    def call(self, y_true, y_pred):
        diff, ordered = _pairs(y_true, y_pred)
        total = ops.sum(ordered * self.pairwise_loss(diff), axis=(-2, -1))
        return total / ops.maximum(ops.sum(ordered, axis=(-2, -1)), 1.0)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config


@keras.saving.register_keras_serializable(package="kavan_tf")
class LogisticRankingLoss(PairwiseRankingLoss):
    """``softplus(-(y^_k - y^_l) / temperature)``: a smooth count of mis-ordered pairs."""

    def __init__(self, temperature=0.1, name="logistic_ranking", **kwargs):
        super().__init__(temperature=temperature, name=name, **kwargs)

    def pairwise_loss(self, diff):
        return ops.softplus(-diff / self.temperature)


@keras.saving.register_keras_serializable(package="kavan_tf")
class HingeRankingLoss(PairwiseRankingLoss):
    """``relu(temperature - (y^_k - y^_l))``: zero once a pair is ordered by a margin."""

    def __init__(self, temperature=0.1, name="hinge_ranking", **kwargs):
        super().__init__(temperature=temperature, name=name, **kwargs)

    def pairwise_loss(self, diff):
        return ops.relu(self.temperature - diff)
