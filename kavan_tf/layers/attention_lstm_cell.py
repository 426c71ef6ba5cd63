"""An LSTM cell that attends over a frame's feature cells (the paper's "Soft-Att + LSTM")."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.layers.keypoint_attention import KeypointAttention
from kavan_tf.layers.lstm_math import input_projection, lstm_cell, lstm_update


@keras.saving.register_keras_serializable(package="kavan_tf")
class AttentionLSTMCell(keras.layers.Layer):
    """LSTM cell (Eqs. 1-3) fed with keypoint-attended frame features (Eqs. 4-6).

    At each step the cell receives one frame's feature cells ``C_t`` ``[B, K, D]``,
    computes the attention mask ``alpha_t`` from ``h_{t-1}`` (Eq. 5) and feeds
    ``x_t = sum_k (alpha_t(k) + w_res) C_t(k)`` to an LSTM. With
    ``attention=False`` the cell is the plain baseline: ``x_t`` is the mean of
    the cells (global average pooling) and ``alpha_t`` is uniform.

    With ``context_units > 0`` (the last HS-LSTM tier, Eq. 10) every call
    passes ``context`` ``[B, context_units]``, the sum of earlier tiers'
    segment representations ``H``: it enters the attention score and, with
    ``context_as_input``, the LSTM's input beside ``x_t``
    (``z = x_t W + H W_H + h U + b``; ``W_H`` is the cell's ``context_kernel``).

    The output of a step is ``concat([h_t, alpha_t])``, so that
    ``keras.layers.RNN(..., return_sequences=True)`` returns the masks of all
    steps; :meth:`split_output` separates them.

    Args:
        units: LSTM state size.
        attention: Use the soft attention (else average pooling).
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        context_units: Size of the HS-LSTM context; 0 for none.
        context_as_input: Feed the context to the LSTM beside ``x_t``
            (else it only enters the attention score).
        **kwargs: Base layer arguments.

    Example:

    ```python
    cell = AttentionLSTMCell(units=512)
    outputs = keras.layers.RNN(cell, return_sequences=True)(features)  # [B, T, K, D]
    parts = cell.split_output(outputs)  # {"hidden": [B, T, 512], "attention": [B, T, K]}
    ```
    """

    def __init__(
        self,
        units,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        context_units=0,
        context_as_input=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value, minimum in (("units", units, 1), ("context_units", context_units, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value}")
        self.units = units
        self.attention = bool(attention)
        self.attention_size = attention_size
        self.w_res_init = w_res_init
        self.context_units = context_units
        self.context_as_input = bool(context_as_input)
        self.state_size = [units, units]
        self.output_size = None  # units + K, known once the input is seen
        self.lstm = lstm_cell(units, name="lstm", dtype=self.dtype_policy)
        self.keypoint_attention = (
            KeypointAttention(
                attention_size=attention_size,
                w_res_init=w_res_init,
                use_context=context_units > 0,
                name="keypoint_attention",
                dtype=self.dtype_policy,
            )
            if self.attention
            else None
        )

    def build(self, input_shape):
        # `input_shape` is one step's features: [B, K, D].
        if len(input_shape) != 3:
            raise ValueError(
                "`AttentionLSTMCell` expects per-step inputs of shape [batch, cells, "
                f"channels]. Received: input_shape={input_shape}"
            )
        batch, locations, channels = input_shape
        self.locations = locations
        self.output_size = self.units + locations
        if self.keypoint_attention is not None:
            shapes = [input_shape, (batch, self.units)]
            if self.context_units:
                shapes.append((batch, self.context_units))
            self.keypoint_attention.build(shapes)
        self.lstm.build((batch, channels))
        if self.context_units and self.context_as_input:
            self.context_kernel = self.add_weight(
                name="context_kernel", shape=(self.context_units, 4 * self.units),
                initializer="glorot_uniform",
            )

    def call(self, inputs, states, training=False, context=None, context_z=None):
        """One step: Eqs. 5-6 (or Eq. 10 with ``context``), Eq. 4, then Eqs. 1-3.

        Args:
            inputs: The frame's feature cells ``C_t`` ``[B, K, D]``.
            states: ``[h_{t-1}, c_{t-1}]``.
            training: Unused (no dropout); part of the cell protocol.
            context: ``H`` ``[B, context_units]`` (``context_units > 0`` only).
            context_z: :meth:`context_projection` of ``context``, taken once by
                a caller that runs several steps with the same context;
                ``None``: taken here.

        Returns:
            ``(concat([h_t, alpha_t]), [h_t, c_t])``.
        """
        h_prev, c_prev = states[0], states[1]
        if self.context_units and context is None:
            raise ValueError(
                f"`AttentionLSTMCell(context_units={self.context_units})` needs `context`."
            )
        if self.keypoint_attention is not None:
            extra = [context] if self.context_units else []
            x, alpha = self.keypoint_attention([inputs, h_prev] + extra)
        else:
            x = ops.mean(inputs, axis=1)
            alpha = ops.ones_like(inputs[..., 0]) / ops.cast(ops.shape(inputs)[1], inputs.dtype)
        z = input_projection(self.lstm, x)
        if self.context_units and self.context_as_input:
            z = ops.add(z, self.context_projection(context) if context_z is None else context_z)
        h, c = lstm_update(self.lstm, z, h_prev, c_prev)
        return ops.concatenate([h, ops.cast(alpha, h.dtype)], axis=-1), [h, c]

    def context_projection(self, context):
        """The context's share of the LSTM pre-activations, ``H W_H`` (any leading axes)."""
        return input_projection(self.lstm, context, self.context_kernel, bias=False)

    def split_output(self, outputs):
        """Splits ``concat([h, alpha])`` (any leading axes) into
        ``{"hidden": [..., units], "attention": [..., K]}``."""
        return {"hidden": outputs[..., : self.units], "attention": outputs[..., self.units :]}

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "attention": self.attention,
                "attention_size": self.attention_size,
                "w_res_init": self.w_res_init,
                "context_units": self.context_units,
                "context_as_input": self.context_as_input,
            }
        )
        return config
