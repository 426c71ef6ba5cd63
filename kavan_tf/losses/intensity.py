"""The loss on the ``intensities`` output: ``L_RG + w_RANK L_RANK`` (and ``L_VOTE``)."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.losses.nmse import gif_nmse, split_targets
from kavan_tf.losses.pairwise_ranking import HingeRankingLoss, LogisticRankingLoss
from kavan_tf.losses.vote import VOTE_MODELS, pair_midpoints


@keras.saving.register_keras_serializable(package="kavan_tf")
class IntensityLoss(keras.losses.Loss):
    """nMSE per GIF plus a weighted smooth ranking surrogate; on vote batches, the votes.

    The losses: docs/decisions.md#losses-and-metrics.

    Keras takes one loss per output; both ``L_RG`` and ``L_RANK`` read the
    intensities, so they are combined here and ``w_RANK`` lives with them.
    Targets with per-emotion weights appended (``loss.sigma_weights``, see
    :func:`kavan_tf.losses.nmse.split_targets`) weight ``L_RG``; the ranking
    term reads the targets only.

    With ``vote_weight > 0`` a target of ``[2V, 2E]`` is a vote batch
    (:mod:`kavan_tf.losses.vote`: pairs of GIFs, their score targets, then
    the vote codes), and the loss of each pair is
    ``w_RG mean_pair(L_RG + w_RANK L_RANK) + w_VOTE (L_VOTE + a L_ANCHOR)``
    (docs/model.md#learning-from-the-votes), ``L_ANCHOR`` the pair's
    :func:`~kavan_tf.losses.vote.pair_midpoints`. Targets of ``[B, E]`` (e.g.
    validation on a manifest) get the plain loss, so sigma weights and votes
    cannot be combined.

    Args:
        rank_weight: ``w_RANK`` (0 disables the ranking term).
        rank_surrogate: ``"logistic"`` or ``"hinge"``.
        rank_temperature: Surrogate scale.
        epsilon: nMSE variance epsilon.
        vote_weight: ``w_VOTE`` (0: no vote batches).
        regression_weight: ``w_RG`` on vote batches (0: the votes alone).
        vote_model: ``"thurstone"`` or ``"bradley_terry"``.
        vote_scale: The judge's noise, in intensity units.
        vote_draw_margin: The draw margin, in intensity units.
        vote_anchor: ``a``, the weight of ``L_ANCHOR`` (0: off).
        name: Loss name.
        **kwargs: Base loss arguments.
    """

    def __init__(
        self,
        rank_weight=0.0,
        rank_surrogate="logistic",
        rank_temperature=0.1,
        epsilon=1e-3,
        vote_weight=0.0,
        regression_weight=1.0,
        vote_model="thurstone",
        vote_scale=0.2357,
        vote_draw_margin=0.0863,
        vote_anchor=1.0,
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
        for arg, value in (("vote_weight", vote_weight), ("regression_weight", regression_weight),
                           ("vote_anchor", vote_anchor)):
            if not value >= 0:
                raise ValueError(f"`{arg}` must be >= 0. Received: {arg}={value}")
        if vote_model not in VOTE_MODELS:
            raise ValueError(f"`vote_model` must be one of {sorted(VOTE_MODELS)}. "
                             f"Received: vote_model={vote_model!r}")
        self.rank_weight = rank_weight
        self.rank_surrogate = rank_surrogate
        self.rank_temperature = rank_temperature
        self.epsilon = epsilon
        self.vote_weight = vote_weight
        self.regression_weight = regression_weight
        self.vote_model = vote_model
        self.vote_scale = vote_scale
        self.vote_draw_margin = vote_draw_margin
        self.vote_anchor = vote_anchor
        self._ranking = surrogates[rank_surrogate](temperature=rank_temperature)
        self._votes = VOTE_MODELS[vote_model](scale=vote_scale, draw_margin=vote_draw_margin)

    def _regression(self, y_true, y_pred):
        loss = gif_nmse(y_true, y_pred, self.epsilon)
        if self.rank_weight:
            targets, _ = split_targets(y_true, y_pred)
            loss = loss + self.rank_weight * self._ranking.call(targets, y_pred)
        return loss

    def call(self, y_true, y_pred):
        _, appended = split_targets(y_true, y_pred)
        if not self.vote_weight or appended is None:
            return self._regression(y_true, y_pred)
        votes = self._votes.call(y_true, y_pred)
        if self.vote_anchor:
            votes = votes + self.vote_anchor * pair_midpoints(y_true, y_pred)
        loss = self.vote_weight * votes
        if self.regression_weight:
            targets, _ = split_targets(y_true, y_pred)
            per_gif = self._regression(targets, y_pred)
            loss = loss + self.regression_weight * ops.mean(ops.reshape(per_gif, (-1, 2)), axis=-1)
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank_weight": self.rank_weight,
                "rank_surrogate": self.rank_surrogate,
                "rank_temperature": self.rank_temperature,
                "epsilon": self.epsilon,
                "vote_weight": self.vote_weight,
                "regression_weight": self.regression_weight,
                "vote_model": self.vote_model,
                "vote_scale": self.vote_scale,
                "vote_draw_margin": self.vote_draw_margin,
                "vote_anchor": self.vote_anchor,
            }
        )
        return config
