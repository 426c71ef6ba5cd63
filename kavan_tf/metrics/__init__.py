"""The metrics of docs/decisions.md#losses-and-metrics."""

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
