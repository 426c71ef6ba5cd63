"""Shared test settings: the tiny model the fast tests build and train."""

from __future__ import annotations

import os
from typing import Any

from kavan_tf.config import KavanConfig, ModelConfig

T, SIZE = 4, 32
"""Frames per GIF and frame side of the tiny model."""

TINY_MODEL: dict[str, Any] = {
    "backbone": "small", "backbone_weights": None, "image_size": [SIZE, SIZE], "num_frames": T,
    "node_size": 2, "hidden_size": 8, "attention_size": 4,
}
"""The model section of every tiny config (small backbone, no weights to download)."""


def tiny_model_config(**overrides: Any) -> ModelConfig:
    """``ModelConfig`` of the tiny model, with ``overrides``."""
    values = {**TINY_MODEL, "image_size": (SIZE, SIZE), **overrides}
    return ModelConfig(**values)


def tiny_config(
    output_dir: str | os.PathLike[str] | None = None,
    *,
    model: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
) -> KavanConfig:
    """``KavanConfig`` of the tiny model: batch 4, 2 epochs, no distribution strategy."""
    train_values: dict[str, Any] = {"epochs": 2, "distribute": "none"}
    if output_dir is not None:
        train_values["output_dir"] = os.fspath(output_dir)
    return KavanConfig.from_dict({
        "model": {**TINY_MODEL, **(model or {})},
        "data": {"batch_size": 4, **(data or {})},
        "train": {**train_values, **(train or {})},
    })
