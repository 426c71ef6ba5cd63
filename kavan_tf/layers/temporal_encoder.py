"""The temporal module: LSTM or HS-LSTM over attended frame features."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell
from kavan_tf.layers.hs_lstm_cell import HSLSTMCell


@keras.saving.register_keras_serializable(package="kavan_tf")
class TemporalEncoder(keras.layers.Layer):
    """Runs the attention + temporal module over a GIF's frame features.

    ``keras.layers.RNN`` drives an :class:`AttentionLSTMCell` over the frames
    (the paper's single-LSTM rows) or an :class:`HSLSTMCell` over the nodes
    (the HS-LSTM rows, unrolled: a GIF has few nodes); the cells' packed step
    outputs become the GIF representation and the masks.

    Args:
        temporal: ``"lstm"`` or ``"hslstm"``.
        units: Hidden size.
        attention: Soft attention on or off.
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        tiers: HS-LSTM tiers.
        node_size: HS-LSTM frames per node.
        tier1: HS-LSTM tier 1 reading, ``"frame"`` or ``"node"``
            (docs/model.md, "HS-LSTM readings").
        context: HS-LSTM context reading, ``"input"`` or ``"state"``.
        **kwargs: Base layer arguments.

    Call arguments:
        features: ``[B, T, h, w, D]`` backbone features.

    Returns:
        ``(representation [B, units], attention [B, T, h, w])``.
    """

    def __init__(
        self,
        temporal="hslstm",
        units=2048,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        tiers=2,
        node_size=4,
        tier1="frame",
        context="input",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if temporal not in ("lstm", "hslstm"):
            raise ValueError(
                f"`temporal` must be 'lstm' or 'hslstm'. Received: temporal={temporal!r}"
            )
        self.temporal = temporal
        self.units = units
        self.attention = attention
        self.attention_size = attention_size
        self.w_res_init = w_res_init
        self.tiers = tiers
        self.node_size = node_size
        self.tier1 = tier1
        self.context = context
        if temporal == "lstm":
            self.cell = AttentionLSTMCell(
                units,
                attention=attention,
                attention_size=attention_size,
                w_res_init=w_res_init,
                dtype=self.dtype_policy,
            )
        else:
            self.cell = HSLSTMCell(
                units,
                node_size=node_size,
                tiers=tiers,
                attention=attention,
                attention_size=attention_size,
                w_res_init=w_res_init,
                tier1=tier1,
                context=context,
                dtype=self.dtype_policy,
            )
        self.rnn = keras.layers.RNN(
            self.cell, return_sequences=True, unroll=temporal == "hslstm", name="rnn",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        if len(input_shape) != 5:
            raise ValueError(
                "`TemporalEncoder` expects features [batch, frames, h, w, channels]. "
                f"Received: input_shape={input_shape}"
            )
        batch, frames, height, width, channels = input_shape
        if self.temporal == "hslstm" and frames % self.node_size:
            raise ValueError(
                f"The number of frames ({frames}) must be divisible by "
                f"`node_size`. Received: node_size={self.node_size}"
            )
        self.grid = (height, width)
        self.rnn.build(self._sequence_shape(batch, frames, height * width, channels))

    def _sequence_shape(self, batch, frames, cells, channels):
        if self.temporal == "lstm":
            return (batch, frames, cells, channels)
        return (batch, frames // self.node_size, self.node_size, cells, channels)

    def call(self, features, training=False):
        frames, (height, width), channels = features.shape[1], self.grid, features.shape[-1]
        sequence = ops.reshape(
            features, (-1,) + self._sequence_shape(None, frames, height * width, channels)[1:]
        )
        parts = self.cell.split_output(self.rnn(sequence, training=training))
        representation = parts["hidden"][:, -1]
        return representation, ops.reshape(parts["attention"], (-1, frames, height, width))

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, _ = input_shape
        return (batch, self.units), (batch, frames, height, width)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "temporal": self.temporal,
                "units": self.units,
                "attention": self.attention,
                "attention_size": self.attention_size,
                "w_res_init": self.w_res_init,
                "tiers": self.tiers,
                "node_size": self.node_size,
                "tier1": self.tier1,
                "context": self.context,
            }
        )
        return config
