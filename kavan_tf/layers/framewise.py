"""Applying a frame backbone to every frame of a batch of GIFs in one call."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class Framewise(keras.layers.TimeDistributed):
    """``TimeDistributed`` that runs the wrapped layer once, on all ``B * T`` frames.

    Keras' ``TimeDistributed`` calls the wrapped layer once per time step
    (``T`` calls on ``B`` frames each) and transposes its inputs and outputs.
    Merging the batch and time axes instead gives the backbone one batch of
    ``B * T`` frames, which is how the backbone is benchmarked alone, and
    saves the transposes. The wrapped layer is ``layer`` as in
    ``TimeDistributed``, and weights are saved under the same names.

    Example:

    ```python
    features = Framewise(backbone, name="backbone")(frames)  # [B, T, H, W, 3] -> [B, T, h, w, D]
    ```
    """

    def call(self, inputs, training=None, mask=None):
        shape = ops.shape(inputs)
        frames = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        outputs = self.layer.call(frames, **kwargs)
        return ops.reshape(outputs, (shape[0], shape[1]) + tuple(outputs.shape[1:]))
