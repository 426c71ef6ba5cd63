"""AttentionLSTMCell and HSLSTMCell: structure, HS-LSTM locality, saving."""

import keras
import numpy as np
import pytest

from kavan_tf.layers import AttentionLSTMCell, HSLSTMCell, TemporalEncoder
from kavan_tf.layers.attention_lstm_cell import attention_lstm_step, step_weights


def test_attention_lstm_cell_is_attention_then_lstm():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 5, 4)).astype("float32")  # [B, T, K, D]
    cell = AttentionLSTMCell(6, attention_size=3, w_res_init=0.2)
    outputs = keras.layers.RNN(cell, return_sequences=True)(features)
    hidden, alpha = cell.split_output(outputs)
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
    hidden, alpha = cell.split_output(outputs)
    np.testing.assert_allclose(alpha, np.full((2, 3, 5), 0.2), rtol=1e-6)
    state = [np.zeros((2, 6), "float32")] * 2
    for t in range(3):
        h, state = cell.lstm(features[:, t].mean(axis=1), state)
    np.testing.assert_allclose(hidden[:, -1], h, rtol=1e-5, atol=1e-6)


def _hs_outputs(cell, features):
    nodes = features.reshape((features.shape[0], -1, cell.node_size) + features.shape[2:])
    return cell.split_output(keras.layers.RNN(cell, return_sequences=True)(nodes))


@pytest.mark.parametrize("tiers", [2, 3])
def test_hs_lstm_tier1_depends_only_on_its_node(tiers):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 8, 4, 3)).astype("float32")  # T = 8, K = 4, D = 3
    cell = HSLSTMCell(5, node_size=4, tiers=tiers, attention_size=3)
    base = _hs_outputs(cell, features)
    assert base["segments"].shape == (2, 2, tiers - 1, 5)
    assert base["attention"].shape == (2, 2, 4, 4)

    for node, other in ((0, 1), (1, 0)):
        perturbed = features.copy()
        perturbed[:, other * 4 : (other + 1) * 4] += rng.normal(size=(2, 4, 4, 3))
        out = _hs_outputs(cell, perturbed)
        np.testing.assert_allclose(
            out["segments"][:, node, 0], base["segments"][:, node, 0], rtol=1e-6, atol=1e-6
        )
        assert not np.allclose(out["segments"][:, other, 0], base["segments"][:, other, 0])
    # The last tier's state runs on from node to node: the GIF representation
    # depends on the first node too.
    perturbed = features.copy()
    perturbed[:, :4] += 1.0
    assert not np.allclose(_hs_outputs(cell, perturbed)["hidden"][:, -1], base["hidden"][:, -1])


@pytest.mark.parametrize("tiers", [2, 3])
def test_hs_lstm_equals_its_tiers_run_step_by_step(tiers):
    # The cell takes input products once per node; this re-runs every tier one
    # frame at a time with keras.layers.LSTMCell on the concatenated inputs.
    rng = np.random.default_rng(2)
    features = rng.normal(size=(2, 8, 4, 3)).astype("float32")
    cell = HSLSTMCell(5, node_size=4, tiers=tiers, attention_size=3, w_res_init=0.1)
    out = _hs_outputs(cell, features)
    zeros = np.zeros((2, 5), "float32")
    middle = [[zeros, zeros] for _ in range(tiers - 2)]
    last = [zeros, zeros]
    for node in range(2):
        frames = features[:, 4 * node : 4 * node + 4]
        pooled = frames.mean(axis=2)
        state = [zeros, zeros]
        for t in range(4):
            _, state = cell.segment_cells[0](pooled[:, t], state)
        segments, context = [state[0]], state[0]
        for index, tier in enumerate(cell.segment_cells[1:]):
            for t in range(4):
                _, middle[index] = tier(np.concatenate([pooled[:, t], context], -1), middle[index])
            segments.append(middle[index][0])
            context = context + middle[index][0]
        for t in range(4):
            x, alpha = cell.last_tier.keypoint_attention([frames[:, t], last[0], context])
            np.testing.assert_allclose(out["attention"][:, node, t], alpha, rtol=1e-5, atol=1e-6)
            _, last = cell.last_tier.lstm(np.concatenate([x, context], -1), last)
        np.testing.assert_allclose(out["hidden"][:, node], last[0], rtol=1e-5, atol=1e-6)
        for index, segment in enumerate(segments):
            np.testing.assert_allclose(out["segments"][:, node, index], segment,
                                       rtol=1e-5, atol=1e-6)


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
    from kavan_tf.layers.lstm_math import Orthogonal

    expected = keras.initializers.Orthogonal(seed=3)((6, 24))
    np.testing.assert_array_equal(Orthogonal(seed=3)((6, 24)), expected)
    half = Orthogonal(seed=3)((6, 24), dtype="bfloat16")
    assert half.dtype == "bfloat16"
    cell = HSLSTMCell(4, node_size=2, attention_size=3, dtype="bfloat16")
    cell.build((1, 2, 5, 3))
    assert {w.dtype for w in cell.weights} == {"bfloat16"}


