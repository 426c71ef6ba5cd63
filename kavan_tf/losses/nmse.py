"""L_RG: normalised mean squared error per GIF (paper 3.3, SPEC 6)."""

from __future__ import annotations

import keras
from keras import ops


def gif_nmse(y_true, y_pred, epsilon=1e-3):
    """Per-GIF nMSE: ``mean_k (y^_k - y_k)^2 / (var_k(y) + epsilon)``.

    Args:
        y_true: Target intensities ``[B, E]``.
        y_pred: Predicted intensities ``[B, E]``.
        epsilon: Added to each GIF's target variance.

    Returns:
        ``[B]`` nMSE values.
    """
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    mse = ops.mean(ops.square(y_pred - y_true), axis=-1)
    return mse / (ops.var(y_true, axis=-1) + epsilon)


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
