"""Batch normalisation folded into convolutions: same results, fewer ops, saved and served."""


import keras
import numpy as np
import pytest
from helpers import tiny_model_config

from kavan_tf.inference import (
    FoldedAway,
    FusedConv2D,
    InferenceModel,
    fold_batch_norms,
    for_inference,
    with_precision,
)
from kavan_tf.inference.gate_major import (
    convert_kernels,
    kernel_blocks,
    mark_gate_major,
    to_gate_major,
)
from kavan_tf.layers import TemporalEncoder
from kavan_tf.models import KavanModel, build_backbone


def _randomise_batch_norms(model, seed=0):
    """Moving statistics and affine weights far from the identity, so folding matters."""
    rng = np.random.default_rng(seed)
    count = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            count += 1
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.3, shape))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, shape))
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 1.5, shape))
            if layer.center:
                layer.beta.assign(rng.normal(0, 0.3, shape))
    return count


def _count(model, cls):
    return sum(type(layer) is cls for layer in model._flatten_layers())




def test_small_backbone_folds_every_pair_and_keeps_outputs():
    backbone = build_backbone(tiny_model_config())
    assert _randomise_batch_norms(backbone) == 4
    folded = fold_batch_norms(backbone)
    assert _count(folded, keras.layers.BatchNormalization) == 0
    assert _count(folded, keras.layers.ReLU) == 0
    assert _count(folded, FusedConv2D) == 4
    assert folded.get_layer("conv0").activation is keras.activations.relu
    assert isinstance(folded.get_layer("bn0"), FoldedAway)
    assert isinstance(folded.get_layer("relu0"), FoldedAway)
    assert folded.name == backbone.name
    frames = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    expected = backbone(frames, training=False).numpy()
    np.testing.assert_allclose(folded(frames, training=False).numpy(), expected,
                               rtol=1e-5, atol=1e-5)
    # The original is untouched.
    assert _count(backbone, keras.layers.BatchNormalization) == 4


