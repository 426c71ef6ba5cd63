"""HS-LSTM as the model runs it (TemporalEncoder -> keras.layers.RNN -> HSLSTMCell)
against the independent numpy reference (tests/hs_lstm_reference.py): values and
gradients, for every reading of docs/model.md, with 2 and 3 tiers."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hs_lstm_reference import hs_lstm

from kavan_tf.layers import HSLSTMCell, TemporalEncoder

READINGS = [(tier1, context) for tier1 in ("frame", "node") for context in ("input", "state")]
B, K, D, UNITS, ATT = 2, 4, 3, 3, 2


def _encoder(tiers, node_size, tier1, context, attention=True, frames=8, seed=0):
    """A float64 encoder with every weight drawn at random (no zero biases or
    unit forget gates that could hide a term)."""
    encoder = TemporalEncoder("hslstm", units=UNITS, attention=attention, attention_size=ATT,
                              tiers=tiers, node_size=node_size, tier1=tier1, context=context,
                              dtype="float64")
    encoder.build((B, frames, 2, 2, D))
    rng = np.random.default_rng(seed)
    for weight in encoder.weights:
        weight.assign(rng.normal(scale=0.6, size=weight.shape))
    return encoder


def _params(encoder):
    """The encoder's weights, by the reference's names."""
    cell = encoder.cell
    params = {}
    for tier, lstm in enumerate(cell.segment_tiers, start=1):
        params[f"tier{tier}"] = {"W": lstm.kernel.numpy(), "U": lstm.recurrent_kernel.numpy(),
                                 "b": lstm.bias.numpy()}
    last = cell.last_tier
    kernel = last.lstm.kernel.numpy()
    if cell.context == "input":  # the LSTM input is [x_t, H]: one kernel over both
        kernel = np.concatenate([kernel, last.context_kernel.numpy()], axis=0)
    params["last"] = {"W": kernel, "U": last.lstm.recurrent_kernel.numpy(),
                      "b": last.lstm.bias.numpy()}
    att = last.keypoint_attention
    params["att"] = None if att is None else {
        "A_c": att.feature_kernel.numpy(), "b": att.bias.numpy(),
        "A_h": att.query_kernel.numpy(), "A_H": att.context_kernel.numpy(),
        "v": att.score_kernel.numpy(), "w_res": att.w_res.numpy(),
    }
    return params


def _loss_weights(frames, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, UNITS)), rng.normal(size=(B, frames, K))


def _reference_loss(frames, params, readings, weights):
    representation, masks, _ = hs_lstm(frames, params, **readings)
    return np.sum(representation * weights[0]) + np.sum(masks * weights[1])


CASES = [(tiers, node_size, *reading) for tiers, node_size in ((2, 4), (3, 2))
         for reading in READINGS]


@pytest.mark.parametrize("tiers, node_size, tier1, context", CASES)
def test_values_equal_the_reference(tiers, node_size, tier1, context):
    encoder = _encoder(tiers, node_size, tier1, context)
    frames = np.random.default_rng(2).normal(size=(B, 8, K, D))
    representation, masks = encoder(frames.reshape(B, 8, 2, 2, D))
    expected, expected_masks, _ = hs_lstm(frames, _params(encoder), node_size=node_size,
                                          tiers=tiers, tier1=tier1, context=context)
    np.testing.assert_allclose(representation, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.reshape(masks, (B, 8, K)), expected_masks,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tiers, node_size, tier1, context", CASES)
def test_gradients_equal_the_reference(tiers, node_size, tier1, context):
    """The package's gradients (TensorFlow's autodiff of the cells) against
    central differences of the reference, for the inputs and every weight."""
    encoder = _encoder(tiers, node_size, tier1, context, seed=3)
    frames = np.random.default_rng(4).normal(size=(B, 8, K, D))
    weights = _loss_weights(8)
    readings = {"node_size": node_size, "tiers": tiers, "tier1": tier1, "context": context}
    inputs = tf.Variable(frames.reshape(B, 8, 2, 2, D))
    with tf.GradientTape() as tape:
        representation, masks = encoder(inputs)
        loss = (tf.reduce_sum(representation * weights[0])
                + tf.reduce_sum(tf.reshape(masks, (B, 8, K)) * weights[1]))
    grads = tape.gradient(loss, [inputs] + encoder.trainable_variables)
    grad_of = {variable.path: grad
               for variable, grad in zip(encoder.trainable_variables, grads[1:], strict=True)}
    params = _params(encoder)
    np.testing.assert_allclose(loss, _reference_loss(frames, params, readings, weights),
                               rtol=1e-10)

    def numeric(array, eps=1e-6):
        """Central differences of the reference loss in every entry of ``array``
        (an array inside ``params`` or ``frames``, changed in place)."""
        out = np.zeros(array.shape)
        for index in np.ndindex(array.shape):
            kept = array[index]
            array[index] = kept + eps
            up = _reference_loss(frames, params, readings, weights)
            array[index] = kept - eps
            down = _reference_loss(frames, params, readings, weights)
            array[index] = kept
            out[index] = (up - down) / (2 * eps)
        return out

    np.testing.assert_allclose(np.reshape(grads[0], frames.shape), numeric(frames),
                               rtol=1e-5, atol=1e-7, err_msg="d loss / d frames")
    # Every weight of the package against the reference's entries it maps to.
    checked = 0
    for tier, lstm in enumerate(encoder.cell.segment_tiers, start=1):
        for name, key in (("kernel", "W"), ("recurrent_kernel", "U"), ("bias", "b")):
            grad = grad_of[getattr(lstm, name).path]
            np.testing.assert_allclose(grad, numeric(params[f"tier{tier}"][key]),
                                       rtol=1e-5, atol=1e-7, err_msg=f"tier {tier} {name}")
            checked += 1
    last = encoder.cell.last_tier
    reference_kernel = numeric(params["last"]["W"])
    rows = last.lstm.kernel.shape[0]
    pairs = [(last.lstm.kernel, reference_kernel[:rows]),
             (last.lstm.recurrent_kernel, numeric(params["last"]["U"])),
             (last.lstm.bias, numeric(params["last"]["b"]))]
    if context == "input":
        pairs.append((last.context_kernel, reference_kernel[rows:]))
    att = last.keypoint_attention
    for name, key in (("feature_kernel", "A_c"), ("bias", "b"), ("query_kernel", "A_h"),
                      ("context_kernel", "A_H"), ("score_kernel", "v")):
        pairs.append((getattr(att, name), numeric(params["att"][key])))
    w_res = np.array(params["att"]["w_res"])
    params["att"]["w_res"] = w_res
    pairs.append((att.w_res, numeric(w_res)))
    for variable, expected in pairs:
        grad = grad_of[variable.path]
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7, err_msg=variable.path)
        checked += 1
    assert checked == len(encoder.trainable_variables)


@pytest.mark.parametrize("tier1, context", READINGS)
def test_without_attention_equals_the_reference(tier1, context):
    # The "Backbone + HS-LSTM" row: average pooling in the last tier.
    encoder = _encoder(2, 4, tier1, context, attention=False, seed=5)
    frames = np.random.default_rng(6).normal(size=(B, 8, K, D))
    representation, masks = encoder(frames.reshape(B, 8, 2, 2, D))
    expected, expected_masks, _ = hs_lstm(frames, _params(encoder), node_size=4, tiers=2,
                                          tier1=tier1, context=context)
    np.testing.assert_allclose(representation, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.reshape(masks, (B, 8, K)), 0.25)


@pytest.mark.parametrize("tier1, context", READINGS)
def test_every_tier_carries_its_state_from_node_to_node(tier1, context):
    # docs/model.md: the state runs on, so node 2's segment representation of
    # tier 1 depends on node 1's frames.
    encoder = _encoder(2, 4, tier1, context, seed=7)
    frames = np.random.default_rng(8).normal(size=(B, 8, 2, 2, D))
    nodes = frames.reshape(B, 2, 4, K, D)
    base = encoder.cell.split_output(encoder.rnn(nodes))["segments"]
    changed = nodes.copy()
    changed[:, 0] += 1.0
    moved = encoder.cell.split_output(encoder.rnn(changed))["segments"]
    assert not np.allclose(moved[:, 1, 0], base[:, 1, 0])


def test_readings_are_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="tier1='segment'"):
        HSLSTMCell(4, tier1="segment")
    with pytest.raises(ValueError, match="context='sum'"):
        HSLSTMCell(4, context="sum")
    encoder = TemporalEncoder("hslstm", units=3, attention_size=2, node_size=2,
                              tier1="node", context="state")
    inputs = keras.Input((4, 2, 2, 3))
    model = keras.Model(inputs, encoder(inputs))
    path = tmp_path / "encoder.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    frames = np.random.default_rng(9).normal(size=(2, 4, 2, 2, 3)).astype("float32")
    for a, b in zip(model(frames), again(frames), strict=True):
        np.testing.assert_array_equal(a, b)
    cell = again.layers[-1].cell
    assert (cell.tier1, cell.context) == ("node", "state")
