"""Layers of inference graphs whose batch normalisation is folded into the convolutions."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class FusedConv2D(keras.layers.Conv2D):
    """A ``Conv2D`` whose bias and activation TensorFlow can fuse into the convolution.

    Same arguments, weights and results as ``keras.layers.Conv2D`` (channels
    last). The bias is added with ``tf.nn.bias_add`` and a ReLU applied with
    ``tf.nn.relu``, the pattern Grappler's remapper turns into one fused
    (oneDNN) convolution, so that the output is written once instead of three
    times. :func:`kavan_tf.inference.fold_batch_norms` builds these layers.

    Example:

    ```python
    conv = FusedConv2D(64, 3, padding="same", activation="relu")
    y = conv(x)   # == keras.layers.Conv2D with the same weights
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(
                "`FusedConv2D` supports data_format='channels_last' only. "
                f"Received: data_format={self.data_format!r}"
            )

    def call(self, inputs):
        outputs = self.convolution_op(inputs, ops.cast(self.kernel, self.compute_dtype))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, ops.cast(self.bias, self.compute_dtype))
        if self.activation is keras.activations.relu:
            return tf.nn.relu(outputs)
        return self.activation(outputs)


@keras.saving.register_keras_serializable(package="kavan_tf")
class FoldedAway(keras.layers.Layer):
    """Returns its input: stands where a layer was folded into the convolution before it.

    Keeps the folded layer's name (and its place in the graph), so that a
    folded model's layers can still be looked up by their original names.
    """

    def call(self, inputs, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
