"""KavanModel: every ablation row builds, trains, gets gradients and saves."""

import itertools
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_model_saving_test
from helpers import SIZE, T, tiny_model_config

from kavan_tf.config import LossConfig, ModelConfig
from kavan_tf.models import KavanModel, build_backbone

VARIANTS = [
    dict(attention=a, temporal=t, multitask=m)
    for a, t, m in itertools.product((True, False), ("lstm", "hslstm"), (True, False))
] + [dict(attention=True, temporal="hslstm", multitask=True, category_prior=False, tiers=3),
       # the paper's other HS-LSTM readings (docs/model.md, "HS-LSTM readings"), in one model
       dict(temporal="hslstm", hs_tier1="node", hs_context="state")]




def _data(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.uniform(0, 255, size=(batch, T, SIZE, SIZE, 3)).astype("float32")
    heatmaps = rng.uniform(size=(batch, T, 2, 2)).astype("float32")
    heatmaps /= heatmaps.sum(axis=(2, 3), keepdims=True)
    heatmaps[0, 1] = 0.0  # a frame without keypoints
    targets = {
        "intensities": rng.uniform(-1, 1, size=(batch, 17)).astype("float32"),
        "category": rng.integers(0, 4, size=(batch,)),
        "attention": heatmaps,
    }
    return frames, targets


def _ids(variant):
    return "-".join(f"{k}={v}" for k, v in variant.items())


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_outputs(variant):
    model = KavanModel(tiny_model_config(**variant))
    frames, _ = _data()
    outputs = model(frames)
    assert set(outputs) == {"intensities", "category", "attention", "valence", "arousal"}
    assert outputs["intensities"].shape == (2, 17)
    assert outputs["category"].shape == (2, 4)
    assert outputs["attention"].shape == (2, T, 2, 2)
    np.testing.assert_allclose(np.sum(outputs["category"], -1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.sum(outputs["attention"], (-2, -1)), 1.0, rtol=1e-5)
    assert np.all(np.abs(outputs["intensities"]) <= 1.0)


@pytest.mark.parametrize("variant", VARIANTS + [dict(trainable_backbone=True)], ids=_ids)
def test_gradients_reach_every_trainable_weight(variant):
    model = KavanModel(tiny_model_config(**variant))
    model.compile(loss_config=LossConfig(w_c=1.0, w_rank=0.5, w_kp=1.0))
    frames, targets = _data()
    with tf.GradientTape() as tape:
        predictions = model(frames, training=True)
        loss = model.compute_loss(x=frames, y=targets, y_pred=predictions, training=True)
    grads = tape.gradient(loss, model.trainable_variables)
    assert model.trainable_variables
    dead = [
        v.path for v, g in zip(model.trainable_variables, grads)
        if g is None or not np.any(np.asarray(g))
    ]
    assert not dead, f"no gradient reaches {dead}"
    backbone_vars = model.get_layer("backbone").trainable_variables
    assert bool(backbone_vars) == bool(variant.get("trainable_backbone", False))


def test_regression_only_category_is_category_of_top_emotion():
    model = KavanModel(tiny_model_config(multitask=False))
    frames, _ = _data()
    outputs = model(frames)
    expected = model.label_config.category_of(np.asarray(outputs["intensities"]))
    np.testing.assert_array_equal(np.argmax(outputs["category"], -1), expected)


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_saving_round_trip(tmp_path, variant):
    model = KavanModel(tiny_model_config(**variant))
    model.compile()
    frames, targets = _data()
    model.fit(frames, targets, epochs=2, batch_size=1, verbose=0)

    def compare(original, restored):
        assert restored.model_config == original.model_config
        assert set(restored.loss) == set(original.loss)
        # The optimizer's state comes back too: training resumes where it stopped.
        assert int(restored.optimizer.iterations) == int(original.optimizer.iterations) == 4
        for saved, loaded in zip(original.optimizer.variables, restored.optimizer.variables,
                                 strict=True):
            np.testing.assert_array_equal(saved.numpy(), loaded.numpy())

    run_model_saving_test(model, frames, tmp_path, compare=compare)


def test_compile_defaults_and_fit_on_dataset():
    model = KavanModel(tiny_model_config())
    model.compile(learning_rate=1e-2)
    frames, targets = _data(batch=8, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices((frames, targets)).batch(4)
    before = model.evaluate(dataset, verbose=0, return_dict=True)
    history = model.fit(dataset, epochs=8, verbose=0)
    after = model.evaluate(dataset, verbose=0, return_dict=True)
    for key in ("loss", "intensities_nmse", "intensities_emotion_nmse", "intensities_rank_error",
                "intensities_spearman", "category_accuracy"):
        assert key in history.history, key
    assert after["loss"] < before["loss"]
    assert set(model.loss) == {"intensities", "category", "attention"}


def test_compile_leaves_out_unused_losses():
    model = KavanModel(tiny_model_config(attention=False, multitask=False))
    model.compile()
    assert set(model.loss) == {"intensities"}


def test_features_input_mode():
    model = KavanModel(tiny_model_config(input_mode="features", feature_shape=(2, 2, 6)))
    assert model.input_shape == (None, T, 2, 2, 6)
    outputs = model(np.ones((2, T, 2, 2, 6), "float32"))
    assert outputs["attention"].shape == (2, T, 2, 2)


def test_features_shape_is_derived_from_backbone():
    model = KavanModel(tiny_model_config(input_mode="features"))
    assert model.input_shape == (None, T, 2, 2, 128)


def test_w_res_init_default_and_value():
    model = KavanModel(tiny_model_config(temporal="lstm"))
    (w_res,) = [v for v in model.weights if v.name == "w_res"]
    assert float(w_res.numpy()) == pytest.approx(1 / 4)
    model = KavanModel(tiny_model_config(temporal="lstm", w_res_init=0.7))
    (w_res,) = [v for v in model.weights if v.name == "w_res"]
    assert float(w_res.numpy()) == pytest.approx(0.7)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (dict(backbone="resnet5"), "backbone='resnet5'"),
        (dict(backbone="small", backbone_weights="imagenet"), "backbone_weights='imagenet'"),
        (dict(backbone_weights="/no/such/file.h5"), "no such file"),
    ],
)
def test_bad_backbone_arguments(overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        KavanModel(tiny_model_config(**overrides))


def test_bad_config_argument():
    with pytest.raises(ValueError, match="hiden"):
        KavanModel({"hiden": 3})


def test_backbone_local_weights_file(tmp_path):
    config = tiny_model_config()
    source = build_backbone(config)
    for v in source.weights:
        v.assign(np.random.default_rng(0).normal(size=v.shape).astype("float32"))
    path = str(tmp_path / "small.weights.h5")
    source.save_weights(path)
    loaded = build_backbone(tiny_model_config(backbone_weights=path))
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_resnet50_forward_on_eight_224_frames():
    config = ModelConfig(
        backbone="resnet50", backbone_weights=None, num_frames=8, hidden_size=32,
    )
    model = KavanModel(config)
    frames = np.random.default_rng(0).uniform(0, 255, (1, 8, 224, 224, 3)).astype("float32")
    outputs = model.predict(frames, verbose=0)
    assert outputs["attention"].shape == (1, 8, 7, 7)
    assert outputs["intensities"].shape == (1, 17)
    assert model.get_layer("backbone").layer.output_shape == (None, 7, 7, 2048)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from kavan_tf.config import ModelConfig
    from kavan_tf.models import KavanModel
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = KavanModel(ModelConfig(backbone="small", backbone_weights=None,
            image_size=(32, 32), num_frames=4, node_size=2, hidden_size=8, attention_size=4))
        model.compile(learning_rate=1e-2)
    rng = np.random.default_rng(0)
    heat = rng.uniform(size=(8, 4, 2, 2)).astype("float32")
    heat /= heat.sum(axis=(2, 3), keepdims=True)
    y = {"intensities": rng.uniform(-1, 1, (8, 17)).astype("float32"),
         "category": rng.integers(0, 4, 8), "attention": heat}
    x = rng.uniform(0, 255, (8, 4, 32, 32, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    history = model.fit(ds, epochs=2, steps_per_epoch=3, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)), losses
    print("REPLICAS", strategy.num_replicas_in_sync, "LOSSES", losses)
    """
)


@pytest.mark.slow
def test_mirrored_strategy_two_logical_cpus(run_script):
    assert "REPLICAS 2" in run_script(MIRRORED_SCRIPT)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_outputs(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = KavanModel(tiny_model_config())
        model.compile()
        frames, targets = _data()
        outputs = model(frames)
        assert all(v.dtype == "float32" for v in outputs.values())
        assert model.get_layer("temporal").compute_dtype == policy.split("_")[1]
        logs = model.train_on_batch(frames, targets, return_dict=True)
        assert np.isfinite(logs["loss"])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_with_precision_copies_weights_and_stays_close():
    from kavan_tf.inference import with_precision

    model = KavanModel(tiny_model_config())
    model.compile()
    fast = with_precision(model, "mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert set(fast.loss) == set(model.loss)
    assert fast.get_layer("temporal").compute_dtype == "bfloat16"
    for a, b in zip(model.weights, fast.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    frames, _ = _data()
    reference, reduced = model.predict(frames, verbose=0), fast.predict(frames, verbose=0)
    np.testing.assert_allclose(reduced["intensities"], reference["intensities"], atol=0.05)
    with pytest.raises(ValueError, match="policy='fp8'"):
        with_precision(model, "fp8")
    mixed = with_precision(model, "mixed_bfloat16", temporal_dtype="float32")
    assert mixed.get_layer("temporal").compute_dtype == "float32"
    # ... down to every cell and weight of the module.
    assert {layer.compute_dtype for layer in mixed.get_layer("temporal")._flatten_layers()} == {
        "float32"}
    assert mixed.get_layer("backbone").compute_dtype == "bfloat16"
    np.testing.assert_allclose(mixed.predict(frames, verbose=0)["intensities"],
                               reference["intensities"], atol=0.05)


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf", "unit", "none"])
def test_image_preprocessing_modes(mode):
    from kavan_tf.layers.image_preprocessing import ImagePreprocessing

    images = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3)).astype("float32")
    expected = {
        "caffe": images[..., ::-1] - np.array([103.939, 116.779, 123.68], "float32"),
        "torch": (images / 255.0 - np.array([0.485, 0.456, 0.406]))
        / np.array([0.229, 0.224, 0.225]),
        "tf": images / 127.5 - 1.0,
        "unit": images / 255.0,
        "none": images,
    }[mode]
    np.testing.assert_allclose(ImagePreprocessing(mode)(images), expected, rtol=1e-5, atol=1e-4)
