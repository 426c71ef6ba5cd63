"""The losses (docs/decisions.md#losses-and-metrics): nMSE, ranking surrogates, the
masked keypoint loss, the likelihood of pairwise votes."""

from kavan_tf.losses.intensity import IntensityLoss
from kavan_tf.losses.keypoint import KeypointHeatmapLoss, keypoint_loss
from kavan_tf.losses.nmse import NormalizedMSE, gif_nmse, sigma_weights, split_targets
from kavan_tf.losses.pairwise_ranking import (
    HingeRankingLoss,
    LogisticRankingLoss,
    PairwiseRankingLoss,
    rank_error_count,
)
from kavan_tf.losses.vote import (
    BradleyTerryVoteLoss,
    ThurstoneVoteLoss,
    VoteLoss,
    pair_differences,
    vote_codes,
)

__all__ = [
    "BradleyTerryVoteLoss",
    "HingeRankingLoss",
    "IntensityLoss",
    "KeypointHeatmapLoss",
    "LogisticRankingLoss",
    "NormalizedMSE",
    "PairwiseRankingLoss",
    "gif_nmse",
    "keypoint_loss",
    "rank_error_count",
    "sigma_weights",
    "split_targets",
    "ThurstoneVoteLoss",
    "VoteLoss",
    "pair_differences",
    "vote_codes",
]
