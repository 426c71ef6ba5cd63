"""The LSTM update (paper Eqs. 1-3), written once for every KAVAN cell.

``keras.layers.LSTMCell`` computes ``z = x W + h U + b`` at every step. The
KAVAN cells keep a ``keras.layers.LSTMCell`` per tier for its weights (so the
variables, initialisers and checkpoints are Keras' own) and split its step in
two: :func:`input_projection` (``x W + b``), which a cell takes once for all
the steps whose inputs it already knows, and :func:`lstm_update` (``+ h U``,
the gates and the state), which runs once per step. Taking the input product
once for several steps reads the weights once instead of once per step, which
is what a small-batch recurrence spends its time on; it is the same work
Keras moves out of its own fused LSTM.

Every product with a kernel goes through :func:`kernel_product`, so that an
inference copy can store the kernels gate-major
(:mod:`kavan_tf.inference.gate_major`) without the cells knowing of it.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class Orthogonal(keras.initializers.Orthogonal):
    """Keras' orthogonal initialiser, computed in float32 whatever the variable dtype.

    Its QR decomposition has no bfloat16 kernel, so Keras' own initialiser
    cannot create the recurrent weights of an LSTM stored in bfloat16
    (``kavan_tf.inference.for_inference(model, "bfloat16")``). Same values as
    ``keras.initializers.Orthogonal`` for the same seed.
    """

    def __call__(self, shape, dtype=None):
        values = super().__call__(shape, dtype="float32")
        return ops.cast(values, dtype or "float32")


def lstm_cell(units: int, name: str, dtype) -> keras.layers.LSTMCell:
    """``keras.layers.LSTMCell(units)`` whose recurrent kernel also builds in bfloat16."""
    return keras.layers.LSTMCell(units, recurrent_initializer=Orthogonal(), name=name, dtype=dtype)


def kernel_product(cell: keras.layers.LSTMCell, inputs, block):
    """``inputs W`` for a kernel ``W`` of ``cell``, or a row block of one.

    A cell marked ``gate_major`` (an inference copy's,
    :mod:`kavan_tf.inference.gate_major`) stores each block ``[rows, cols]``
    as the bytes of its transpose; the product then reads it row by row.
    """
    if getattr(cell, "gate_major", False):
        rows, cols = block.shape
        return ops.einsum("...k,nk->...n", inputs, ops.reshape(block, (cols, rows)))
    return ops.matmul(inputs, block)


def input_projection(cell: keras.layers.LSTMCell, inputs, kernel=None, bias=True):
    """``inputs W (+ b)`` for any leading axes.

    Args:
        cell: The LSTM cell whose weights are used.
        inputs: ``[..., rows]``.
        kernel: A row block of the cell's kernel (:func:`split_kernel`);
            ``None``: the whole kernel.
        bias: Add the cell's bias.

    Returns:
        The input pre-activations ``[..., 4 x units]``.
    """
    z = kernel_product(cell, inputs, cell.kernel if kernel is None else kernel)
    if bias and cell.use_bias:
        z = ops.add(z, cell.bias)
    return z


def split_kernel(cell: keras.layers.LSTMCell, rows: int):
    """The cell's input kernel as ``(W[:rows], W[rows:])``: the blocks that
    multiply the two parts of a concatenated input ``[a, b]``."""
    return ops.split(cell.kernel, [rows], axis=0)


def lstm_update(cell: keras.layers.LSTMCell, z_input, h_prev, c_prev):
    """One LSTM step (Eqs. 1-3) from the input pre-activations ``z_input = x W + b``.

    The gates are in ``keras.layers.LSTMCell``'s order (input, forget, cell,
    output), so that ``lstm_update(cell, input_projection(cell, x), h, c)``
    equals ``cell(x, [h, c])``.

    Returns:
        ``(h, c)``.
    """
    z = ops.add(z_input, kernel_product(cell, h_prev, cell.recurrent_kernel))
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    gate = cell.recurrent_activation
    c = gate(z_f) * c_prev + gate(z_i) * cell.activation(z_c)
    h = gate(z_o) * cell.activation(c)
    return h, c
