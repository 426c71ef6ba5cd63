"""Hierarchical Segment LSTM (HS-LSTM, paper Section 3.2) as a Keras RNN cell."""

from __future__ import annotations

import keras
from keras import ops

from kavan_tf.config import HS_CONTEXT_READINGS, HS_TIER1_READINGS
from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell
from kavan_tf.layers.lstm_math import input_projection, lstm_cell, lstm_update, split_kernel


@keras.saving.register_keras_serializable(package="kavan_tf")
class HSLSTMCell(keras.layers.Layer):
    """One HS-LSTM step: all tiers over one node (segment) of ``node_size`` frames.

    ``keras.layers.RNN(HSLSTMCell(...))`` runs over the ``T / node_size`` nodes
    of a GIF, with inputs ``[B, nodes, node_size, K, D]``. Every tier is an
    LSTM whose state runs on from node to node (docs/model.md, "HS-LSTM").
    Inside a step the tiers run in order over the node:

    - Tier 1 reads the node's un-attended (average-pooled) frame features:
      one step per frame (``tier1="frame"``) or one step on their mean
      (``tier1="node"``). Its hidden state at the end of the node is the
      segment representation ``H_1^i``.
    - Middle tiers ``l`` read the pooled frames too and emit ``H_l^i``.
    - The last tier is an :class:`AttentionLSTMCell` over the node's frames;
      ``sum_{l < L} H_l^i`` enters its attention score (Eq. 10). Its final
      hidden state is the GIF representation.

    The earlier tiers' sum ``sum_{l' < l} H_{l'}^i`` reaches tier ``l`` as
    input beside every frame (``context="input"``) or as tier ``l``'s hidden
    state at the start of the node (``context="state"``; its memory cell
    runs on).

    Products that do not depend on the recurrence are taken once per node
    (the pooled frames' and the context's share of every tier's
    pre-activations), not once per frame.

    The step output is ``concat([h, alpha_1..alpha_n, H_1..H_{L-1}])``; use
    :meth:`split_output` to take it apart.

    Args:
        units: Hidden size of every tier (paper: 2048).
        node_size: Frames per node (paper: 4).
        tiers: Number of tiers, at least 2 (paper: 2).
        attention: Soft attention in the last tier (else average pooling).
        attention_size: Attention projection size (paper: 32).
        w_res_init: Initial residual weight of Eq. 4.
        tier1: ``"frame"`` or ``"node"``: how tier 1 steps through a node.
        context: ``"input"`` or ``"state"``: how ``H`` reaches the next tier.
        **kwargs: Base layer arguments.

    Example:

    ```python
    cell = HSLSTMCell(units=256, node_size=4, tiers=2)
    nodes = keras.layers.Reshape((2, 4, 49, 2048))(features)  # T = 8
    outputs = keras.layers.RNN(cell, return_sequences=True)(nodes)
    parts = cell.split_output(outputs)   # hidden, attention, segments
    ```
    """

    def __init__(
        self,
        units,
        node_size=4,
        tiers=2,
        attention=True,
        attention_size=32,
        w_res_init=0.0,
        tier1="frame",
        context="input",
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
        for name, value, choices in (("tier1", tier1, HS_TIER1_READINGS),
                                     ("context", context, HS_CONTEXT_READINGS)):
            if value not in choices:
                raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")
        self.units = units
        self.node_size = node_size
        self.tiers = tiers
        self.attention = bool(attention)
        self.attention_size = attention_size
        self.w_res_init = w_res_init
        self.tier1 = tier1
        self.context = context
        self.state_size = [units] * (2 * tiers)  # h and c of every tier
        self.output_size = None
        self.segment_tiers = [
            lstm_cell(units, name=f"tier_{tier}_lstm", dtype=self.dtype_policy)
            for tier in range(1, tiers)
        ]
        self.last_tier = AttentionLSTMCell(
            units,
            attention=attention,
            attention_size=attention_size,
            w_res_init=w_res_init,
            context_units=units,
            context_as_input=context == "input",
            name=f"tier_{tiers}_attention_lstm",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] != self.node_size:
            raise ValueError(
                "`HSLSTMCell` expects per-step inputs [batch, node_size, cells, channels] "
                f"with node_size={self.node_size}. Received: input_shape={input_shape}"
            )
        batch, _, locations, channels = input_shape
        self.locations = locations
        self.output_size = self.units * self.tiers + self.node_size * locations
        self.segment_tiers[0].build((batch, channels))
        context_rows = self.units if self.context == "input" else 0
        for tier in self.segment_tiers[1:]:
            tier.build((batch, channels + context_rows))
        self.last_tier.build((batch, locations, channels))

    def call(self, inputs, states, training=False):
        """One node, tier by tier.

        Args:
            inputs: The node's frames ``[B, node_size, K, D]``.
            states: ``state_size`` tensors: ``h`` and ``c`` of tiers 1..L.
            training: Part of the cell protocol (no dropout).

        Returns:
            ``(concat([h, alpha_1..alpha_n, H_1..H_{L-1}]), new states)``.
        """
        pooled = ops.mean(inputs, axis=2)  # [B, n, D]: the un-attended features
        tier_1 = self.segment_tiers[0]
        if self.tier1 == "node":
            h, c = lstm_update(tier_1, input_projection(tier_1, ops.mean(pooled, axis=1)),
                               states[0], states[1])
        else:
            z = input_projection(tier_1, pooled)  # one product for the node's frames
            h, c = states[0], states[1]
            for step in range(self.node_size):
                h, c = lstm_update(tier_1, z[:, step], h, c)
        segments, new_states = [h], [h, c]
        context = h  # sum of the earlier tiers' H_l^i
        for index, tier in enumerate(self.segment_tiers[1:], start=1):
            h, c = states[2 * index], states[2 * index + 1]
            if self.context == "input":
                kernel_pooled, kernel_context = split_kernel(tier, pooled.shape[-1])
                z = ops.add(input_projection(tier, pooled, kernel_pooled, bias=False),
                            input_projection(tier, context, kernel_context)[:, None])
            else:
                z = input_projection(tier, pooled)
                h = context
            for step in range(self.node_size):
                h, c = lstm_update(tier, z[:, step], h, c)
            segments.append(h)
            new_states.extend([h, c])
            context = context + h
        state = [context, states[-1]] if self.context == "state" else list(states[-2:])
        context_z = (self.last_tier.context_projection(context)
                     if self.context == "input" else None)
        masks = []
        for step in range(self.node_size):
            output, state = self.last_tier(inputs[:, step], state, context=context,
                                           context_z=context_z)
            masks.append(self.last_tier.split_output(output)["attention"])
        new_states.extend(state)
        return ops.concatenate([state[0]] + masks + segments, axis=-1), new_states

    def split_output(self, outputs):
        """Splits step outputs (any leading axes) into a dict.

        Returns:
            ``{"hidden": [..., units], "attention": [..., node_size, K],
            "segments": [..., tiers - 1, units]}``.
        """
        lead = tuple(ops.shape(outputs)[:-1])
        masks_end = self.units + self.node_size * self.locations
        return {
            "hidden": outputs[..., : self.units],
            "attention": ops.reshape(
                outputs[..., self.units : masks_end], lead + (self.node_size, self.locations)
            ),
            "segments": ops.reshape(outputs[..., masks_end:], lead + (self.tiers - 1, self.units)),
        }

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

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
                "tier1": self.tier1,
                "context": self.context,
            }
        )
        return config
