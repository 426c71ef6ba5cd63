"""Keypoint-attended soft attention (paper Eqs. 4-6 and 10)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kavan_tf")
class KeypointAttention(keras.layers.Layer):
    """Soft spatial attention over a frame's feature cells, with a residual link.

    Implements, for one frame with cells ``C(k)``, ``k = 1..K``:

    - Eq. 5 / Eq. 10: ``a~(k) = v tanh(A_h h + A_H H + A_c C(k) + b)``, where the
      ``A_H H`` term (the summed segment representations of earlier HS-LSTM
      tiers) is present only when a context tensor is passed;
    - Eq. 6: ``alpha = softmax_k(a~)``;
    - Eq. 4: ``x = sum_k (alpha(k) + w_res) C(k)`` with ``w_res`` a learnable
      scalar.

    The masks ``alpha`` are what the keypoint loss (Eq. 7) supervises.

    Args:
        attention_size: Size of the projection that ``v`` reads (paper: 32).
        w_res_init: Initial value of the residual weight ``w_res``.
        use_context: Whether calls pass the HS-LSTM context ``H`` (Eq. 10).
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``[features, query]`` or ``[features, query, context]`` with
            ``features`` ``[B, K, D]``, ``query`` (previous hidden state)
            ``[B, d]`` and ``context`` ``[B, d_H]``.

    Returns:
        ``(x, alpha)``: attended features ``[B, D]`` and masks ``[B, K]``.

    Example:

    ```python
    layer = KeypointAttention(attention_size=32, w_res_init=0.0)
    x, alpha = layer([features, hidden])   # features [B, 49, 2048]
    ```
    """

    def __init__(self, attention_size=32, w_res_init=0.0, use_context=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(attention_size, int) or attention_size <= 0:
            raise ValueError(
                "`attention_size` must be a positive int. "
                f"Received: attention_size={attention_size}"
            )
        if not isinstance(w_res_init, (int, float)) or isinstance(w_res_init, bool):
            raise ValueError(f"`w_res_init` must be a number. Received: w_res_init={w_res_init}")
        self.attention_size = attention_size
        self.w_res_init = float(w_res_init)
        self.use_context = bool(use_context)

    def build(self, input_shape):
        expected = 3 if self.use_context else 2
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != expected:
            raise ValueError(
                f"`KeypointAttention(use_context={self.use_context})` expects {expected} "
                f"inputs. Received: input_shape={input_shape}"
            )
        feature_dim = input_shape[0][-1]
        query_dim = input_shape[1][-1]
        self.feature_kernel = self.add_weight(
            name="feature_kernel", shape=(feature_dim, self.attention_size)
        )
        self.bias = self.add_weight(name="bias", shape=(self.attention_size,), initializer="zeros")
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_dim, self.attention_size)
        )
        if self.use_context:
            self.context_kernel = self.add_weight(
                name="context_kernel", shape=(input_shape[2][-1], self.attention_size)
            )
        self.score_kernel = self.add_weight(name="score_kernel", shape=(self.attention_size, 1))
        self.w_res = self.add_weight(
            name="w_res",
            shape=(),
            initializer=keras.initializers.Constant(self.w_res_init),
        )

    def call(self, inputs):
        features, query = inputs[0], inputs[1]
        projected = self.project_features(features)
        state_term = ops.matmul(query, self.query_kernel)
        if self.use_context:
            state_term = state_term + ops.matmul(inputs[2], self.context_kernel)
        alpha = self.masks(projected, state_term)
        return self.attend(features, alpha), alpha

    def project_features(self, features):
        """``A_c C(k) + b`` for every cell: ``[..., K, D] -> [..., K, attention_size]``."""
        return ops.matmul(features, self.feature_kernel) + self.bias

    def masks(self, projected, state_term):
        """Eqs. 5-6 from projected features ``[B, K, a]`` and the state term ``[B, a]``."""
        scores = ops.matmul(ops.tanh(projected + state_term[:, None, :]), self.score_kernel)
        return _softmax(ops.squeeze(scores, axis=-1))

    def attend(self, features, alpha):
        """Eq. 4: ``sum_k (alpha(k) + w_res) C(k)``."""
        weights = alpha + ops.cast(self.w_res, alpha.dtype)
        return ops.einsum("bk,bkd->bd", weights, features)

    def compute_output_shape(self, input_shape):
        features_shape = input_shape[0]
        return (features_shape[0], features_shape[-1]), (features_shape[0], features_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "attention_size": self.attention_size,
                "w_res_init": self.w_res_init,
                "use_context": self.use_context,
            }
        )
        return config


def _softmax(scores):
    """Softmax over the last axis, computed in float32 from elementary ops.

    Under mixed precision the normalisation is done in float32 (the masks are
    rounded to the compute dtype at the end), and the elementary
    ops avoid the fixed cost of oneDNN's softmax kernel, which on CPU took
    milliseconds per call on these small ``[B, K]`` inputs (more than the
    arithmetic), once per frame.
    """
    wide = scores if scores.dtype == "float64" else ops.cast(scores, "float32")
    exp = ops.exp(wide - ops.max(wide, axis=-1, keepdims=True))
    return ops.cast(exp / ops.sum(exp, axis=-1, keepdims=True), scores.dtype)
