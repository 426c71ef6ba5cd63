"""The loss on the ``intensities`` output: ``L_RG + w_RANK L_RANK``."""

from __future__ import annotations

import keras

from kavan_tf.losses.nmse import gif_nmse, split_targets
from kavan_tf.losses.pairwise_ranking import HingeRankingLoss, LogisticRankingLoss


@keras.saving.register_keras_serializable(package="kavan_tf")
class IntensityLoss(keras.losses.Loss):
    """nMSE per GIF plus a weighted smooth ranking surrogate.

    The losses: docs/decisions.md#losses-and-metrics.

    Keras takes one loss per output; both ``L_RG`` and ``L_RANK`` read the
    intensities, so they are combined here and ``w_RANK`` lives with them.
    Targets with per-emotion weights appended (``loss.sigma_weights``, see
    :func:`kavan_tf.losses.nmse.split_targets`) weight ``L_RG``; the ranking
    term reads the targets only.

    Args:
        rank_weight: ``w_RANK`` (0 disables the ranking term).
        rank_surrogate: ``"logistic"`` or ``"hinge"``.
        rank_temperature: Surrogate scale.
        epsilon: nMSE variance epsilon.
        name: Loss name.
        **kwargs: Base loss arguments.
    """

    def __init__(
        self,
        rank_weight=0.0,
        rank_surrogate="logistic",
        rank_temperature=0.1,
        epsilon=1e-3,
        name="intensity",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if rank_weight < 0:
            raise ValueError(f"`rank_weight` must be >= 0. Received: rank_weight={rank_weight}")
        surrogates = {"logistic": LogisticRankingLoss, "hinge": HingeRankingLoss}
        if rank_surrogate not in surrogates:
            raise ValueError(
                f"`rank_surrogate` must be one of {sorted(surrogates)}. "
                f"Received: rank_surrogate={rank_surrogate!r}"
            )
        self.rank_weight = rank_weight
        self.rank_surrogate = rank_surrogate
        self.rank_temperature = rank_temperature
        self.epsilon = epsilon
        self._ranking = surrogates[rank_surrogate](temperature=rank_temperature)

    def call(self, y_true, y_pred):
        loss = gif_nmse(y_true, y_pred, self.epsilon)
        if self.rank_weight:
            targets, _ = split_targets(y_true, y_pred)
            loss = loss + self.rank_weight * self._ranking.call(targets, y_pred)
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank_weight": self.rank_weight,
                "rank_surrogate": self.rank_surrogate,
                "rank_temperature": self.rank_temperature,
                "epsilon": self.epsilon,
            }
        )
        return config
