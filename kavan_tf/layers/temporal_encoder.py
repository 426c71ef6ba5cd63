"""The temporal module: LSTM or HS-LSTM over attended frame features."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell
from kavan_tf.layers.hs_lstm_cell import HSLSTMCell
from kavan_tf.layers.lstm_math import without_gate_major


@keras.saving.register_keras_serializable(package="kavan_tf")
class TemporalEncoder(keras.layers.Layer):
    """Runs the attention + temporal module over a GIF's frame features.

    Wraps ``keras.layers.RNN`` around an :class:`AttentionLSTMCell` (the paper's
    single-LSTM rows) or an :class:`HSLSTMCell` (the HS-LSTM rows), and turns the
    cells' packed step outputs into the GIF representation and the masks.

    Args:
        temporal: ``"lstm"`` or ``"hslstm"``.
        units: Hidden size.
        attention: Soft attention on or off.
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        tiers: HS-LSTM tiers.
        node_size: HS-LSTM frames per node.
        **kwargs: Base layer arguments.

    Call arguments:
        features: ``[B, T, h, w, D]`` backbone features.

    Returns:
        ``(representation [B, units], attention [B, T, h, w])``.
    """

    # The cells it runs (an inference copy's subclass changes them).
    lstm_cell_class = AttentionLSTMCell
    hs_lstm_cell_class = HSLSTMCell

    def __init__(
        self,
        temporal="hslstm",
        units=2048,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        tiers=2,
        node_size=4,
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
        if temporal == "lstm":
            self.cell = self.lstm_cell_class(
                units,
                attention=attention,
                attention_size=attention_size,
                w_res_init=w_res_init,
                dtype=self.dtype_policy,
            )
        else:
            self.cell = self.hs_lstm_cell_class(
                units,
                node_size=node_size,
                tiers=tiers,
                attention=attention,
                attention_size=attention_size,
                w_res_init=w_res_init,
                dtype=self.dtype_policy,
            )
        self.rnn = keras.layers.RNN(
            self.cell, return_sequences=True, name="rnn", dtype=self.dtype_policy
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
        if self.temporal == "lstm":
            hidden, masks = self.cell.split_output(self.rnn(sequence, training=training))
            representation = hidden[:, -1]
        else:  # the nodes unrolled, with products shared across nodes (HSLSTMCell.run_nodes)
            outputs, _ = self.cell.run_nodes(sequence, training=training)
            parts = self.cell.split_output(outputs)
            representation = parts["hidden"][:, -1]
            masks = parts["attention"]
        return representation, ops.reshape(masks, (-1, frames, height, width))

    def lstm_cells(self):
        """The ``keras.layers.LSTMCell`` s whose variables hold the LSTM kernels."""
        if self.temporal == "lstm":
            return [self.cell.lstm]
        return list(self.cell.segment_cells) + [self.cell.last_tier.lstm]

    def compute_output_shape(self, input_shape):
        batch, frames, height, width, _ = input_shape
        return (batch, self.units), (batch, frames, height, width)

    @classmethod
    def from_config(cls, config):
        return cls(**without_gate_major(config, cls.__name__))

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
            }
        )
        return config
