"""Training a KAVAN model from a config and a manifest with ``model.fit``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any

import keras
import pandas as pd
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.errors import ManifestError
from kavan_tf.models.backbones import backbone_feature_shape
from kavan_tf.models.kavan import KavanModel
from kavan_tf.training.strategy import get_strategy

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        model: The trained model.
        history: ``History.history`` of the run (this process's epochs only).
        output_dir: Where checkpoints, logs, history and the model went.
    """

    model: KavanModel
    history: dict[str, list[float]]
    output_dir: str


@contextlib.contextmanager
def quiet_dataset_warnings():
    """Silences Keras's warnings about datasets of unknown length.

    Datasets that drop unreadable GIFs have no known length, which Keras
    reports at the end of every pass; that is expected here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Your input ran out of data")
        warnings.filterwarnings("ignore", "`shuffle=True` was passed")
        yield


def configure_run(config: KavanConfig) -> None:
    """Seeds everything, makes CPU ops deterministic and sets the precision policy."""
    keras.utils.set_random_seed(config.train.seed)
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(config.train.mixed_precision or "float32")


def split_frame(frame: pd.DataFrame, split: str, source: str = "manifest") -> pd.DataFrame:
    """Rows of ``frame`` whose ``split`` column equals ``split``; errors when empty."""
    if "split" not in frame.columns:
        raise ManifestError(
            f"{source}: has no `split` column, so split {split!r} cannot be selected; "
            "add the column or use `kavan evaluate` (which makes its own splits)"
        )
    rows = frame[frame["split"] == split]
    if rows.empty:
        found = sorted(frame["split"].dropna().astype(str).unique())
        raise ManifestError(f"{source}: split {split!r} is empty (splits present: {found})")
    return rows


def build_model(config: KavanConfig) -> KavanModel:
    """The model of ``config``, compiled with its loss config and learning rate."""
    model = KavanModel.from_kavan_config(config)
    model.compile(loss_config=config.loss, learning_rate=config.train.learning_rate)
    return model


def feature_grid(config: KavanConfig) -> tuple[int, int]:
    """The ``(h, w)`` grid of the attention masks and heatmap targets."""
    h, w, _ = backbone_feature_shape(config.model)
    return h, w


def shard_dataset(directory: str, config: KavanConfig, *, training: bool) -> tf.data.Dataset:
    """The dataset of a ``kavan prepare`` folder for ``config``'s input mode.

    Frames models read the frame shards (frames sampled per epoch); features
    models (``model.input_mode = "features"``) read the feature cache.
    """
    from kavan_tf.data.shards import build_feature_dataset, build_frame_shard_dataset

    if config.model.input_mode == "features":
        shape = backbone_feature_shape(config.model)
        return build_feature_dataset(directory, config, shape, training=training)
    return build_frame_shard_dataset(
        directory, config, training=training, feature_grid=feature_grid(config)
    )


def train(
    config: KavanConfig,
    train_rows: pd.DataFrame | None,
    val_rows: pd.DataFrame | None = None,
    *,
    train_dataset: tf.data.Dataset | None = None,
    val_dataset: tf.data.Dataset | None = None,
    verbose: int | str = "auto",
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Trains the model of ``config`` on manifest rows with ``model.fit``.

    Everything is checked before the first step: the rows must be non-empty and
    their files must exist. The run writes to ``config.train.output_dir``:
    ``config.json``, ``backup/`` (``keras.callbacks.BackupAndRestore``: a run
    killed mid-way resumes from its last finished epoch when started again with
    the same output folder), ``checkpoints/last.keras`` and ``best.keras``,
    ``logs/`` (TensorBoard), ``history.csv`` and finally ``model.keras``.

    Args:
        config: The experiment.
        train_rows: Manifest rows to train on (see ``kavan_tf.data.manifest``).
        val_rows: Optional rows to validate on after each epoch.
        train_dataset: A prepared dataset to train on instead of ``train_rows``
            (e.g. :func:`shard_dataset`: frame shards, or the feature cache
            for the feature-cache mode).
        val_dataset: A prepared dataset to validate on instead of ``val_rows``.
        verbose: ``model.fit`` verbosity.
        extra_callbacks: Appended to the standard callbacks.

    Returns:
        A :class:`TrainResult`.
    """
    from kavan_tf.data.pipeline import build_dataset, check_rows

    if train_dataset is None:
        check_rows(train_rows, config, "training rows")
    if val_rows is not None and val_dataset is None:
        check_rows(val_rows, config, "validation rows")
    out = config.train.output_dir
    os.makedirs(out, exist_ok=True)
    config.save(os.path.join(out, "config.json"))

    configure_run(config)
    strategy = get_strategy(config.train.distribute)
    with strategy.scope():
        model = build_model(config)
    grid = feature_grid(config)
    train_ds = train_dataset
    if train_ds is None:
        train_ds = build_dataset(train_rows, config, training=True, feature_grid=grid)
    val_ds = val_dataset
    if val_ds is None and val_rows is not None:
        val_ds = build_dataset(val_rows, config, training=False, feature_grid=grid)
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(out, "backup")),
        keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoints", "last.keras")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(out, "checkpoints", "best.keras"), monitor=monitor, save_best_only=True
        ),
        keras.callbacks.TensorBoard(os.path.join(out, "logs"), write_graph=False),
        keras.callbacks.CSVLogger(os.path.join(out, "history.csv"), append=True),
    ] + list(extra_callbacks or [])
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    with quiet_dataset_warnings():
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=config.train.epochs,
            callbacks=callbacks,
            verbose=verbose,
        )
    model.save(os.path.join(out, "model.keras"))
    with open(os.path.join(out, "history.json"), "w", encoding="utf-8") as f:
        json.dump(history.history, f, indent=2)
    return TrainResult(model=model, history=history.history, output_dir=out)


def with_overrides(config: KavanConfig, **sections: dict[str, Any]) -> KavanConfig:
    """A copy of ``config`` with some fields of some sections replaced.

    Example: ``with_overrides(config, model={"attention": False}, train={"epochs": 2})``.
    """
    values = config.to_dict()
    for section, changes in sections.items():
        values[section] = {**values[section], **changes}
    return KavanConfig.from_dict(values)
