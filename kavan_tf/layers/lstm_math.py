"""The LSTM update of ``keras.layers.LSTMCell``, split so that input products can be hoisted.

``keras.layers.LSTMCell`` computes ``z = x W + h U + b`` at every step. When
``x W`` is known for several steps at once (tier 1 of HS-LSTM reads a node's
pooled frames, which do not depend on the recurrence) or part of ``x`` is the
same at every step (the HS-LSTM context), computing that product once for all
steps reads the weights once instead of once per step, which is what a
small-batch recurrence spends its time on. These functions use the cell's own
variables, so weights and checkpoints are those of ``LSTMCell``.

Every product with a kernel goes through the cell's :meth:`SplitLSTMCell.project`,
so that an inference copy can store the kernels in another layout by using
another cell class (:mod:`kavan_tf.inference.gate_major`) without these
functions, or the layers, knowing of it.
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


def lstm_cell(units: int, name: str, dtype, cell_class=None) -> keras.layers.LSTMCell:
    """``keras.layers.LSTMCell(units)`` with defaults that also build in bfloat16.

    The owner sets ``cell.kernel_splits``, the row blocks of the input kernel
    (e.g. frame features and HS-LSTM context), when it builds the cell.
    ``cell_class``: :class:`SplitLSTMCell` (default) or a subclass.
    """
    cell_class = cell_class or _LSTMCell
    return cell_class(units, recurrent_initializer=Orthogonal(), name=name, dtype=dtype)


class _LSTMCell(keras.layers.LSTMCell):
    """``keras.layers.LSTMCell`` that knows the row blocks of its input kernel
    (``kernel_splits``) and multiplies by its kernels through :meth:`project`.

    Public name: :data:`SplitLSTMCell`. The class keeps the name ``_LSTMCell``
    because ``.keras`` files store the weights of a list's items (HS-LSTM's
    ``segment_cells``) under their class's snake-case name (``_lstm_cell``),
    and every model saved so far holds them there.
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.kernel_splits = None  # set by the owner before building

    def project(self, inputs, block):
        """``inputs W`` for a kernel or a row block of it (any leading axes)."""
        return ops.matmul(inputs, block)


SplitLSTMCell = _LSTMCell


def input_projection(cell: SplitLSTMCell, inputs, kernel=None, bias=True):
    """``inputs W (+ b)`` for any leading axes; ``kernel`` (a block from
    :func:`split_kernel`) defaults to the cell's whole kernel."""
    z = cell.project(inputs, cell.kernel if kernel is None else kernel)
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
        z = ops.add(z, cell.project(h_prev, recurrent_kernel))
    z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
    gate = cell.recurrent_activation
    c = gate(z_i) * cell.activation(z_c)
    if c_prev is not None:
        c = c + gate(z_f) * c_prev
    h = gate(z_o) * cell.activation(c)
    return h, c


def without_gate_major(config: dict, layer: str) -> dict:
    """A layer config saved before the gate-major layout left the layers:
    ``gate_major=False`` is dropped; ``True`` (an inference copy's layer) is
    refused, since its kernels only mean something to :mod:`kavan_tf.inference`."""
    config = dict(config)
    if config.pop("gate_major", False):
        raise ValueError(
            f"This {layer} was saved by an inference copy with gate-major kernels "
            "(`gate_major=True`), a layout the layers no longer take; rebuild the copy with "
            "kavan_tf.inference.for_inference from the trained model. Received: gate_major=True"
        )
    return config
