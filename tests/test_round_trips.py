"""Every exported layer through the shared round-trip harness (``tests/harness.py``;
the models' ablation rows use it in ``test_model.py``)."""

import keras
import pytest
from harness import run_layer_test

from kavan_tf import layers as kl
from kavan_tf.config import LabelConfig
from kavan_tf.inference import FoldedAway, FusedConv2D


def _rnn(layer, inputs):
    return keras.layers.RNN(layer, return_sequences=True)(inputs[0])


LAYERS = {
    "keypoint_attention": (kl.KeypointAttention, dict(attention_size=4, w_res_init=0.3),
                           [(6, 5), (3,)], None),
    "keypoint_attention_context": (
        kl.KeypointAttention, dict(attention_size=4, use_context=True), [(6, 5), (3,), (4,)],
        None),
    "attention_lstm_cell": (kl.AttentionLSTMCell, dict(units=4, attention_size=3, w_res_init=0.2),
                            [(3, 5, 2)], _rnn),
    "average_pool_lstm_cell": (kl.AttentionLSTMCell, dict(units=4, attention=False),
                               [(3, 5, 2)], _rnn),
    "hs_lstm_cell": (kl.HSLSTMCell, dict(units=4, node_size=2, tiers=3, attention_size=3,
                                         w_res_init=0.1), [(2, 2, 5, 2)], _rnn),
    "hs_lstm_cell_node_state": (
        kl.HSLSTMCell, dict(units=4, node_size=2, tiers=3, attention_size=3, tier1="node",
                            context="state"), [(2, 2, 5, 2)], _rnn),
    "temporal_encoder_lstm": (kl.TemporalEncoder, dict(temporal="lstm", units=4,
                                                       attention_size=3), [(4, 2, 2, 3)], None),
    "temporal_encoder_hslstm": (
        kl.TemporalEncoder, dict(temporal="hslstm", units=4, node_size=2, attention_size=3,
                                 tiers=3, w_res_init=0.1), [(4, 2, 2, 3)], None),
    "category_from_intensities": (
        kl.CategoryFromIntensities,
        dict(emotion_to_category=[int(c) for c in LabelConfig().emotion_to_category()],
             sharpness=4.0), [(17,)], None),
    "image_preprocessing": (kl.ImagePreprocessing, dict(mode="torch"), [(4, 4, 3)], None),
    "framewise": (kl.Framewise, dict(layer=keras.layers.Conv2D(2, 1)), [(3, 4, 4, 3)], None),
    "fused_conv": (FusedConv2D, dict(filters=3, kernel_size=(3, 3), padding="same",
                                        activation="relu"), [(5, 5, 2)], None),
    "folded_away": (FoldedAway, dict(name="bn_folded"), [(3,)], None),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_round_trips(tmp_path, name):
    layer_cls, kwargs, shapes, wrap = LAYERS[name]
    run_layer_test(layer_cls, kwargs, shapes, tmp_path, wrap=wrap)


def test_every_exported_layer_is_covered():
    exported = {getattr(kl, name) for name in kl.__all__}
    covered = {layer_cls for layer_cls, _, _, _ in LAYERS.values()}
    assert exported <= covered, sorted(c.__name__ for c in exported - covered)
