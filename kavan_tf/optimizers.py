"""Adam whose dense update is one fused TensorFlow kernel per variable.

Keras 3's ``Adam.update_step`` is written in backend-neutral ops: for each
variable it runs about ten elementwise ops, each reading and writing whole
tensors. The HS-LSTM head at paper size holds 84 M parameters, so on a CPU
that update streams several GB per step. TensorFlow's ``ResourceApplyAdam``
kernel computes the same update in one pass over the variable, its two
moments and the gradient (``benchmarks/bench_head_training.py --optimizer
keras`` against the default measures the difference).

The arithmetic is Keras' (and TensorFlow's ``ApplyAdam``)::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1)
    v += (g^2 - v) * (1 - beta_2)
    w -= alpha * m / (sqrt(v) + epsilon)

Everything else (learning-rate schedules, weight decay, clipping, EMA, loss
scaling, gradient accumulation, distribution) is Keras' own: only the
per-variable update step is replaced, and it falls back to Keras' for
``amsgrad``, sparse (``IndexedSlices``) gradients and non-TensorFlow backends.

Example::

    model.compile(optimizer=kavan_tf.optimizers.FusedAdam(1e-4))
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _resource(variable):
    """The ``tf.Variable`` behind a Keras variable (or the variable itself)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


@keras.saving.register_keras_serializable(package="kavan_tf")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with TensorFlow's fused dense update.

    Takes the arguments of ``keras.optimizers.Adam`` and gives the same
    updates up to float rounding (tests compare the two over several steps,
    also under ``MirroredStrategy`` and mixed precision).
    """

    def update_step(self, gradient, variable, learning_rate):
        if (
            self.amsgrad
            or keras.backend.backend() != "tensorflow"
            or isinstance(gradient, tf.IndexedSlices)
        ):
            return super().update_step(gradient, variable, learning_rate)
        var = _resource(variable)
        index = self._get_variable_index(variable)
        m = _resource(self._momentums[index])
        v = _resource(self._velocities[index])
        dtype = var.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle,
            m=m.handle,
            v=v.handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), local_step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
