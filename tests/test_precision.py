"""Mixed precision and XLA on the CPU (issue 33): a tiny model trains a few
steps under ``train.mixed_precision`` and ``train.jit_compile`` and gives
float32's losses on the same batches."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers import tiny_config

from kavan_tf.data.manifest import read_manifest
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.trainer import train

MIXED_RTOL = 1e-2
"""Mixed precision's losses within 1 % of float32's over the first steps
(float16 keeps 11 significant bits, bfloat16 8: about 0.05 % and 0.4 % per
value; heads and losses stay float32)."""


class StepLosses(keras.callbacks.Callback):
    """The loss after every training step (Keras' running mean of the epoch)."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return read_manifest(generate_dataset(
        root, SyntheticConfig(num_gifs=8, frame_size=(40, 40), num_frames=(4, 5))))


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _steps(tmp_path, rows, name, **settings):
    """Two steps (8 GIFs, batch 4, one epoch): the losses and the model."""
    losses = StepLosses()
    config = tiny_config(tmp_path / name, train={"epochs": 1, "learning_rate": 1e-2,
                                                  **settings})
    result = train(config, rows, verbose=0, extra_callbacks=[losses])
    assert len(losses.losses) == 2 and np.isfinite(losses.losses).all(), losses.losses
    return np.array(losses.losses), result.model


@pytest.fixture(scope="module")
def float32_losses(tmp_path_factory, rows):
    losses, _ = _steps(tmp_path_factory.mktemp("float32"), rows, "run")
    return losses


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_as_float32(tmp_path, rows, float32_losses, policy):
    losses, model = _steps(tmp_path, rows, policy, mixed_precision=policy)
    np.testing.assert_allclose(losses, float32_losses, rtol=MIXED_RTOL)
    assert model.dtype_policy.name == policy
    optimizer = model.optimizer
    if policy == "mixed_float16":
        # The loss is scaled (dynamically, from 2^15) and the gradients
        # unscaled: two steps taken without an overflow.
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert float(optimizer.dynamic_scale) == 2.0**15
        assert int(optimizer.step_counter) == 2
        assert int(optimizer.iterations) == 2
    else:
        assert not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


@pytest.mark.slow
def test_xla_gives_the_first_step_loss_of_no_xla(tmp_path, rows, float32_losses):
    losses, model = _steps(tmp_path, rows, "xla", jit_compile=True)
    # Keras compiles with XLA only while op determinism is off (train() turns
    # it off for jit_compile=True); it would fall back to no XLA silently.
    assert model.jit_compile is True
    np.testing.assert_allclose(losses[0], float32_losses[0], rtol=1e-5)
    np.testing.assert_allclose(losses, float32_losses, rtol=1e-4)
