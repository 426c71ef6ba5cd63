"""FusedAdam: Keras' Adam with TensorFlow's one-pass update."""

from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kavan_tf.config import ModelConfig
from kavan_tf.models import KavanModel
from kavan_tf.optimizers import FusedAdam


def _train(optimizer, steps=6, policy="float32", embedding=False):
    """Weights of a small model after ``steps`` fit steps from a fixed start."""
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(policy)
    try:
        if embedding:
            model = keras.Sequential([
                keras.Input((3,), dtype="int32"),
                keras.layers.Embedding(20, 4),
                keras.layers.Flatten(),
                keras.layers.Dense(2, dtype="float32"),
            ])
            x = np.random.default_rng(0).integers(0, 20, (32, 3))
        else:
            model = keras.Sequential([
                keras.Input((5,)),
                keras.layers.Dense(7, activation="tanh"),
                keras.layers.Dense(2, dtype="float32"),
            ])
            x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32")
        y = np.random.default_rng(1).normal(size=(32, 2)).astype("float32")
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, batch_size=8, epochs=steps // 4, verbose=0)
        return [w.numpy() for w in model.weights], model.optimizer
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _assert_same_training(make_optimizer, atol=2e-5, **kwargs):
    """Same weights as Keras' Adam after training, to float rounding (``atol``;
    the learning rates are 5e-2, so a step moves weights by about that)."""
    keras_weights, _ = _train(make_optimizer(keras.optimizers.Adam), **kwargs)
    fused_weights, optimizer = _train(make_optimizer(FusedAdam), **kwargs)
    moved = max(np.abs(a - b).max() for a, b in zip(keras_weights, _train("sgd", 0, **kwargs)[0]))
    assert moved > 1e-2  # the weights did change, so equality below means something
    for keras_w, fused_w in zip(keras_weights, fused_weights):
        np.testing.assert_allclose(fused_w, keras_w, rtol=1e-5, atol=atol)
    return optimizer


def test_fused_adam_trains_like_keras_adam():
    _assert_same_training(lambda cls: cls(learning_rate=0.05))


def test_fused_adam_keeps_keras_options():
    """Schedules, weight decay, clipping and EMA stay Keras' own."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)
    _assert_same_training(lambda cls: cls(
        learning_rate=schedule, beta_1=0.8, beta_2=0.99, epsilon=1e-4, weight_decay=0.1,
        clipnorm=0.5, use_ema=True,
    ))


def test_fused_adam_under_mixed_precision_loss_scaling():
    # float16 forward passes round weights that differ in the last float32 bit
    # differently, so the runs drift apart a little more.
    optimizer = _assert_same_training(lambda cls: cls(learning_rate=0.05),
                                      policy="mixed_float16", atol=1e-4)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, FusedAdam)


@pytest.mark.parametrize("case", ["amsgrad", "sparse"])
def test_fused_adam_falls_back_to_keras_update(case):
    """amsgrad and sparse (embedding) gradients take Keras' own update."""
    _assert_same_training(lambda cls: cls(learning_rate=0.05, amsgrad=case == "amsgrad"),
                          embedding=case == "sparse")


def test_fused_adam_first_step_moves_each_weight_by_the_learning_rate():
    # (Its speed against Keras' Adam: benchmarks/bench_head_training.py.)
    variable = keras.Variable(np.ones((3, 4), "float32"))
    optimizer = FusedAdam(learning_rate=0.1)
    optimizer.build([variable])
    step = tf.function(lambda g: optimizer.apply_gradients([(g, variable)]))
    step(tf.ones((3, 4)))
    # First Adam step: w -= lr * m_hat / (sqrt(v_hat) + eps) = lr * g / |g| (up to eps).
    np.testing.assert_allclose(variable.numpy(), 0.9, rtol=1e-5)


def test_compile_auto_uses_fused_adam_and_its_config_round_trips():
    model = KavanModel(ModelConfig(input_mode="features", feature_shape=(2, 2, 8),
                                   hidden_size=8, attention_size=4, num_frames=4, node_size=2))
    model.compile(learning_rate=3e-3)
    assert isinstance(model.optimizer, FusedAdam)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    config = keras.optimizers.serialize(model.optimizer)
    restored = keras.optimizers.deserialize(config)
    assert isinstance(restored, FusedAdam)
    assert restored.get_config() == model.optimizer.get_config()


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import keras, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from kavan_tf.optimizers import FusedAdam
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32")
    y = np.random.default_rng(1).normal(size=(32, 2)).astype("float32")
    weights = {}
    for cls in (keras.optimizers.Adam, FusedAdam):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, "tanh"),
                                      keras.layers.Dense(2)])
            model.compile(optimizer=cls(learning_rate=0.05), loss="mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        weights[cls.__name__] = [w.numpy() for w in model.weights]
    for a, b in zip(weights["Adam"], weights["FusedAdam"]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=2e-5)
    print("REPLICAS", strategy.num_replicas_in_sync, "SAME")
    """
)


@pytest.mark.slow
def test_fused_adam_under_mirrored_strategy_two_logical_cpus(run_script):
    assert "REPLICAS 2 SAME" in run_script(MIRRORED_SCRIPT)
