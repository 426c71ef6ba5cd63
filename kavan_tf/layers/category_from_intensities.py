"""The category output of regression-only models."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class CategoryFromIntensities(keras.layers.Layer):
    """Category probabilities read off predicted intensities (no weights).

    A GIF's category is the category of its highest-scoring emotion (paper
    4.2). Regression-only models (the paper's non-MTL rows) have no category
    head; this layer gives them a ``category`` output whose argmax is exactly
    that rule, so that accuracy is comparable across rows. The probabilities
    are ``softmax(sharpness * max_{e in c} y^_e)`` over categories ``c``.

    Args:
        emotion_to_category: Category id of each emotion, in output order.
        sharpness: Softmax scale.
        **kwargs: Base layer arguments.
    """

    def __init__(self, emotion_to_category, sharpness=10.0, **kwargs):
        super().__init__(**kwargs)
        self.emotion_to_category = [int(c) for c in emotion_to_category]
        if min(self.emotion_to_category) < 0:
            raise ValueError(
                "`emotion_to_category` must hold category ids >= 0. "
                f"Received: emotion_to_category={self.emotion_to_category}"
            )
        self.sharpness = float(sharpness)
        self.num_categories = max(self.emotion_to_category) + 1

    def call(self, intensities):
        member = ops.one_hot(
            ops.convert_to_tensor(self.emotion_to_category), self.num_categories, dtype="bool"
        )  # [E, C]
        lowest = ops.full_like(intensities[..., None], -1e9)
        per_category = ops.max(ops.where(member, intensities[..., None], lowest), axis=-2)
        return ops.softmax(self.sharpness * per_category, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (self.num_categories,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"emotion_to_category": self.emotion_to_category, "sharpness": self.sharpness}
        )
        return config
