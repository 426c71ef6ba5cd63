"""Applying a frame backbone to every frame of a batch of GIFs in one call."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class Framewise(keras.layers.TimeDistributed):
    """``TimeDistributed`` that runs a frozen or inferring layer once on all ``B * T`` frames.

    Keras' ``TimeDistributed`` calls the wrapped layer once per time step
    (``T`` calls on ``B`` frames each) and transposes its inputs and outputs.
    In inference, merging the batch and time axes instead gives the backbone
    one batch of ``B * T`` frames (how the backbone is benchmarked alone) and
    saves the transposes; the results are the same, frame by frame.

    In training with a trainable (fine-tuned) wrapped layer it steps through
    time as ``TimeDistributed`` does, so that batch normalisation normalises
    each time step's frames together and updates its moving statistics once
    per time step. Trained from scratch on the synthetic benchmark, merged
    batches left the moving statistics lagging behind the fast-changing
    weights and cost the demo model about 9 points of accuracy.

    The wrapped layer is ``layer`` as in ``TimeDistributed``, and weights are
    saved under the same names.

    Example:

    ```python
    features = Framewise(backbone, name="backbone")(frames)  # [B, T, H, W, 3] -> [B, T, h, w, D]
    ```
    """

    def call(self, inputs, training=None, mask=None):
        if training and self.layer.trainable:
            return super().call(inputs, training=training, mask=mask)
        shape = ops.shape(inputs)
        frames = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        outputs = self.layer.call(frames, **kwargs)
        return ops.reshape(outputs, (shape[0], shape[1]) + tuple(outputs.shape[1:]))
