"""Models saved before the layout of kavan_tf.inference (issue 13) still load.

``tests/data/legacy/*.keras`` were written by commit 5a620a4 (the layers
still took ``gate_major``, ``ModelConfig`` still had ``fold_batch_norm`` and
``gate_major_lstm``), with the inputs and the outputs it gave; see
``tests/data/legacy/README.md``.
"""

import pathlib

import keras
import numpy as np
import pytest

from kavan_tf.config import KavanConfig, ModelConfig
from kavan_tf.layers import TemporalEncoder
from kavan_tf.models import KavanModel

LEGACY = pathlib.Path(__file__).resolve().parent / "data" / "legacy"


@pytest.mark.parametrize("name", ["hslstm3", "lstm_noatt"])
def test_models_saved_by_the_previous_layout_load_and_predict_the_same(name):
    model = keras.saving.load_model(LEGACY / f"{name}.keras")
    assert isinstance(model, KavanModel)
    saved = np.load(LEGACY / f"{name}.npz")
    outputs = model.predict(saved["frames"].astype("float32"), verbose=0)
    for key in ("intensities", "category", "attention"):
        np.testing.assert_allclose(outputs[key], saved[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_old_inference_flags_are_dropped_when_false_and_refused_when_true():
    config = KavanConfig.from_dict({"model": {"fold_batch_norm": False, "gate_major_lstm": False}})
    assert config.model == ModelConfig()
    with pytest.raises(ValueError, match="model.fold_batch_norm=True.*InferenceModel"):
        KavanConfig.from_dict({"model": {"fold_batch_norm": True}})
    encoder = TemporalEncoder.from_config({"temporal": "lstm", "units": 3, "gate_major": False})
    assert "gate_major" not in encoder.get_config()
    with pytest.raises(ValueError, match="gate_major=True"):
        TemporalEncoder.from_config({"temporal": "lstm", "units": 3, "gate_major": True})
