"""AttentionLSTMCell and HSLSTMCell: structure and arguments (HS-LSTM against its
reference: tests/test_hs_lstm.py)."""

import keras
import numpy as np
import pytest

from kavan_tf.layers import AttentionLSTMCell, HSLSTMCell, TemporalEncoder
from kavan_tf.layers.lstm_math import Orthogonal


def test_attention_lstm_cell_is_attention_then_lstm():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 5, 4)).astype("float32")  # [B, T, K, D]
    cell = AttentionLSTMCell(6, attention_size=3, w_res_init=0.2)
    outputs = keras.layers.RNN(cell, return_sequences=True)(features)
    parts = cell.split_output(outputs)
    hidden, alpha = parts["hidden"], parts["attention"]
    assert hidden.shape == (2, 3, 6) and alpha.shape == (2, 3, 5)
    # Re-run the recurrence by hand with the cell's own sublayers.
    state = [np.zeros((2, 6), "float32")] * 2
    for t in range(3):
        x, a = cell.keypoint_attention([features[:, t], state[0]])
        np.testing.assert_allclose(alpha[:, t], a, rtol=1e-5, atol=1e-6)
        h, state = cell.lstm(x, state)
        np.testing.assert_allclose(hidden[:, t], h, rtol=1e-5, atol=1e-6)


def test_attention_off_is_average_pooling():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 5, 4)).astype("float32")
    cell = AttentionLSTMCell(6, attention=False)
    outputs = keras.layers.RNN(cell, return_sequences=True)(features)
    parts = cell.split_output(outputs)
    hidden, alpha = parts["hidden"], parts["attention"]
    np.testing.assert_allclose(alpha, np.full((2, 3, 5), 0.2), rtol=1e-6)
    state = [np.zeros((2, 6), "float32")] * 2
    for t in range(3):
        h, state = cell.lstm(features[:, t].mean(axis=1), state)
    np.testing.assert_allclose(hidden[:, -1], h, rtol=1e-5, atol=1e-6)


def _hs_outputs(cell, features):
    nodes = features.reshape((features.shape[0], -1, cell.node_size) + features.shape[2:])
    return cell.split_output(keras.layers.RNN(cell, return_sequences=True)(nodes))


def test_hs_lstm_context_enters_last_tier_attention():
    # Eq. 10: the masks of node i depend on H_1^i.
    rng = np.random.default_rng(1)
    features = rng.normal(size=(1, 4, 4, 3)).astype("float32")
    cell = HSLSTMCell(5, node_size=4, tiers=2, attention_size=3)
    base = _hs_outputs(cell, features)
    cell.last_tier.keypoint_attention.context_kernel.assign(
        cell.last_tier.keypoint_attention.context_kernel.numpy() * 3.0
    )
    changed = _hs_outputs(cell, features)
    assert not np.allclose(base["attention"], changed["attention"])


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"units": 0}, "units=0"),
        ({"units": 4, "tiers": 1}, "tiers=1"),
        ({"units": 4, "node_size": 0}, "node_size=0"),
    ],
)
def test_hs_lstm_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        HSLSTMCell(**kwargs)


def test_attention_cell_bad_units():
    with pytest.raises(ValueError, match="units=-1"):
        AttentionLSTMCell(-1)


def test_temporal_encoder_rejects_indivisible_frames():
    encoder = TemporalEncoder(temporal="hslstm", units=4, node_size=4)
    with pytest.raises(ValueError, match="node_size=4"):
        encoder(np.zeros((1, 6, 2, 2, 3), "float32"))


def test_temporal_encoder_bad_temporal():
    with pytest.raises(ValueError, match="temporal='gru'"):
        TemporalEncoder(temporal="gru")


def test_orthogonal_initialiser_matches_keras_and_builds_bfloat16():
    expected = keras.initializers.Orthogonal(seed=3)((6, 24))
    np.testing.assert_array_equal(Orthogonal(seed=3)((6, 24)), expected)
    half = Orthogonal(seed=3)((6, 24), dtype="bfloat16")
    assert half.dtype == "bfloat16"
    cell = HSLSTMCell(4, node_size=2, attention_size=3, dtype="bfloat16")
    cell.build((1, 2, 5, 3))
    assert {w.dtype for w in cell.weights} == {"bfloat16"}
