"""Evaluation metrics (docs/decisions.md#losses-and-metrics) on the ``intensities`` output."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.losses.nmse import gif_nmse, split_targets
from kavan_tf.losses.pairwise_ranking import rank_error_count


def average_ranks(x):
    """Ranks (1-based) over the last axis, ties sharing their mean rank (as scipy)."""
    x = ops.cast(x, "float32")
    less = ops.sum(ops.cast(x[..., None, :] < x[..., :, None], "float32"), axis=-1)
    equal = ops.sum(ops.cast(x[..., None, :] == x[..., :, None], "float32"), axis=-1)
    return less + 0.5 * (equal - 1.0) + 1.0


def spearman_per_gif(y_true, y_pred):
    """Spearman's rho between target and predicted intensities of each GIF.

    A GIF whose target or prediction is constant has no defined correlation;
    it scores 0.

    Returns:
        ``[B]`` correlations.
    """
    y_true, _ = split_targets(y_true, y_pred)
    a = average_ranks(y_true)
    b = average_ranks(y_pred)
    a = a - ops.mean(a, axis=-1, keepdims=True)
    b = b - ops.mean(b, axis=-1, keepdims=True)
    denominator = ops.sqrt(ops.sum(a * a, axis=-1) * ops.sum(b * b, axis=-1))
    safe = ops.where(denominator > 0, denominator, 1.0)
    return ops.where(denominator > 0, ops.sum(a * b, axis=-1) / safe, 0.0)


def _unweighted_nmse(y_true, y_pred, epsilon=1e-3):
    targets, _ = split_targets(y_true, y_pred)
    return gif_nmse(targets, y_pred, epsilon)


@keras.saving.register_keras_serializable(package="kavan_tf")
class GifNMSE(keras.metrics.MeanMetricWrapper):
    """nMSE per GIF, as the loss ``L_RG`` (unweighted), averaged over GIFs."""

    def __init__(self, epsilon=1e-3, name="nmse", dtype=None):
        super().__init__(_unweighted_nmse, name=name, dtype=dtype, epsilon=epsilon)
        self.epsilon = epsilon

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kavan_tf")
class RankError(keras.metrics.MeanMetricWrapper):
    """Eq. 11: mis-ordered emotion pairs per GIF, averaged over GIFs."""

    def __init__(self, name="rank_error", dtype=None):
        super().__init__(rank_error_count, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kavan_tf")
class SpearmanPerGif(keras.metrics.MeanMetricWrapper):
    """Spearman correlation between target and predicted intensities, averaged over GIFs."""

    def __init__(self, name="spearman", dtype=None):
        super().__init__(spearman_per_gif, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kavan_tf")
class EmotionNMSE(keras.metrics.Metric):
    """nMSE per emotion over the evaluation set (Jou et al.), averaged over emotions.

    For emotion ``k``: the MSE of its predictions over all GIFs seen, divided
    by the variance of its targets over those GIFs. :meth:`per_emotion` gives
    the ``[E]`` vector; :meth:`result` its mean.

    Args:
        num_emotions: Width of the intensity vectors.
        epsilon: Added to each emotion's variance.
        name: Metric name.
        dtype: Metric dtype.
    """

    def __init__(self, num_emotions=17, epsilon=1e-8, name="emotion_nmse", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_emotions = num_emotions
        self.epsilon = epsilon
        shape = (num_emotions,)
        self.sum_squared_error = self.add_variable(shape, "zeros", name="sum_squared_error")
        self.sum_target = self.add_variable(shape, "zeros", name="sum_target")
        self.sum_target_squared = self.add_variable(shape, "zeros", name="sum_target_squared")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, _ = split_targets(y_true, y_pred)
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        self.sum_squared_error.assign_add(ops.sum(ops.square(y_pred - y_true), axis=0))
        self.sum_target.assign_add(ops.sum(y_true, axis=0))
        self.sum_target_squared.assign_add(ops.sum(ops.square(y_true), axis=0))
        self.count.assign_add(ops.cast(ops.shape(y_true)[0], self.dtype))

    def per_emotion(self):
        count = ops.maximum(self.count, 1.0)
        mean = self.sum_target / count
        variance = ops.maximum(self.sum_target_squared / count - ops.square(mean), 0.0)
        return (self.sum_squared_error / count) / (variance + self.epsilon)

    def result(self):
        return ops.mean(self.per_emotion())

    def reset_state(self):
        for variable in self.variables:
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        return {
            "num_emotions": self.num_emotions,
            "epsilon": self.epsilon,
            "name": self.name,
            "dtype": self.dtype,
        }
