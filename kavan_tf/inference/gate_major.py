"""Gate-major LSTM kernels: the layout small-batch bfloat16 recurrences read fastest on CPU.

An inference copy (:func:`kavan_tf.inference.for_inference`) can store each
row block of an LSTM kernel (the blocks multiply the parts of a cell's
input, e.g. pooled frames and HS-LSTM context) as the bytes of its
transpose, ``[4 x units, rows]``, in the variable's own ``[rows, 4 x units]``
shape. A small-batch product then reads the weights row by row, which
oneDNN does faster on this machine's CPU in bfloat16
(``benchmarks/bench_head_inference.py``; docs/performance.md). Splitting
the blocks and reshaping them copies nothing.

It is a weight transform: :func:`convert_kernels` rewrites the values and
:func:`mark_gate_major` marks the LSTM cells, whose products go through
:func:`kavan_tf.layers.lstm_math.kernel_product`. The layers are the same
classes. A model built with the layout from scratch would start training
from a recurrent kernel that is not orthogonal: it is for inference copies.
"""

from __future__ import annotations

import keras
import numpy as np

from kavan_tf.layers.hs_lstm_cell import HSLSTMCell
from kavan_tf.layers.temporal_encoder import TemporalEncoder


def kernel_blocks(encoder: TemporalEncoder) -> list[tuple[keras.layers.LSTMCell, list]]:
    """Every LSTM cell of ``encoder`` with its kernels and their row blocks.

    Returns:
        ``[(cell, [(variable, splits or None), ...]), ...]``.
    """
    cell = encoder.cell
    found: list[tuple[keras.layers.LSTMCell, list]] = []
    if isinstance(cell, HSLSTMCell):
        for index, tier in enumerate(cell.segment_tiers):
            splits = None
            if index and cell.context == "input":  # [pooled frames, context] rows
                splits = (tier.kernel.shape[0] - cell.units, cell.units)
            found.append((tier, [(tier.kernel, splits), (tier.recurrent_kernel, None)]))
        last = cell.last_tier
    else:
        last = cell
    kernels = [(last.lstm.kernel, None), (last.lstm.recurrent_kernel, None)]
    if getattr(last, "context_kernel", None) is not None:
        kernels.append((last.context_kernel, None))
    found.append((last.lstm, kernels))
    return found


def mark_gate_major(encoder: TemporalEncoder) -> None:
    """Marks ``encoder``'s LSTM cells as storing their kernels gate-major."""
    for cell, _ in kernel_blocks(encoder):
        cell.gate_major = True


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


def convert_kernels(encoder: TemporalEncoder, inverse: bool = False) -> None:
    """Rewrites ``encoder``'s LSTM kernel values from input-major to
    gate-major (``inverse``: back), in place."""
    for _, kernels in kernel_blocks(encoder):
        for variable, splits in kernels:
            variable.assign(to_gate_major(np.asarray(variable.numpy()), splits, inverse))
