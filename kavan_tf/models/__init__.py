"""The KAVAN model and its backbones."""

from kavan_tf.models.backbones import available_backbones, backbone_feature_shape, build_backbone
from kavan_tf.models.folding import fold_batch_norms
from kavan_tf.models.kavan import OUTPUT_NAMES, KavanModel
from kavan_tf.models.precision import dtype_policy, for_inference, with_precision

__all__ = [
    "OUTPUT_NAMES",
    "KavanModel",
    "available_backbones",
    "backbone_feature_shape",
    "build_backbone",
    "dtype_policy",
    "fold_batch_norms",
    "for_inference",
    "with_precision",
]
