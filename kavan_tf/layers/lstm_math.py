"""The LSTM update of ``keras.layers.LSTMCell``, split so that input products can be hoisted.

``keras.layers.LSTMCell`` computes ``z = x W + h U + b`` at every step. When
``x W`` is known for several steps at once (tier 1 of HS-LSTM reads a node's
pooled frames, which do not depend on the recurrence) or part of ``x`` is the
same at every step (the HS-LSTM context), computing that product once for all
steps reads the weights once instead of once per step, which is what a
small-batch recurrence spends its time on. These functions use the cell's own
variables, so weights and checkpoints are those of ``LSTMCell`` (in the
input-major layout models are trained in).

Inference copies (:func:`kavan_tf.models.for_inference`) store the kernels
*gate-major*: each row block of a kernel (the blocks are the parts of the
cell's input, ``cell.kernel_splits``, e.g. frame features and HS-LSTM
context) holds the bytes of its transpose, ``[4 x units, rows]``, in the
variable's own ``[rows, 4 x units]`` shape. A small-batch product then reads
the weights row by row, which oneDNN does faster on CPU than with the
input-major layout, bfloat16 most (``benchmarks/bench_lstm_bandwidth.py``);
splitting the blocks and reshaping them copies nothing. :func:`to_gate_major`
converts the values. Only these functions read gate-major kernels: calling
such a cell as a Keras ``LSTMCell`` raises an error. The layout is for
inference copies: a model built with it from scratch would start training
from a recurrent kernel that is not orthogonal.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class Orthogonal(keras.initializers.Orthogonal):
    """Keras' orthogonal initialiser, computed in float32 whatever the variable dtype.

    Its QR decomposition has no bfloat16 kernel, so Keras' own initialiser
    cannot create the recurrent weights of an LSTM stored in bfloat16
    (``kavan_tf.models.for_inference(model, "bfloat16")``). Same values as
    ``keras.initializers.Orthogonal`` for the same seed.
    """

    def __call__(self, shape, dtype=None):
        values = super().__call__(shape, dtype="float32")
        return ops.cast(values, dtype or "float32")


def lstm_cell(
    units: int, name: str, dtype, gate_major: bool = False
) -> keras.layers.LSTMCell:
    """``keras.layers.LSTMCell(units)`` with defaults that also build in bfloat16.

    ``gate_major``: the kernels are stored gate-major (module docstring). The
    owner sets ``cell.kernel_splits``, the row blocks of the input kernel,
    when it builds the cell (default: one block).
    """
    return _LSTMCell(
        units, gate_major=gate_major, recurrent_initializer=Orthogonal(), name=name, dtype=dtype
    )


class _LSTMCell(keras.layers.LSTMCell):
    """``keras.layers.LSTMCell`` that knows its kernel layout and refuses to run
    on gate-major kernels, which its own ``call`` would read as input-major ones."""

    def __init__(self, units, gate_major=False, **kwargs):
        super().__init__(units, **kwargs)
        self.gate_major = bool(gate_major)
        self.kernel_splits = None  # set by the owner before building

    def call(self, inputs, states, training=False):
        if self.gate_major:
            raise ValueError(
                f"LSTM cell {self.name!r} stores its kernels gate-major (an inference "
                "layout); run it through kavan_tf.layers.lstm_math, as the KAVAN cells do."
            )
        return super().call(inputs, states, training=training)


def product(inputs, block, gate_major: bool):
    """``inputs W`` for a kernel block ``W`` ``[rows, cols]`` stored as is or gate-major."""
    if not gate_major:
        return ops.matmul(inputs, block)
    rows, cols = block.shape
    return ops.einsum("...k,nk->...n", inputs, ops.reshape(block, (cols, rows)))


def input_projection(cell: keras.layers.LSTMCell, inputs, kernel=None, bias=True):
    """``inputs W (+ b)`` for any leading axes; ``kernel`` (a block from
    :func:`split_kernel`) defaults to the cell's whole kernel."""
    z = product(inputs, cell.kernel if kernel is None else kernel, cell.gate_major)
    if bias and cell.use_bias:
        z = ops.add(z, cell.bias)
    return z


def split_kernel(cell: keras.layers.LSTMCell, rows: int):
    """The cell's input kernel as ``(W[:rows], W[rows:])`` (no copy in TensorFlow).

    Split once per call, not once per step: the gradient of a split is the
    concatenation of its parts' gradients (zeros for an unused part), a
    full-size kernel written each time.
    """
    return ops.split(cell.kernel, [rows], axis=0)


def lstm_update(
    cell: keras.layers.LSTMCell, z_input, h_prev=None, c_prev=None, recurrent_kernel=None
):
    """One step from the input pre-activations ``z_input = x W + b``.

    ``h_prev`` / ``c_prev`` of ``None`` stand for a zero state (the recurrent
    product is then skipped). ``recurrent_kernel``: the cell's, read once by a
    caller that runs several steps (default: read here). Returns ``(h, c)``;
    for an input-major cell, equal to ``cell(x, [h_prev, c_prev])`` up to
    rounding.
    """
    z = z_input
    if h_prev is not None:
        if recurrent_kernel is None:
            recurrent_kernel = cell.recurrent_kernel
        z = ops.add(z, product(h_prev, recurrent_kernel, cell.gate_major))
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    gate = cell.recurrent_activation
    c = gate(z_i) * cell.activation(z_c)
    if c_prev is not None:
        c = c + gate(z_f) * c_prev
    h = gate(z_o) * cell.activation(c)
    return h, c


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
    """Rewrites built gate-major ``cells``' kernel values from input-major ones
    (``inverse``: back), in place. Each cell's ``kernel_splits`` gives its blocks."""
    for cell in cells:
        cell.kernel.assign(to_gate_major(cell.kernel.numpy(), cell.kernel_splits, inverse))
        cell.recurrent_kernel.assign(
            to_gate_major(cell.recurrent_kernel.numpy(), None, inverse)
        )
