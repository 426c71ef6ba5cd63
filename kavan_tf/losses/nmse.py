"""L_RG: normalised mean squared error per GIF (paper 3.3; docs/decisions.md#losses-and-metrics)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def split_targets(y_true, y_pred):
    """``(targets [B, E], weights [B, E] or None)`` of an ``intensities`` target.

    With ``loss.sigma_weights`` the pipeline appends each emotion's
    confidence weight to the target vector (``[B, 2E]``, see
    :func:`sigma_weights`); every loss and metric on the intensities reads
    its targets through this function, so the metrics stay unweighted.
    """
    width = y_pred.shape[-1]
    if y_true.shape[-1] is not None and width is not None and y_true.shape[-1] == 2 * width:
        return y_true[..., :width], y_true[..., width:]
    return y_true, None


def sigma_weights(sigma, floor=1.0):
    """Per-emotion confidence weights of TrueSkill scores, normalised per GIF.

    ``u_k = 1 / (sigma_k^2 + floor^2)`` and ``w_k = E u_k / sum_j u_j``, so the
    weights of each GIF average 1 (a GIF with equal sigmas gets the plain nMSE).

    Args:
        sigma: ``[..., E]`` TrueSkill standard deviations, in score points.
        floor: ``s0``, in score points.

    Returns:
        float32 ``[..., E]``.
    """
    u = 1.0 / (np.square(np.asarray(sigma, np.float64)) + float(floor) ** 2)
    return (u * u.shape[-1] / u.sum(axis=-1, keepdims=True)).astype(np.float32)


def gif_nmse(y_true, y_pred, epsilon=1e-3, weights=None):
    """Per-GIF nMSE: ``mean_k w_k (y^_k - y_k)^2 / (var_k(y) + epsilon)``.

    Args:
        y_true: Target intensities ``[B, E]`` (or ``[B, 2E]`` with the
            weights appended, :func:`split_targets`).
        y_pred: Predicted intensities ``[B, E]``.
        epsilon: Added to each GIF's target variance.
        weights: ``[B, E]`` per-emotion weights (default: 1, or the ones
            appended to ``y_true``).

    Returns:
        ``[B]`` nMSE values.
    """
    y_true, appended = split_targets(y_true, y_pred)
    weights = appended if weights is None else weights
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    squared = ops.square(y_pred - y_true)
    if weights is not None:
        squared = squared * ops.cast(weights, "float32")
    return ops.mean(squared, axis=-1) / (ops.var(y_true, axis=-1) + epsilon)


@keras.saving.register_keras_serializable(package="kavan_tf")
class NormalizedMSE(keras.losses.Loss):
    """Normalised MSE per GIF, averaged over the batch (the paper's ``L_RG``).

    The variance is the (population) variance of each GIF's own target vector,
    so predicting that GIF's mean intensity for every emotion costs about 1.

    Args:
        epsilon: Added to the variance so that flat target vectors stay finite.
        name: Loss name.
        **kwargs: Base loss arguments (e.g. ``reduction``).
    """

    def __init__(self, epsilon=1e-3, name="nmse", **kwargs):
        super().__init__(name=name, **kwargs)
        if epsilon <= 0:
            raise ValueError(f"`epsilon` must be positive. Received: epsilon={epsilon}")
        self.epsilon = epsilon

    def call(self, y_true, y_pred):
        return gif_nmse(y_true, y_pred, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config
