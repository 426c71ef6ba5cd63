"""L_kp (Eq. 7): squared error between keypoint heatmaps and attention masks."""

from __future__ import annotations

import keras
from keras import ops


def keypoint_loss(heatmaps, attention):
    """Eq. 7 per GIF: ``sum_t mask_t sum_k (M_t(k) - alpha_t(k))^2``.

    A frame whose target heatmap is all zeros has no keypoints and is masked
    out (docs/decisions.md#keypoints-and-heatmaps): it adds nothing, rather
    than pulling the mask to uniform.

    Args:
        heatmaps: Targets ``[B, T, h, w]`` (each valid frame sums to 1).
        attention: Predicted masks ``[B, T, h, w]``.

    Returns:
        ``[B]`` losses.
    """
    heatmaps = ops.cast(heatmaps, "float32")
    attention = ops.cast(attention, "float32")
    per_frame = ops.sum(ops.square(heatmaps - attention), axis=(-2, -1))
    mask = ops.cast(ops.sum(ops.abs(heatmaps), axis=(-2, -1)) > 0, "float32")
    return ops.sum(per_frame * mask, axis=-1)


@keras.saving.register_keras_serializable(package="kavan_tf")
class KeypointHeatmapLoss(keras.losses.Loss):
    """The masked keypoint loss of Eq. 7 (see :func:`keypoint_loss`).

    Args:
        name: Loss name.
        **kwargs: Base loss arguments.
    """

    def __init__(self, name="keypoint", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return keypoint_loss(y_true, y_pred)
