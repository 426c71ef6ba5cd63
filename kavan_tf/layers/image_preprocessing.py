"""Backbone input preprocessing inside the model, so exported models take raw pixels."""

from __future__ import annotations

import keras
from keras import ops

_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
MODES = ("caffe", "torch", "tf", "unit", "none")


@keras.saving.register_keras_serializable(package="kavan_tf")
class ImagePreprocessing(keras.layers.Layer):
    """Maps raw RGB pixels in [0, 255] to what a backbone expects.

    Modes follow ``keras.applications``: ``"caffe"`` (RGB->BGR, ImageNet mean
    subtracted; ResNet-50, VGG), ``"torch"`` (scaled to [0, 1], normalised by
    ImageNet mean/std; DenseNet), ``"tf"`` (scaled to [-1, 1]; MobileNetV2,
    Inception), ``"unit"`` (scaled to [0, 1]; the small backbone) and ``"none"``
    (backbones that preprocess themselves, e.g. EfficientNet).

    Args:
        mode: One of ``"caffe"``, ``"torch"``, ``"tf"``, ``"unit"``, ``"none"``.
        **kwargs: Base layer arguments.
    """

    def __init__(self, mode="caffe", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, images):
        if self.mode == "caffe":
            # RGB -> BGR with a reverse (ReverseV2), 4x faster than the
            # equivalent strided slice `images[..., ::-1]` on CPU.
            images = ops.cast(ops.flip(images, axis=-1), self.compute_dtype)
            return images - ops.convert_to_tensor(_CAFFE_MEAN_BGR, images.dtype)
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN_RGB, images.dtype)
            std = ops.convert_to_tensor(_IMAGENET_STD_RGB, images.dtype)
            return (images / 255.0 - mean) / std
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "unit":
            return images / 255.0
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config
