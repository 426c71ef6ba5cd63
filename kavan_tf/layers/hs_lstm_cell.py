"""Hierarchical Segment LSTM (HS-LSTM, paper Section 3.2) as a Keras RNN cell."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell, attention_lstm_step, step_weights
from kavan_tf.layers.lstm_math import (
    SplitLSTMCell,
    input_projection,
    lstm_cell,
    lstm_update,
    split_kernel,
    without_gate_major,
)


@keras.saving.register_keras_serializable(package="kavan_tf")
class HSLSTMCell(keras.layers.Layer):
    """One HS-LSTM step: all tiers over one node (segment) of ``node_size`` frames.

    ``keras.layers.RNN(HSLSTMCell(...))`` runs over the ``T / node_size`` nodes
    of a GIF, with inputs ``[B, nodes, node_size, K, D]``. Inside a step the
    tiers run in order over the node's frames:

    - Tier 1 is an LSTM over the node's un-attended (average-pooled) frame
      features, started from zeros at every node, so that its segment
      representation ``H_1^i`` (its final hidden state) depends on node ``i``
      only.
    - Middle tiers ``l`` read the pooled features and ``sum_{l' < l} H_{l'}^i``;
      their state runs on from node to node and they emit ``H_l^i``.
    - The last tier is an :class:`AttentionLSTMCell` with context
      ``sum_{l < L} H_l^i``: the context enters its attention score (Eq. 10) and
      its input beside ``x_t``. Its state runs on from node to node; its final
      hidden state is the GIF representation.

    The step output is ``concat([h, alpha_1..alpha_n, H_1..H_{L-1}])``; use
    :meth:`split_output` to take it apart.

    Args:
        units: Hidden size of every tier (paper: 2048).
        node_size: Frames per node (paper: 4).
        tiers: Number of tiers, at least 2 (paper: 2).
        attention: Soft attention in the last tier (else average pooling).
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        **kwargs: Base layer arguments.

    Example:

    ```python
    cell = HSLSTMCell(units=256, node_size=4, tiers=2)
    nodes = keras.layers.Reshape((2, 4, 49, 2048))(features)  # T = 8
    outputs = keras.layers.RNN(cell, return_sequences=True)(nodes)
    parts = cell.split_output(outputs)   # hidden, attention, segments
    ```
    """

    # The cells of its tiers (an inference copy's subclass changes them).
    lstm_cell_class = SplitLSTMCell
    attention_cell_class = AttentionLSTMCell

    def __init__(
        self,
        units,
        node_size=4,
        tiers=2,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value, minimum in (
            ("units", units, 1),
            ("node_size", node_size, 1),
            ("tiers", tiers, 2),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value}")
        self.units = units
        self.node_size = node_size
        self.tiers = tiers
        self.attention = bool(attention)
        self.attention_size = attention_size
        self.w_res_init = w_res_init
        # Tier 1 restarts at every node, so only tiers 2..L carry state.
        self.state_size = [units] * (2 * (tiers - 1))
        self.output_size = None
        self.segment_cells = [
            lstm_cell(
                units, name=f"tier_{tier}_lstm", dtype=self.dtype_policy,
                cell_class=self.lstm_cell_class,
            )
            for tier in range(1, tiers)
        ]
        self.last_tier = self.attention_cell_class(
            units,
            attention=attention,
            attention_size=attention_size,
            w_res_init=w_res_init,
            use_context=True,
            name=f"tier_{tiers}_attention_lstm",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] != self.node_size:
            raise ValueError(
                "`HSLSTMCell` expects per-step inputs [batch, node_size, cells, channels] "
                f"with node_size={self.node_size}. Received: input_shape={input_shape}"
            )
        batch, _, cells, channels = input_shape
        self.cells = cells
        self.output_size = self.units * self.tiers + self.node_size * cells
        self.segment_cells[0].kernel_splits = (channels,)
        self.segment_cells[0].build((batch, channels))
        for cell in self.segment_cells[1:]:
            cell.kernel_splits = (channels, self.units)
            cell.build((batch, channels + self.units))
        self.last_tier.build((batch, cells, channels), context_shape=(batch, self.units))

    def call(self, inputs, states, training=False):
        """One node, tier by tier, with the plain cells: Keras ``LSTMCell`` calls
        for the segment tiers and :meth:`AttentionLSTMCell.call` for the last.

        Args:
            inputs: The node's frames ``[B, node_size, K, D]``.
            states: ``state_size`` tensors (tiers 2..L's ``h`` and ``c``).
            training: Passed to the cells.

        Returns:
            ``(concat([h, alpha_1..alpha_n, H_1..H_{L-1}]), new states)``.
        """
        pooled = ops.mean(inputs, axis=2)  # [B, n, D]: the un-attended features
        zeros = ops.zeros((ops.shape(inputs)[0], self.units), dtype=self.compute_dtype)
        state = [zeros, zeros]  # tier 1 starts from zeros at every node
        for step in range(self.node_size):
            _, state = self.segment_cells[0](pooled[:, step], state, training=training)
        segments = [state[0]]
        context = state[0]
        new_states = []
        for index, cell in enumerate(self.segment_cells[1:]):
            state = list(states[2 * index : 2 * index + 2])
            for step in range(self.node_size):
                frame = ops.concatenate([pooled[:, step], context], axis=-1)
                _, state = cell(frame, state, training=training)
            new_states.extend(state)
            segments.append(state[0])
            context = context + state[0]
        state = list(states[-2:])
        masks = []
        for step in range(self.node_size):
            output, state = self.last_tier(inputs[:, step], state, training=training,
                                           context=context)
            masks.append(self.last_tier.split_output(output)[1])
        new_states.extend(state)
        return ops.concatenate([state[0]] + masks + segments, axis=-1), new_states

    def run_nodes(self, inputs, states=None, training=False):
        """The fast path: the cell over all nodes, equal to
        ``keras.layers.RNN(cell, return_sequences=True)`` up to rounding (tested,
        with its gradients), as Keras' ``LSTM`` keeps a fused path beside its cell.

        Products that do not depend on the recurrence are taken once for all
        frames and nodes (tier 1, which restarts at every node, runs all nodes
        as one batch; the context's share of the last tier's pre-activations is
        one product), so each reads the weights once instead of once per frame:
        a small-batch recurrence is bound by reading its weights.

        Call it from a layer's ``call`` (as :class:`TemporalEncoder` does), where
        Keras casts the weights to the compute dtype under mixed precision.

        Args:
            inputs: ``[B, nodes, node_size, K, D]``.
            states: Initial states (``state_size`` tensors); ``None`` for zeros.
            training: Passed to the sublayers.

        Returns:
            ``(outputs [B, nodes, output_size], final states)``.
        """
        nodes = inputs.shape[1]
        pooled = ops.mean(inputs, axis=3)  # [B, N, n, D]: un-attended features
        channels = pooled.shape[-1]
        if states is None:
            states = [None] * len(self.state_size)

        tier_1 = self.segment_cells[0]
        z_pooled = input_projection(tier_1, ops.reshape(pooled, (-1, self.node_size, channels)))
        h = c = None  # tier 1 starts from zeros at every node
        recurrent = tier_1.recurrent_kernel
        for step in range(self.node_size):
            h, c = lstm_update(tier_1, z_pooled[:, step], h, c, recurrent)
        segments = [ops.reshape(h, (-1, nodes, self.units))]  # [B, N, U] per tier
        contexts = segments[0]

        new_states = []
        for index, cell in enumerate(self.segment_cells[1:]):
            kernel_pooled, kernel_context = split_kernel(cell, channels)
            z_nodes = ops.add(
                input_projection(cell, pooled, kernel_pooled, bias=False),
                ops.expand_dims(input_projection(cell, contexts, kernel_context), 2),
            )  # [B, N, n, 4U]
            h, c = states[2 * index : 2 * index + 2]
            recurrent = cell.recurrent_kernel
            hidden = []
            for node in range(nodes):
                for step in range(self.node_size):
                    h, c = lstm_update(cell, z_nodes[:, node, step], h, c, recurrent)
                hidden.append(h)
            new_states.extend([h, c])
            segments.append(ops.stack(hidden, axis=1))
            contexts = contexts + segments[-1]

        # The last tier's weights are read once for all steps (step_weights).
        weights = step_weights(self.last_tier, contexts)  # context_z: [B, N, 4U]
        context_z = weights["context_z"]
        state = list(states[-2:])
        if state[0] is None:
            zeros = ops.zeros((ops.shape(inputs)[0], self.units), dtype=self.compute_dtype)
            state = [zeros, zeros]
        outputs = []
        for node in range(nodes):
            masks = []
            for step in range(self.node_size):
                output, state = attention_lstm_step(
                    self.last_tier,
                    inputs[:, node, step],
                    state,
                    context=contexts[:, node],
                    weights={"kernels": weights["kernels"], "context_z": context_z[:, node]},
                )
                masks.append(self.last_tier.split_output(output)[1])
            outputs.append(
                ops.concatenate([state[0]] + masks + [s[:, node] for s in segments], axis=-1)
            )
        new_states.extend(state)
        return ops.stack(outputs, axis=1), new_states

    def split_output(self, outputs):
        """Splits step outputs (any leading axes) into a dict.

        Returns:
            ``{"hidden": [..., units], "attention": [..., node_size, K],
            "segments": [..., tiers - 1, units]}``.
        """
        lead = tuple(ops.shape(outputs)[:-1])
        masks_end = self.units + self.node_size * self.cells
        return {
            "hidden": outputs[..., : self.units],
            "attention": ops.reshape(
                outputs[..., self.units : masks_end], lead + (self.node_size, self.cells)
            ),
            "segments": ops.reshape(outputs[..., masks_end:], lead + (self.tiers - 1, self.units)),
        }

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    @classmethod
    def from_config(cls, config):
        return cls(**without_gate_major(config, cls.__name__))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "node_size": self.node_size,
                "tiers": self.tiers,
                "attention": self.attention,
                "attention_size": self.attention_size,
                "w_res_init": self.w_res_init,
            }
        )
        return config
