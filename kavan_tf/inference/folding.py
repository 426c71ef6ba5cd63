"""Folding batch normalisation into the preceding convolutions, for inference."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np

from kavan_tf.inference.fused_conv import FoldedAway, FusedConv2D

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Fold:
    batch_norm: keras.layers.BatchNormalization
    relu: keras.layers.Layer | None  # folded into the convolution too


def fold_batch_norms(model: keras.Model) -> keras.Model:
    """A copy of a functional ``model`` with each ``Conv2D -> BatchNormalization`` merged.

    Inference with frozen statistics computes
    ``gamma (conv(x) + b - mean) / sqrt(var + eps) + beta``, a convolution
    with kernel ``W * s`` and bias ``(b - mean) * s + beta`` for
    ``s = gamma / sqrt(var + eps)``. The copy uses :class:`FusedConv2D` with
    those weights, and a ReLU straight after the normalisation becomes the
    convolution's activation, so ResNet-50's 53 convolutions run as fused
    (oneDNN) convolutions and its 53 normalisations and 49 ReLUs disappear.
    The folded layers remain as :class:`FoldedAway` under their names.

    Pairs are folded only when the convolution is a plain channels-last
    ``Conv2D`` without activation, called once, whose only consumer is a
    ``BatchNormalization`` over the last axis, called once. Nested
    functional models (e.g. the ``keras.applications`` network inside a
    KAVAN backbone) are folded too. The copy computes under the layers' own
    dtype policies, and its results equal the original's in inference up to
    floating-point rounding (about 1e-6 relative in float32). Moving
    statistics no longer exist in the copy: train the original, fold for
    serving.

    Args:
        model: A functional ``keras.Model``.

    Returns:
        The folded functional model, with the same inputs, outputs and name.

    Example:

    ```python
    resnet = keras.applications.ResNet50(include_top=False, weights="imagenet")
    fast = fold_batch_norms(resnet)   # ~15 % faster on CPU, ~45 % with bfloat16
    ```
    """
    if not _is_functional(model):
        raise ValueError(
            "`fold_batch_norms` needs a functional keras.Model. "
            f"Received: {type(model).__name__}"
        )
    plan = _plan(model)
    folded_away = {fold.batch_norm.name for fold in plan.values()}
    folded_away |= {fold.relu.name for fold in plan.values() if fold.relu is not None}

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name in plan:
            config = layer.get_config()
            config.update(use_bias=True, activation="relu" if plan[layer.name].relu else None)
            return FusedConv2D.from_config(config)
        if layer.name in folded_away:
            return FoldedAway(name=layer.name, dtype=layer.dtype_policy.name)
        if _is_functional(layer):
            return fold_batch_norms(layer)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in folded_away or not layer.weights:
            continue
        target = copy.get_layer(layer.name)
        if layer.name in plan:
            target.set_weights(_folded_weights(layer, plan[layer.name].batch_norm))
        elif _is_functional(layer):
            continue  # folded (with its weights) by its own fold_batch_norms call
        else:
            target.set_weights(layer.get_weights())
    refresh_state(copy)
    logger.debug("Folded %d batch normalisations in %s.", len(plan), model.name)
    return copy


def _is_functional(layer) -> bool:
    return isinstance(layer, keras.Model) and hasattr(layer, "_run_through_graph")


def refresh_state(model: keras.Model) -> None:
    """Recomputes state derived from weights after ``set_weights``.

    ``keras.layers.Normalization`` (EfficientNet's input normalisation) keeps
    its mean and variance as tensors fixed when built; ``set_weights``
    updates the variables but not those tensors.
    """
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Normalization) and layer.built:
            layer.finalize_state()


def _folded_weights(conv: keras.layers.Conv2D, bn: keras.layers.BatchNormalization):
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else 0.0
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else 0.0
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    variance = np.asarray(bn.moving_variance.numpy(), np.float64)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    dtype = conv.kernel.dtype
    return [
        (kernel * scale).astype(dtype),
        np.broadcast_to((bias - mean) * scale + beta, scale.shape).astype(dtype),
    ]


def _plan(model: keras.Model) -> dict[str, _Fold]:
    """Which convolutions absorb which normalisation (and ReLU), by layer name."""
    consumers: dict[int, list] = {}
    for operation in model.operations:  # layers and keras.ops calls alike
        for node in operation._inbound_nodes:
            for tensor in node.input_tensors:
                consumers.setdefault(id(tensor), []).append(operation)
    outputs = {id(tensor) for tensor in model.outputs}

    def only_consumer(layer):
        if len(layer._inbound_nodes) != 1:
            return None
        (tensor,) = layer._inbound_nodes[0].output_tensors
        users = consumers.get(id(tensor), [])
        if id(tensor) in outputs or len(users) != 1:
            return None
        return users[0]

    plan = {}
    for layer in model.layers:
        if not (
            type(layer) is keras.layers.Conv2D
            and layer.data_format == "channels_last"
            and layer.activation is keras.activations.linear
        ):
            continue
        bn = only_consumer(layer)
        if not (
            isinstance(bn, keras.layers.BatchNormalization)
            and len(bn._inbound_nodes) == 1
            and bn.axis in (-1, len(layer.output.shape) - 1)
        ):
            continue
        relu = only_consumer(bn)
        plan[layer.name] = _Fold(bn, relu if _is_relu(relu) else None)
    return plan


def _is_relu(layer: keras.layers.Layer | None) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return (
            layer.max_value is None and not layer.negative_slope and not layer.threshold
        ) and len(layer._inbound_nodes) == 1
    if isinstance(layer, keras.layers.Activation):
        return layer.activation is keras.activations.relu and len(layer._inbound_nodes) == 1
    return False
