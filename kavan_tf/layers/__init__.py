"""KAVAN's layers: keypoint attention, the attention LSTM cell and HS-LSTM."""

from kavan_tf.layers.attention_lstm_cell import AttentionLSTMCell
from kavan_tf.layers.category_from_intensities import CategoryFromIntensities
from kavan_tf.layers.framewise import Framewise
from kavan_tf.layers.hs_lstm_cell import HSLSTMCell
from kavan_tf.layers.image_preprocessing import ImagePreprocessing
from kavan_tf.layers.keypoint_attention import KeypointAttention
from kavan_tf.layers.temporal_encoder import TemporalEncoder

__all__ = [
    "AttentionLSTMCell",
    "CategoryFromIntensities",
    "Framewise",
    "HSLSTMCell",
    "ImagePreprocessing",
    "KeypointAttention",
    "TemporalEncoder",
]
