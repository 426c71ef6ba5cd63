"""The KAVAN model and its backbones (inference copies: :mod:`kavan_tf.inference`)."""

from kavan_tf.models.backbones import available_backbones, backbone_feature_shape, build_backbone
from kavan_tf.models.kavan import OUTPUT_NAMES, KavanModel

__all__ = [
    "OUTPUT_NAMES",
    "KavanModel",
    "available_backbones",
    "backbone_feature_shape",
    "build_backbone",
]
