"""Emotion labels and coarse categories (docs/decisions.md#labels-and-categories).

The emotion order is GIFGIF's own alphabetical order and is part of the model's
output contract: ``intensities[:, k]`` is always ``EMOTIONS[k]``. The category
mapping is configuration (see :class:`kavan_tf.config.LabelConfig`); the values
here are only its defaults.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "amusement",
    "anger",
    "contempt",
    "contentment",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "guilt",
    "happiness",
    "pleasure",
    "pride",
    "relief",
    "sadness",
    "satisfaction",
    "shame",
    "surprise",
)

DEFAULT_CATEGORY_NAMES: tuple[str, ...] = (
    "pleasure-arousal",
    "pleasure-sleep",
    "misery-arousal",
    "misery-sleep",
)

DEFAULT_CATEGORY_MEMBERS: tuple[tuple[str, ...], ...] = (
    ("amusement", "excitement", "happiness", "pride", "surprise"),
    ("contentment", "pleasure", "relief", "satisfaction"),
    ("anger", "contempt", "disgust", "embarrassment", "fear"),
    ("guilt", "sadness", "shame"),
)
