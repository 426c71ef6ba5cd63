"""An LSTM cell that attends over a frame's feature cells (the paper's "Soft-Att + LSTM")."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.layers.keypoint_attention import KeypointAttention
from kavan_tf.layers.lstm_math import (
    SplitLSTMCell,
    input_projection,
    lstm_cell,
    lstm_update,
    split_kernel,
    without_gate_major,
)


@keras.saving.register_keras_serializable(package="kavan_tf")
class AttentionLSTMCell(keras.layers.Layer):
    """LSTM cell (Eqs. 1-3) fed with keypoint-attended frame features (Eqs. 4-6).

    At each step the cell receives one frame's feature cells ``C_t`` ``[B, K, D]``,
    computes the attention mask ``alpha_t`` from ``h_{t-1}`` (Eq. 5) and feeds
    ``x_t = sum_k (alpha_t(k) + w_res) C_t(k)`` to an LSTM. With
    ``attention=False`` the cell is the plain baseline: ``x_t`` is the mean of
    the cells (global average pooling) and ``alpha_t`` is uniform.

    When ``use_context=True`` (the last HS-LSTM tier, Eq. 10) the caller passes
    ``context`` ``[B, d_H]``, the sum of earlier tiers' segment representations:
    it enters the attention score and is concatenated to ``x_t``.

    The output of a step is ``concat([h_t, alpha_t])``, so that
    ``keras.layers.RNN(..., return_sequences=True)`` returns the masks of all
    steps; :meth:`split_output` separates them.

    Args:
        units: LSTM state size.
        attention: Use the soft attention (else average pooling).
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        use_context: Whether calls pass an HS-LSTM context (Eq. 10).
        **kwargs: Base layer arguments.

    Example:

    ```python
    cell = AttentionLSTMCell(units=512)
    outputs = keras.layers.RNN(cell, return_sequences=True)(features)  # [B, T, K, D]
    hidden, alpha = cell.split_output(outputs)
    ```
    """

    lstm_cell_class = SplitLSTMCell  # its LSTM (an inference copy's subclass changes it)

    def __init__(
        self,
        units,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        use_context=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"`units` must be a positive int. Received: units={units}")
        self.units = units
        self.attention = bool(attention)
        self.attention_size = attention_size
        self.w_res_init = w_res_init
        self.use_context = bool(use_context)
        self.state_size = [units, units]
        self.output_size = None  # units + K, known once the input is seen
        self.lstm = lstm_cell(
            units, name="lstm", dtype=self.dtype_policy, cell_class=self.lstm_cell_class
        )
        self.keypoint_attention = (
            KeypointAttention(
                attention_size=attention_size,
                w_res_init=w_res_init,
                use_context=use_context,
                name="keypoint_attention",
                dtype=self.dtype_policy,
            )
            if self.attention
            else None
        )

    def build(self, input_shape, context_shape=None):
        # `input_shape` is one step's features: [B, K, D].
        if len(input_shape) != 3:
            raise ValueError(
                "`AttentionLSTMCell` expects per-step inputs of shape [batch, cells, "
                f"channels]. Received: input_shape={input_shape}"
            )
        batch, cells, channels = input_shape
        self.cells = cells
        self.output_size = self.units + cells
        context_dim = 0
        if self.use_context:
            if context_shape is None:
                raise ValueError(
                    "`AttentionLSTMCell(use_context=True)` needs `context_shape` to build."
                )
            context_dim = context_shape[-1]
        if self.keypoint_attention is not None:
            shapes = [input_shape, (batch, self.units)]
            if self.use_context:
                shapes.append((batch, context_dim))
            self.keypoint_attention.build(shapes)
        self.lstm.kernel_splits = (channels, context_dim) if context_dim else (channels,)
        self.lstm.build((batch, channels + context_dim))

    def call(self, inputs, states, training=False, context=None):
        """One step: Eqs. 5-6 (or Eq. 10 with ``context``), Eq. 4, then Eqs. 1-3.

        Args:
            inputs: The frame's feature cells ``C_t`` ``[B, K, D]``.
            states: ``[h_{t-1}, c_{t-1}]``.
            training: Unused (no dropout); part of the cell protocol.
            context: ``sum_l H_l^i`` ``[B, d_H]`` (``use_context=True`` only).

        Returns:
            ``(concat([h_t, alpha_t]), [h_t, c_t])``.
        """
        return attention_lstm_step(self, inputs, states, context)

    def split_output(self, outputs):
        """Splits ``concat([h, alpha])`` (any leading axes) into ``(h, alpha)``."""
        return outputs[..., : self.units], outputs[..., self.units :]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype) for _ in range(2)]

    @classmethod
    def from_config(cls, config):
        return cls(**without_gate_major(config, cls.__name__))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "attention": self.attention,
                "attention_size": self.attention_size,
                "w_res_init": self.w_res_init,
                "use_context": self.use_context,
            }
        )
        return config


def attention_lstm_step(cell: AttentionLSTMCell, inputs, states, context=None, weights=None):
    """:meth:`AttentionLSTMCell.call`, given the weights every step reads.

    A caller that runs many steps (the unrolled HS-LSTM, whose last tier is
    this cell) passes ``weights`` from :func:`step_weights`: the kernels, and
    the context's share of the pre-activations, are then read once for all
    steps, and their gradients gathered once, instead of once per step. With
    ``weights=None`` they are read here, which is the cell's own ``call``.
    """
    h_prev, c_prev = states[0], states[1]
    if cell.keypoint_attention is not None:
        attention_inputs = [inputs, h_prev] + ([context] if cell.use_context else [])
        x, alpha = cell.keypoint_attention(attention_inputs)
    else:
        x = ops.mean(inputs, axis=1)
        alpha = ops.ones_like(inputs[..., 0]) / ops.cast(ops.shape(inputs)[1], inputs.dtype)
    if weights is None:
        weights = step_weights(cell, context)
    kernel_x, recurrent_kernel = weights["kernels"]
    if cell.use_context:
        # [x, context] W + b = x W_x + (context W_context + b).
        z = ops.add(input_projection(cell.lstm, x, kernel_x, bias=False), weights["context_z"])
    else:
        z = input_projection(cell.lstm, x, kernel_x)
    h, c = lstm_update(cell.lstm, z, h_prev, c_prev, recurrent_kernel)
    return ops.concatenate([h, ops.cast(alpha, h.dtype)], axis=-1), [h, c]


def step_weights(cell: AttentionLSTMCell, context=None):
    """What every step of ``cell`` reads from its LSTM's weights, read once.

    Returns ``{"kernels": (W_x, U), "context_z": context W_context + b}``:
    the input kernel's block for the attended features, the recurrent
    kernel, and (``use_context`` and a ``context`` ``[..., d_H]`` given;
    else ``None``) the context's constant share of the pre-activations.
    Call it from a layer's ``call`` (mixed precision casts the weights
    there).
    """
    if not cell.use_context:
        return {"kernels": (cell.lstm.kernel, cell.lstm.recurrent_kernel), "context_z": None}
    kernel_x, kernel_context = split_kernel(cell.lstm, cell.lstm.kernel_splits[0])
    context_z = None
    if context is not None:
        context_z = input_projection(cell.lstm, context, kernel_context)
    return {"kernels": (kernel_x, cell.lstm.recurrent_kernel), "context_z": context_z}
