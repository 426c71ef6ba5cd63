"""Metrics of SPEC 6."""

from kavan_tf.metrics.regression import (
    EmotionNMSE,
    GifNMSE,
    RankError,
    SpearmanPerGif,
    average_ranks,
    spearman_per_gif,
)

__all__ = [
    "EmotionNMSE",
    "GifNMSE",
    "RankError",
    "SpearmanPerGif",
    "average_ranks",
    "spearman_per_gif",
]
