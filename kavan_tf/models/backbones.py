"""Frame backbones: ResNet-50 (paper), a small CNN, and other keras.applications CNNs."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

import keras

from kavan_tf.config import ModelConfig
from kavan_tf.layers.image_preprocessing import ImagePreprocessing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Application:
    constructor: str  # attribute of keras.applications
    preprocessing: str  # ImagePreprocessing mode
    # Keras builds a different graph for weights="imagenet" (EfficientNet v1
    # adds a Rescaling layer), so the weights must be loaded to rebuild it.
    graph_needs_weights: bool = False


_APPLICATIONS: dict[str, _Application] = {
    "resnet50": _Application("ResNet50", "caffe"),
    "resnet101": _Application("ResNet101", "caffe"),
    "resnet152": _Application("ResNet152", "caffe"),
    "resnet50_v2": _Application("ResNet50V2", "tf"),
    "resnet101_v2": _Application("ResNet101V2", "tf"),
    "vgg16": _Application("VGG16", "caffe"),
    "vgg19": _Application("VGG19", "caffe"),
    "densenet121": _Application("DenseNet121", "torch"),
    "densenet169": _Application("DenseNet169", "torch"),
    "inception_v3": _Application("InceptionV3", "tf"),
    "inception_resnet_v2": _Application("InceptionResNetV2", "tf"),
    "xception": _Application("Xception", "tf"),
    "mobilenet": _Application("MobileNet", "tf"),
    "mobilenet_v2": _Application("MobileNetV2", "tf"),
    "mobilenet_v3_small": _Application("MobileNetV3Small", "none"),
    "mobilenet_v3_large": _Application("MobileNetV3Large", "none"),
    "efficientnet_b0": _Application("EfficientNetB0", "none", graph_needs_weights=True),
    "efficientnet_b1": _Application("EfficientNetB1", "none", graph_needs_weights=True),
    "efficientnet_b2": _Application("EfficientNetB2", "none", graph_needs_weights=True),
    "efficientnet_b3": _Application("EfficientNetB3", "none", graph_needs_weights=True),
    "efficientnet_v2_b0": _Application("EfficientNetV2B0", "none"),
    "efficientnet_v2_s": _Application("EfficientNetV2S", "none"),
    "convnext_tiny": _Application("ConvNeXtTiny", "none"),
    "convnext_small": _Application("ConvNeXtSmall", "none"),
}

SMALL_BACKBONE = "small"


def available_backbones() -> list[str]:
    """Names accepted by ``ModelConfig.backbone``."""
    return [SMALL_BACKBONE] + sorted(_APPLICATIONS)


def build_backbone(config: ModelConfig, load_weights: bool = True) -> keras.Model:
    """Builds the frame backbone: raw RGB ``[N, H, W, 3]`` in [0, 255] -> ``[N, h, w, D]``.

    Preprocessing is part of the returned model. The backbone is frozen unless
    ``config.trainable_backbone``.

    Args:
        config: The model config (``backbone``, ``backbone_weights``,
            ``image_size``, ``trainable_backbone``).
        load_weights: Load ``backbone_weights``. ``False`` builds the same
            graph with random weights, for callers that overwrite every
            weight (loading a ``.keras`` file); EfficientNet B0-B3 still load
            ImageNet weights, because Keras builds their graph differently
            with them.

    Returns:
        A functional ``keras.Model`` named ``"backbone"``.

    Raises:
        ValueError: Unknown backbone name, or weights that cannot be used.
    """
    name = config.backbone
    weights = config.backbone_weights
    app = _APPLICATIONS.get(name)
    if not load_weights and not (weights == "imagenet" and app and app.graph_needs_weights):
        weights = None
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise ValueError(
            f'`backbone_weights` must be "imagenet", None or an existing weights file. '
            f"Received: backbone_weights={weights!r} (no such file)"
        )
    inputs = keras.Input(shape=config.image_size + (3,), name="frames")
    if name == SMALL_BACKBONE:
        if weights == "imagenet":
            raise ValueError(
                "The 'small' backbone has no ImageNet weights; use backbone_weights=None "
                "or a local weights file. Received: backbone_weights='imagenet'"
            )
        x = ImagePreprocessing("unit", name="preprocessing")(inputs)
        features = _small_cnn(x)
        model = keras.Model(inputs, features, name="backbone")
        if weights is not None:
            model.load_weights(weights)
    elif name in _APPLICATIONS:
        app = _APPLICATIONS[name]
        constructor = getattr(keras.applications, app.constructor)
        cnn = constructor(include_top=False, weights=weights, input_shape=config.image_size + (3,))
        x = ImagePreprocessing(app.preprocessing, name="preprocessing")(inputs)
        model = keras.Model(inputs, cnn(x), name="backbone")
    else:
        raise ValueError(
            f"Unknown backbone {name!r}. Expected one of {available_backbones()}. "
            f"Received: backbone={name!r}"
        )
    model.trainable = config.trainable_backbone
    return model


def _small_cnn(x):
    """Four stride-2 conv stages (stride 16): 112 x 112 frames give a 7 x 7 grid."""
    for index, filters in enumerate((16, 32, 64, 128)):
        x = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", use_bias=False, name=f"conv{index}"
        )(x)
        # momentum 0.9: short CPU runs must still end with usable moving statistics.
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    return x


def backbone_feature_shape(config: ModelConfig) -> tuple[int, int, int]:
    """``(h, w, D)`` of the backbone features for ``config.image_size``.

    Uses ``config.feature_shape`` when set; otherwise builds the backbone
    without weights (no download) to read its output shape, once per
    backbone and image size.
    """
    if config.feature_shape is not None:
        return config.feature_shape
    return _probe_feature_shape(config.backbone, tuple(config.image_size))


@functools.cache
def _probe_feature_shape(backbone: str, image_size: tuple[int, int]) -> tuple[int, int, int]:
    probe = build_backbone(
        ModelConfig(backbone=backbone, image_size=image_size, backbone_weights=None)
    )
    return tuple(int(v) for v in probe.output_shape[1:])  # type: ignore[return-value]
