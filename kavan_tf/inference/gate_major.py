"""Gate-major LSTM kernels: the layout small-batch recurrences read fastest on CPU.

An inference copy (:func:`kavan_tf.inference.for_inference`) stores each row
block of an LSTM kernel (the blocks are the parts of the cell's input,
``cell.kernel_splits``, e.g. frame features and HS-LSTM context) as the
bytes of its transpose, ``[4 x units, rows]``, in the variable's own
``[rows, 4 x units]`` shape. A small-batch product then reads the weights
row by row, which oneDNN does faster on CPU than with the input-major
layout, bfloat16 most (``benchmarks/bench_lstm_bandwidth.py``); splitting
the blocks and reshaping them copies nothing. :func:`to_gate_major`
converts the values.

The paper's layers know nothing of it: they multiply by their kernels
through :meth:`kavan_tf.layers.lstm_math.SplitLSTMCell.project`, and the
classes here are their subclasses that change only which cell class they
build. The layout is for inference copies: a model built with it from
scratch would start training from a recurrent kernel that is not orthogonal.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell
from kavan_tf.layers.hs_lstm_cell import HSLSTMCell
from kavan_tf.layers.lstm_math import SplitLSTMCell
from kavan_tf.layers.temporal_encoder import TemporalEncoder


class GateMajorLSTMCell(SplitLSTMCell):
    """An LSTM cell whose kernels are stored gate-major. Only the KAVAN
    cells' own update (:mod:`kavan_tf.layers.lstm_math`) reads them: its Keras
    ``call`` would read them as input-major ones, and raises instead."""

    def project(self, inputs, block):
        rows, cols = block.shape
        return ops.einsum("...k,nk->...n", inputs, ops.reshape(block, (cols, rows)))

    def call(self, inputs, states, training=False):
        raise ValueError(
            f"LSTM cell {self.name!r} stores its kernels gate-major (an inference "
            "layout); run it through kavan_tf.layers.lstm_math, as the KAVAN layers do."
        )


@keras.saving.register_keras_serializable(package="kavan_tf")
class GateMajorAttentionLSTMCell(AttentionLSTMCell):
    """:class:`AttentionLSTMCell` with a gate-major LSTM."""

    lstm_cell_class = GateMajorLSTMCell


@keras.saving.register_keras_serializable(package="kavan_tf")
class GateMajorHSLSTMCell(HSLSTMCell):
    """:class:`HSLSTMCell` with gate-major LSTMs in every tier.

    Runs through :meth:`HSLSTMCell.run_nodes` (what :class:`TemporalEncoder`
    calls); its plain ``call``, which ``keras.layers.RNN`` would use, goes
    through Keras' ``LSTMCell.call`` and raises on gate-major kernels.
    """

    lstm_cell_class = GateMajorLSTMCell
    attention_cell_class = GateMajorAttentionLSTMCell


@keras.saving.register_keras_serializable(package="kavan_tf")
class GateMajorTemporalEncoder(TemporalEncoder):
    """:class:`TemporalEncoder` whose cells store their kernels gate-major."""

    lstm_cell_class = GateMajorAttentionLSTMCell
    hs_lstm_cell_class = GateMajorHSLSTMCell


def to_gate_major(kernel: np.ndarray, splits=None, inverse: bool = False) -> np.ndarray:
    """Converts kernel values to the gate-major layout (``inverse``: back).

    Args:
        kernel: ``[rows, cols]`` values.
        splits: Row counts of the blocks (summing to ``rows``); ``None``: one block.
        inverse: Convert gate-major values back to ``[rows, cols]`` matrices.

    Returns:
        Values of the same shape.
    """
    kernel = np.asarray(kernel)
    splits = list(splits or [kernel.shape[0]])
    if sum(splits) != kernel.shape[0]:
        raise ValueError(
            f"`splits` must sum to the kernel's {kernel.shape[0]} rows. Received: splits={splits}"
        )
    cols = kernel.shape[1]
    blocks = np.split(kernel, np.cumsum(splits)[:-1], axis=0)
    if inverse:
        blocks = [b.reshape(cols, len(b)).T for b in blocks]
    else:
        blocks = [b.T.reshape(len(b), cols) for b in blocks]
    return np.ascontiguousarray(np.concatenate(blocks, axis=0))


def convert_kernels(cells, inverse: bool = False) -> None:
    """Rewrites built ``cells``' kernel values from input-major to gate-major
    (``inverse``: back), in place. Each cell's ``kernel_splits`` gives its blocks."""
    for cell in cells:
        cell.kernel.assign(to_gate_major(cell.kernel.numpy(), cell.kernel_splits, inverse))
        cell.recurrent_kernel.assign(
            to_gate_major(cell.recurrent_kernel.numpy(), None, inverse)
        )
