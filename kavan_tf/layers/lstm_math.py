"""The LSTM update of ``keras.layers.LSTMCell``, split so that input products can be hoisted.

``keras.layers.LSTMCell`` computes ``z = x W + h U + b`` at every step. When
``x W`` is known for several steps at once (tier 1 of HS-LSTM reads a node's
pooled frames, which do not depend on the recurrence) or part of ``x`` is the
same at every step (the HS-LSTM context), computing that product once for all
steps reads the weights once instead of once per step, which is what a
small-batch recurrence spends its time on. These functions use the cell's own
variables, so weights and checkpoints are those of ``LSTMCell``.
"""

from __future__ import annotations

import keras
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


def lstm_cell(units: int, name: str, dtype) -> keras.layers.LSTMCell:
    """``keras.layers.LSTMCell(units)`` with defaults that also build in bfloat16."""
    return keras.layers.LSTMCell(
        units, recurrent_initializer=Orthogonal(), name=name, dtype=dtype
    )


def input_projection(cell: keras.layers.LSTMCell, inputs, kernel=None, bias=True):
    """``inputs W (+ b)`` for any leading axes; ``kernel`` defaults to the cell's."""
    z = ops.matmul(inputs, cell.kernel if kernel is None else kernel)
    if bias and cell.use_bias:
        z = ops.add(z, cell.bias)
    return z


def split_kernel(cell: keras.layers.LSTMCell, rows: int):
    """The cell's input kernel as ``(W[:rows], W[rows:])`` (no copy in TensorFlow)."""
    return ops.split(cell.kernel, [rows], axis=0)


def lstm_update(cell: keras.layers.LSTMCell, z_input, h_prev=None, c_prev=None):
    """One step from the input pre-activations ``z_input = x W + b``.

    ``h_prev`` / ``c_prev`` of ``None`` stand for a zero state (the recurrent
    product is then skipped). Returns ``(h, c)``; equal to
    ``cell(x, [h_prev, c_prev])`` up to rounding.
    """
    z = z_input
    if h_prev is not None:
        z = ops.add(z, ops.matmul(h_prev, cell.recurrent_kernel))
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    gate = cell.recurrent_activation
    c = gate(z_i) * cell.activation(z_c)
    if c_prev is not None:
        c = c + gate(z_f) * c_prev
    h = gate(z_o) * cell.activation(c)
    return h, c