def test_resnet50_folds_all_53_convolutions_of_the_nested_application():
    backbone = build_backbone(tiny_model_config(backbone="resnet50", image_size=(64, 64)))
    assert _randomise_batch_norms(backbone) == 53
    folded = fold_batch_norms(backbone)
    assert _count(folded, keras.layers.BatchNormalization) == 0
    assert _count(folded, FusedConv2D) == 53
    frames = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    expected = backbone(frames, training=False).numpy()
    actual = folded(frames, training=False).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_pairs_that_cannot_be_folded_are_left_alone():
    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Conv2D(4, 3, padding="same", name="branching")(inputs)
    a = keras.layers.BatchNormalization(name="bn_a")(shared)
    b = keras.layers.ReLU(name="other_use")(shared)  # second consumer: no fold
    c = keras.layers.Conv2D(4, 1, activation="relu", name="activated")(inputs)
    c = keras.layers.BatchNormalization(name="bn_c")(c)  # conv has an activation
    d = keras.layers.Conv2D(4, 1, name="channel_axis")(inputs)
    d = keras.layers.BatchNormalization(axis=1, name="bn_d")(d)  # not the channel axis
    e = keras.layers.Conv2D(4, 1, name="foldable")(inputs)
    e = keras.layers.BatchNormalization(center=False, name="bn_e")(e)
    e = keras.layers.ReLU(max_value=6.0, name="relu6")(e)  # clipped ReLU stays separate
    f = keras.layers.Conv2D(4, 1, name="output_conv")(inputs)  # is a model output
    g = keras.layers.BatchNormalization(name="bn_g")(f)
    model = keras.Model(inputs, [a, b, c, d, e, f, g])
    _randomise_batch_norms(model)
    folded = fold_batch_norms(model)
    assert [type(folded.get_layer(n)).__name__ for n in
            ("branching", "bn_a", "activated", "bn_c", "channel_axis", "bn_d", "foldable",
             "bn_e", "relu6", "output_conv", "bn_g")] == [
        "Conv2D", "BatchNormalization", "Conv2D", "BatchNormalization", "Conv2D",
        "BatchNormalization", "FusedConv2D", "FoldedAway", "ReLU", "Conv2D",
        "BatchNormalization"]
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype("float32")
    for got, want in zip(folded(x, training=False), model(x, training=False)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_fold_rejects_models_without_a_graph():
    with pytest.raises(ValueError, match="needs a functional keras.Model"):
        fold_batch_norms(keras.layers.Dense(3))


@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_fused_conv_equals_conv2d(activation):
    reference = keras.layers.Conv2D(5, 3, strides=2, padding="same", activation=activation)
    x = np.random.default_rng(4).normal(size=(2, 9, 9, 3)).astype("float32")
    expected = reference(x).numpy()
    fused = FusedConv2D.from_config(reference.get_config())
    fused.build(x.shape)
    fused.set_weights(reference.get_weights())
    np.testing.assert_allclose(fused(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="data_format='channels_first'"):
        FusedConv2D(4, 3, data_format="channels_first")


def test_for_inference_keeps_predictions_and_saves(tmp_path):
    model = KavanModel(tiny_model_config(trainable_backbone=True))  # as the demo trains it
    _randomise_batch_norms(model)
    model.compile()
    frames = np.random.default_rng(5).uniform(0, 255, (2, 4, 32, 32, 3)).astype("float32")
    expected = model.predict(frames, verbose=0)
    # float32 keeps the input-major kernels by default; gate-major is asked for.
    default = for_inference(model)
    assert isinstance(default, InferenceModel) and not default.gate_major_lstm
    np.testing.assert_allclose(default.predict(frames, verbose=0)["intensities"],
                               expected["intensities"], rtol=1e-5, atol=1e-6)
    fast = for_inference(model, gate_major_lstm=True)
    assert isinstance(fast, InferenceModel) and fast.fold_batch_norm and fast.gate_major_lstm
    assert not fast.model_config.trainable_backbone
    assert _count(fast, keras.layers.BatchNormalization) == 0
    assert set(fast.loss) == set(model.loss)  # evaluates like the original
    got = fast.predict(frames, verbose=0)
    for name in ("intensities", "category", "attention"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6)
    # A folded model round-trips through .keras with the folded graph.
    fast.save(tmp_path / "fast.keras")
    again = keras.saving.load_model(tmp_path / "fast.keras")
    assert isinstance(again, InferenceModel) and again.fold_batch_norm and again.gate_major_lstm
    assert all(cell.gate_major for cell, _ in kernel_blocks(again.get_layer("temporal")))
    np.testing.assert_allclose(again.predict(frames, verbose=0)["intensities"],
                               got["intensities"], rtol=1e-6, atol=1e-7)
    # The LSTM kernels are stored gate-major, and convert back exactly.
    source, packed = model.get_layer("temporal"), fast.get_layer("temporal")
    assert not np.array_equal(packed.cell.segment_tiers[0].kernel,
                              source.cell.segment_tiers[0].kernel)
    back = with_precision(fast, "float32", gate_major_lstm=False).get_layer("temporal")
    for a, b in zip(back.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    half = for_inference(model, "bfloat16")
    assert half.gate_major_lstm  # bfloat16 reads gate-major kernels faster
    assert half.get_layer("backbone").compute_dtype == "bfloat16"
    # Weights are stored in bfloat16 (no cast per call) except the float32 heads.
    assert {w.dtype for w in half.get_layer("temporal").weights} == {"bfloat16"}
    assert half.get_layer("intensities").kernel.dtype == "float32"
    np.testing.assert_allclose(half.predict(frames, verbose=0)["intensities"],
                               expected["intensities"], atol=0.05)
    with pytest.raises(ValueError, match="precision=.int8."):
        for_inference(model, "int8")
    with pytest.raises(ValueError, match="already folded.*fold_batch_norm=False"):
        with_precision(fast, "float32", fold_batch_norm=False)


def test_fold_batch_norm_is_inference_only():
    with pytest.raises(ValueError, match="fold_batch_norm.*trainable_backbone=True"):
        InferenceModel(tiny_model_config(trainable_backbone=True))


def test_loading_a_model_does_not_fetch_its_backbone_weights(tmp_path, monkeypatch):
    config = tiny_model_config(backbone="mobilenet_v3_small", image_size=(32, 32),
                     backbone_weights="imagenet")
    model = KavanModel(config, load_backbone_weights=False)
    model.save(tmp_path / "model.keras")

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download backbone weights")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_download)
    again = keras.saving.load_model(tmp_path / "model.keras")
    assert again.model_config.backbone_weights == "imagenet"
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    copy = with_precision(again, "float32", fold_batch_norm=True)
    assert copy.fold_batch_norm and not copy.gate_major_lstm


class _CountingLayer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, inputs, training=None):
        self.calls += 1
        return inputs * 2.0


def test_framewise_merges_frames_in_inference_and_steps_in_training():
    from kavan_tf.layers import Framewise

    x = np.random.default_rng(6).normal(size=(2, 3, 4, 4, 3)).astype("float32")
    x *= np.array([1.0, 3.0, 10.0], "float32")[None, :, None, None, None]  # per-step scales
    counting = _CountingLayer()
    Framewise(counting)(x, training=False)
    assert counting.calls == 1  # one call on all 6 frames
    counting.calls = 0
    Framewise(counting)(x, training=True)
    assert counting.calls == 3  # one call per time step, as TimeDistributed

    frames = keras.Input((4, 4, 3))
    backbone = keras.Model(frames, keras.layers.BatchNormalization(momentum=0.0)(
        keras.layers.Conv2D(2, 3, padding="same")(frames)))
    _randomise_batch_norms(backbone)
    ours, keras_td = Framewise(backbone), keras.layers.TimeDistributed(backbone)
    for training in (False, True):
        np.testing.assert_allclose(ours(x, training=training), keras_td(x, training=training),
                                   rtol=1e-5, atol=1e-5)
    # In training each time step is normalised on its own, unlike one merged batch.
    merged = backbone(x.reshape(6, 4, 4, 3), training=True).numpy().reshape(2, 3, 4, 4, 2)
    assert not np.allclose(ours(x, training=True), merged, atol=1e-3)


def test_tensors_also_used_by_ops_are_not_folded():
    inputs = keras.Input((6, 6, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    normalised = keras.layers.BatchNormalization(name="bn")(conv)
    outputs = keras.layers.Add()([normalised, conv * 2.0])  # conv also feeds an op
    model = keras.Model(inputs, outputs)
    _randomise_batch_norms(model)
    folded = fold_batch_norms(model)
    assert type(folded.get_layer("bn")) is keras.layers.BatchNormalization
    x = np.random.default_rng(7).normal(size=(2, 6, 6, 3)).astype("float32")
    np.testing.assert_allclose(folded(x, training=False), model(x, training=False),
                               rtol=1e-5, atol=1e-5)


def test_efficientnet_folds_and_keeps_its_input_normalisation():
    model = KavanModel(tiny_model_config(backbone="efficientnet_b0", image_size=(32, 32)))
    _randomise_batch_norms(model)
    for layer in model._flatten_layers():  # ImageNet-like statistics, not the 0/1 defaults
        if isinstance(layer, keras.layers.Normalization):
            layer.adapt_mean.assign(np.array([0.4, 0.45, 0.5], "float32"))
            layer.adapt_variance.assign(np.array([0.05, 0.06, 0.07], "float32"))
            layer.finalize_state()
    frames = np.random.default_rng(8).uniform(0, 255, (2, 4, 32, 32, 3)).astype("float32")
    expected = model.predict(frames, verbose=0)["intensities"]
    fast = for_inference(model)
    assert _count(fast, keras.layers.BatchNormalization) < _count(
        model, keras.layers.BatchNormalization)
    np.testing.assert_allclose(fast.predict(frames, verbose=0)["intensities"], expected,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backbone, expected", [("resnet50", None),
                                                ("efficientnet_b0", "imagenet")])
def test_rebuilding_skips_weights_unless_keras_changes_the_graph(monkeypatch, backbone,
                                                                 expected):
    # EfficientNet v1 gains a Rescaling layer with weights="imagenet", so that
    # graph can only be rebuilt with them; other backbones rebuild without.
    seen = []

    def fake(**kwargs):
        seen.append(kwargs["weights"])
        raise RuntimeError("stop")

    from kavan_tf.models.backbones import _APPLICATIONS
    monkeypatch.setattr(keras.applications, _APPLICATIONS[backbone].constructor, fake)
    with pytest.raises(RuntimeError, match="stop"):
        build_backbone(tiny_model_config(backbone=backbone, backbone_weights="imagenet"),
                       load_weights=False)
    assert seen == [expected]


def test_bfloat16_inference_model_reloads_in_bfloat16(tmp_path):
    model = KavanModel(tiny_model_config())
    frames = np.random.default_rng(9).uniform(0, 255, (2, 4, 32, 32, 3)).astype("float32")
    half = for_inference(model, "bfloat16")
    expected = half.predict(frames, verbose=0)["intensities"]
    half.save(tmp_path / "half.keras")
    again = keras.saving.load_model(tmp_path / "half.keras")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert {w.dtype for w in again.get_layer("temporal").weights} == {"bfloat16"}
    np.testing.assert_array_equal(again.predict(frames, verbose=0)["intensities"], expected)


def test_framewise_merges_frames_of_a_frozen_layer_in_training():
    from kavan_tf.layers import Framewise

    counting = _CountingLayer(trainable=False)
    Framewise(counting)(np.zeros((2, 3, 4, 4, 3), "float32"), training=True)
    assert counting.calls == 1


def test_gate_major_layout_round_trip_and_blocks():
    kernel = np.arange(5 * 8, dtype="float32").reshape(5, 8)
    packed = to_gate_major(kernel, (3, 2))
    assert packed.shape == kernel.shape
    # Each row block holds the bytes of its transpose.
    np.testing.assert_array_equal(packed[:3].reshape(8, 3), kernel[:3].T)
    np.testing.assert_array_equal(packed[3:].reshape(8, 2), kernel[3:].T)
    np.testing.assert_array_equal(to_gate_major(packed, (3, 2), inverse=True), kernel)
    with pytest.raises(ValueError, match="must sum to the kernel's 5 rows"):
        to_gate_major(kernel, (3, 3))


@pytest.mark.parametrize("temporal,tiers,context", [
    ("lstm", 2, "input"), ("hslstm", 2, "input"), ("hslstm", 3, "input"), ("hslstm", 3, "state")])
def test_gate_major_encoder_equals_input_major(temporal, tiers, context):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(2, 4, 2, 2, 3)).astype("float32")
    kwargs = dict(units=5, attention_size=3, tiers=tiers, node_size=2, context=context)
    plain = TemporalEncoder(temporal, **kwargs)
    packed = TemporalEncoder(temporal, **kwargs)
    expected = plain(features)
    packed(features)
    packed.set_weights(plain.get_weights())
    mark_gate_major(packed)
    # The input-major values read gate-major give other results ...
    assert not np.allclose(packed(features)[0], expected[0], atol=1e-3)
    convert_kernels(packed)
    # ... converted, the same.
    for a, b in zip(packed(features), expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    convert_kernels(packed, inverse=True)
    for a, b in zip(plain.get_weights(), packed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
