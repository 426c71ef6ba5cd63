"""Expected valence and arousal from the category probabilities.

The mapping: docs/model.md#valence-and-arousal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class CategoryExpectation(keras.layers.Layer):
    """``[B, C]`` category probabilities -> ``[B]``: ``sum_c p_c * values[c]``.

    With ``values`` a :class:`kavan_tf.config.LabelConfig`'s
    ``category_valence`` (or ``category_arousal``), the expected valence (or
    arousal) under the circumplex quadrants of the categories. No weights:
    the values are part of the config.

    Args:
        values: One number per category.
        **kwargs: Layer arguments (``name``, ``dtype``).
    """

    def __init__(self, values: Sequence[float] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if values is None:  # LabelConfig always resolves its values; None only for typing
            raise ValueError("`values` must be one number per category. Received: None")
        self.values = [float(v) for v in values]

    def call(self, probabilities):
        values = ops.convert_to_tensor(self.values, dtype=probabilities.dtype)
        return ops.sum(probabilities * values, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "values": list(self.values)}
