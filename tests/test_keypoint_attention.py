"""KeypointAttention: Eqs. 4-6 and 10 against numpy, arguments, saving."""

import keras
import numpy as np
import pytest

from kavan_tf.layers import KeypointAttention


def _numpy_attention(features, query, w, context=None):
    state = query @ w["query_kernel"]
    if context is not None:
        state = state + context @ w["context_kernel"]
    scores = np.tanh(features @ w["feature_kernel"] + w["bias"] + state[:, None, :])
    scores = (scores @ w["score_kernel"])[..., 0]
    alpha = np.exp(scores - scores.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)
    x = np.einsum("bk,bkd->bd", alpha + w["w_res"], features)
    return x, alpha


@pytest.mark.parametrize("use_context", [False, True])
def test_matches_equations(use_context):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 6, 5)).astype("float32")
    query = rng.normal(size=(2, 3)).astype("float32")
    context = rng.normal(size=(2, 4)).astype("float32")
    layer = KeypointAttention(attention_size=7, w_res_init=0.25, use_context=use_context)
    inputs = [features, query] + ([context] if use_context else [])
    x, alpha = layer(inputs)
    weights = {v.name: v.numpy() for v in layer.weights}
    assert weights["w_res"] == pytest.approx(0.25)
    ref_x, ref_alpha = _numpy_attention(features, query, weights, context if use_context else None)
    np.testing.assert_allclose(alpha, ref_alpha, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x, ref_x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.sum(alpha, axis=-1), np.ones(2), rtol=1e-6)


def test_ones_initialisers_give_uniform_masks_and_residual_term():
    # With every kernel = 1, all cells whose features sum to the same value get
    # the same score, so alpha is uniform and x = (1/K + w_res) * sum_k C(k).
    layer = KeypointAttention(attention_size=2, w_res_init=0.5)
    features = np.array([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]], dtype="float32")
    query = np.zeros((1, 3), dtype="float32")
    layer.build([features.shape, query.shape])
    for variable in layer.weights:
        if variable.name != "w_res":
            variable.assign(np.ones(variable.shape, dtype="float32"))
    x, alpha = layer([features, query])
    np.testing.assert_allclose(alpha, [[1 / 3] * 3], rtol=1e-6)
    np.testing.assert_allclose(x, [[(1 / 3 + 0.5) * 1.5] * 2], rtol=1e-6)


def test_w_res_is_learnable():
    layer = KeypointAttention(attention_size=4, w_res_init=0.1)
    layer([np.ones((1, 3, 2), "float32"), np.ones((1, 2), "float32")])
    assert any(v.name == "w_res" for v in layer.trainable_weights)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"attention_size": 0}, "attention_size=0"),
        ({"attention_size": -3}, "attention_size=-3"),
        ({"w_res_init": "big"}, "w_res_init=big"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        KeypointAttention(**kwargs)


def test_wrong_number_of_inputs():
    layer = KeypointAttention(use_context=True)
    with pytest.raises(ValueError, match="expects 3 inputs"):
        layer([np.ones((1, 3, 2), "float32"), np.ones((1, 2), "float32")])


def test_masks_are_computed_in_float32_under_bfloat16():
    # Large scores: a softmax without the max shift overflows exp().
    rng = np.random.default_rng(1)
    features = (rng.normal(size=(2, 6, 5)) * 50).astype("float32")
    query = rng.normal(size=(2, 3)).astype("float32")
    reference = KeypointAttention(attention_size=7)
    reference([features, query])
    fast = KeypointAttention(attention_size=7, dtype="bfloat16")
    fast([features, query])
    fast.set_weights(reference.get_weights())
    projected = reference.project_features(features)
    state = np.ones((2, 7), "float32") * 40.0
    alpha = reference.masks(projected, state)
    fast_alpha = fast.masks(keras.ops.cast(projected, "bfloat16"), state.astype("bfloat16"))
    assert keras.backend.standardize_dtype(fast_alpha.dtype) == "bfloat16"
    assert np.all(np.isfinite(alpha))
    np.testing.assert_allclose(np.sum(alpha, axis=-1), np.ones(2), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.cast(fast_alpha, "float32"), alpha, atol=2e-2)
