"""Inference copies of a trained model: the same predictions, a faster graph.

Everything here is an optimisation of the paper's layers and models
(:mod:`kavan_tf.layers`, :mod:`kavan_tf.models`), tested equal to them:

- :func:`fold_batch_norms`: the backbone's batch normalisations folded into
  fused convolutions (:class:`FusedConv2D`, :class:`FoldedAway`);
- gate-major LSTM kernels (:mod:`kavan_tf.inference.gate_major`);
- reduced precision (:func:`with_precision`), bfloat16 storage included;
- :func:`for_inference`, all of them at once: what ``kavan export`` serves,
  as an :class:`InferenceModel`.
"""

from kavan_tf.inference.folding import fold_batch_norms
from kavan_tf.inference.fused_conv import FoldedAway, FusedConv2D
from kavan_tf.inference.model import InferenceModel
from kavan_tf.inference.precision import dtype_policy, for_inference, with_precision

__all__ = [
    "FoldedAway",
    "FusedConv2D",
    "InferenceModel",
    "dtype_policy",
    "fold_batch_norms",
    "for_inference",
    "with_precision",
]