@pytest.mark.parametrize("tiers", [2, 3])
def test_temporal_encoder_runs_all_nodes_as_keras_rnn_would(tiers):
    # TemporalEncoder unrolls the nodes (HSLSTMCell.run_nodes, products shared
    # across nodes); keras.layers.RNN steps the same cell node by node.
    rng = np.random.default_rng(4)
    features = rng.normal(size=(2, 6, 2, 2, 3)).astype("float32")  # T = 6, 2 x 2 grid
    encoder = TemporalEncoder("hslstm", units=5, attention_size=3, tiers=tiers, node_size=2)
    representation, masks = encoder(features)
    parts = encoder.cell.split_output(encoder.rnn(features.reshape(2, 3, 2, 4, 3)))
    np.testing.assert_allclose(representation, parts["hidden"][:, -1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(masks, np.reshape(parts["attention"], (2, 6, 2, 2)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tiers", [2, 3])
def test_hs_lstm_gradients_equal_the_keras_rnn_driven_cell(tiers):
    """The unrolled nodes (weights read once per call) against
    ``keras.layers.RNN`` stepping the same cell node by node: the same
    gradient for every weight. (Speed and memory: benchmarks/bench_head_training.py.)"""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    features = tf.constant(rng.normal(size=(3, 8, 2, 2, 3)).astype("float32"))
    encoder = TemporalEncoder("hslstm", units=5, attention_size=3, tiers=tiers, node_size=2)
    encoder(features)
    weights = rng.normal(size=(3, 5)).astype("float32")  # a loss that weighs every unit

    def loss_of(representation, masks):
        return tf.reduce_sum(representation * weights) + tf.reduce_sum(masks * masks)

    with tf.GradientTape() as tape:
        fast = loss_of(*encoder(features, training=True))
    fast_grads = tape.gradient(fast, encoder.trainable_variables)
    with tf.GradientTape() as tape:
        parts = encoder.cell.split_output(
            encoder.rnn(tf.reshape(features, (3, 4, 2, 4, 3)), training=True))
        plain = loss_of(parts["hidden"][:, -1], parts["attention"])
    plain_grads = tape.gradient(plain, encoder.trainable_variables)
    np.testing.assert_allclose(fast, plain, rtol=1e-5)
    for variable, a, b in zip(encoder.trainable_variables, fast_grads, plain_grads, strict=True):
        assert a is not None and b is not None, variable.path
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=variable.path)
        assert np.abs(np.asarray(a)).max() > 0, variable.path


def test_attention_cell_step_with_weights_read_once_equals_plain_step():
    rng = np.random.default_rng(7)
    cell = AttentionLSTMCell(units=5, attention_size=3, use_context=True)
    cell.build((2, 4, 3), context_shape=(2, 6))
    inputs = rng.normal(size=(2, 4, 3)).astype("float32")
    context = rng.normal(size=(2, 6)).astype("float32")
    states = [rng.normal(size=(2, 5)).astype("float32") for _ in range(2)]
    plain, plain_states = cell(inputs, states, context=context)
    weights = step_weights(cell, context)
    hoisted, hoisted_states = attention_lstm_step(cell, inputs, states, context, weights)
    np.testing.assert_allclose(hoisted, plain, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hoisted_states[1], plain_states[1], rtol=1e-6, atol=1e-6)
    assert step_weights(cell)["context_z"] is None
    # The plain step is the attention, then an LSTM on [x, context] (Eqs. 1-3, 10).
    x, alpha = cell.keypoint_attention([inputs, states[0], context])
    lstm = keras.layers.LSTMCell(5)
    lstm.build((2, 9))
    lstm.set_weights(cell.lstm.get_weights())
    h, (_, c) = lstm(np.concatenate([x, context], -1), states)
    np.testing.assert_allclose(plain[:, :5], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(plain[:, 5:], alpha, rtol=1e-6)
    np.testing.assert_allclose(plain_states[1], c, rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(plain)).max() > 0
