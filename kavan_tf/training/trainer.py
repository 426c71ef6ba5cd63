"""Training a KAVAN model from a config and a manifest with ``model.fit``."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import pandas as pd
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from kavan_tf.config import KavanConfig, with_overrides  # noqa: F401 - re-exported
from kavan_tf.data.pipeline import build_dataset, check_rows
from kavan_tf.data.shards import (
    build_feature_dataset,
    build_frame_shard_dataset,
    record_index,
    shard_files,
)
from kavan_tf.data.vote_pipeline import VoteIndex, build_vote_dataset, index_votes
from kavan_tf.errors import ManifestError
from kavan_tf.model_card import CARD_FILE, build_card, describe_data, set_card, write_card
from kavan_tf.models.backbones import backbone_feature_shape
from kavan_tf.models.kavan import KavanModel
from kavan_tf.training.cluster import (
    exit_on_signals,
    restore_backup,
    role_of,
    write_dir,
)
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
    """Seeds everything, makes ops deterministic and sets the precision policy.

    With ``train.jit_compile = True`` op determinism is left off: Keras
    does not compile a step with XLA while it is on (it falls back to no XLA
    with a warning), so XLA runs are seeded but not bit-for-bit repeatable.
    """
    keras.utils.set_random_seed(config.train.seed)
    if config.train.jit_compile:
        tf_config.disable_op_determinism()
    else:
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
    """The model of ``config``, compiled with its loss config, learning rate and
    ``train.jit_compile``."""
    model = KavanModel.from_kavan_config(config)
    jit = config.train.jit_compile
    model.compile(loss_config=config.loss, learning_rate=config.train.learning_rate,
                  jit_compile="auto" if jit is None else jit)
    return model


def feature_grid(config: KavanConfig) -> tuple[int, int]:
    """The ``(h, w)`` grid of the attention masks and heatmap targets."""
    h, w, _ = backbone_feature_shape(config.model)
    return h, w


@dataclass(frozen=True)
class InputData:
    """Training or validation data that :func:`train` builds per epoch and
    per input pipeline, so that every worker reads only its share.

    Attributes:
        build: ``(epoch, input_context) -> tf.data.Dataset``: the batches of
            one epoch (``epoch=None``: one dataset for every epoch, as
            validation data is) for one input pipeline (``None``: global
            batches, one device).
        num_examples: Examples per epoch (the steps per epoch follow).
    """

    build: Callable[[int | None, tf.distribute.InputContext | None], tf.data.Dataset]
    num_examples: int

    def dataset(self) -> tf.data.Dataset:
        """Global batches of every epoch, reshuffled each iteration (one device)."""
        return self.build(None, None)


def shard_dataset(directory: str, config: KavanConfig, *, training: bool) -> InputData:
    """The data of a ``kavan prepare`` folder for ``config``'s input mode.

    Frames models read the frame shards (frames sampled per epoch); features
    models (``model.input_mode = "features"``) read the feature cache. Pass
    it to :func:`train` (``train_dataset`` or ``val_dataset``); each worker
    then reads only the records of its slices of the global batches, and
    each epoch is seeded by its number, as for a manifest. ``.dataset()`` is
    the plain ``tf.data.Dataset``.
    """
    if config.loss.sigma_weights:
        raise ValueError(
            "loss.sigma_weights: prepared shards hold no TrueSkill sigmas yet; train from "
            "the manifest (without --shards) to weight the loss by them"
        )
    if config.model.input_mode == "features":
        shape = backbone_feature_shape(config.model)
        count = len(record_index(shard_files(directory, "features"))[0])
        return InputData(lambda epoch, context: build_feature_dataset(
            directory, config, shape, training=training, epoch=epoch,
            input_context=context), count)
    grid = feature_grid(config)
    count = len(record_index(shard_files(directory, "frames"))[0])
    return InputData(lambda epoch, context: build_frame_shard_dataset(
        directory, config, training=training, feature_grid=grid, epoch=epoch,
        input_context=context), count)


def manifest_data(rows: pd.DataFrame, config: KavanConfig, *, training: bool) -> InputData:
    """The :class:`InputData` of manifest rows (:func:`build_dataset`)."""
    grid = feature_grid(config)
    return InputData(lambda epoch, context: build_dataset(
        rows, config, training=training, feature_grid=grid, epoch=epoch,
        input_context=context), len(rows))


def vote_data(votes_path: str, rows: pd.DataFrame, config: KavanConfig,
              index_dir: str | None = None,
              votes_per_epoch: int | None = None) -> tuple[InputData, VoteIndex]:
    """The :class:`InputData` of a GIFGIF vote dump on manifest rows, and its index.

    The dump is streamed once into a vote index (:func:`index_votes`, in
    ``index_dir``, by default ``<train.output_dir>/votes``); each epoch
    then reads batches of ``data.batch_size`` votes, each vote's two GIFs
    decoded (:func:`build_vote_dataset`): all of them, or the first
    ``votes_per_epoch`` of each epoch's permutation. ``num_examples``
    counts the votes of an epoch.

    Raises:
        ValueError: ``loss.w_vote`` is 0 (the votes would not be used), or
            no vote names two GIFs of ``rows``.
    """
    if not config.loss.w_vote > 0:
        raise ValueError("Training on votes needs loss.w_vote > 0 (e.g. --set loss.w_vote=1; "
                         "loss.w_rg=0 for the votes alone). Received: loss.w_vote="
                         f"{config.loss.w_vote}")
    check_rows(rows, config, "manifest rows of the votes")
    index = index_votes(votes_path, rows, config,
                        index_dir or os.path.join(config.train.output_dir, "votes"))
    if index.num_votes == 0:
        raise ValueError(f"{votes_path}: no vote names two GIFs of the manifest rows "
                         f"({index.summary()})")
    grid = feature_grid(config)
    per_epoch = index.num_votes if votes_per_epoch is None else min(votes_per_epoch,
                                                                    index.num_votes)
    return InputData(lambda epoch, context: build_vote_dataset(
        index, rows, config, feature_grid=grid, epoch=epoch, input_context=context,
        votes_per_epoch=per_epoch), per_epoch), index


def train(
    config: KavanConfig,
    train_rows: pd.DataFrame | None,
    val_rows: pd.DataFrame | None = None,
    *,
    train_dataset: InputData | tf.data.Dataset | None = None,
    val_dataset: InputData | tf.data.Dataset | None = None,
    verbose: int | str = "auto",
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
    data_description: dict[str, Any] | None = None,
) -> TrainResult:
    """Trains the model of ``config`` on manifest rows with ``model.fit``.

    Everything is checked before the first step: the rows must be non-empty and
    their files must exist. The run writes to ``config.train.output_dir``:
    ``config.json``, ``backup/`` (``keras.callbacks.BackupAndRestore``: a run
    killed mid-way resumes from its last finished epoch when started again with
    the same output folder), ``checkpoints/last.keras`` and ``best.keras``,
    ``logs/`` (TensorBoard), ``history.csv`` and finally ``model.keras`` with
    its ``model_card.json`` (:mod:`kavan_tf.model_card`).

    Args:
        config: The experiment.
        train_rows: Manifest rows to train on (see ``kavan_tf.data.manifest``).
        val_rows: Optional rows to validate on after each epoch.
        train_dataset: Data to train on instead of ``train_rows``: an
            :class:`InputData` (e.g. :func:`shard_dataset`: frame shards, or
            the feature cache for the feature-cache mode), sharded per worker
            before anything is read; or any ``tf.data.Dataset``, which every
            worker then reads whole and keeps its slice of
            (``AutoShardPolicy.DATA``).
        val_dataset: The same, to validate on instead of ``val_rows``.
        verbose: ``model.fit`` verbosity.
        extra_callbacks: Appended to the standard callbacks.
        data_description: The model card's ``data`` entry
            (:func:`kavan_tf.model_card.describe_data`); derived from
            ``train_rows`` when ``None``.

    Returns:
        A :class:`TrainResult`.
    """
    if train_dataset is None:
        check_rows(train_rows, config, "training rows")
    if val_rows is not None and val_dataset is None:
        check_rows(val_rows, config, "validation rows")
    out = config.train.output_dir
    configure_run(config)
    # get_strategy checks TF_CONFIG before the strategy connects: a bad one
    # never leaves the other workers waiting.
    strategy = get_strategy(config.train.distribute)
    role = role_of(strategy)
    with exit_on_signals(role) as cleanup, write_dir(out, role, cleanup) as where:
        os.makedirs(os.path.join(where, "checkpoints"), exist_ok=True)
        if role.is_chief:
            config.save(os.path.join(where, "config.json"))
        else:
            # Every worker resumes from the chief's backup (see cluster.py).
            restore_backup(os.path.join(out, "backup"), os.path.join(where, "backup"))
        with strategy.scope():
            model = build_model(config)
        if train_dataset is None:
            assert train_rows is not None  # check_rows refused None above
            train_dataset = manifest_data(train_rows, config, training=True)
        if val_dataset is None and val_rows is not None:
            val_dataset = manifest_data(val_rows, config, training=False)
        first = resumed_epoch(os.path.join(where, "backup"))
        train_ds, steps = distributed(train_dataset, strategy, role, config, first)
        val_ds, _ = distributed(val_dataset, strategy, role, config, None)
        monitor = "val_loss" if val_ds is not None else "loss"
        callbacks = [
            keras.callbacks.BackupAndRestore(os.path.join(where, "backup")),
            keras.callbacks.ModelCheckpoint(os.path.join(where, "checkpoints", "last.keras")),
            keras.callbacks.ModelCheckpoint(
                os.path.join(where, "checkpoints", "best.keras"),
                monitor=monitor,
                save_best_only=True,
            ),
            keras.callbacks.TensorBoard(os.path.join(where, "logs"), write_graph=False),
            keras.callbacks.CSVLogger(os.path.join(where, "history.csv"), append=True),
        ] + list(extra_callbacks or [])
        with quiet_dataset_warnings():
            history = model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=config.train.epochs,
                steps_per_epoch=steps,
                callbacks=callbacks,
                verbose=verbose if role.is_chief else 0,
            )
        data = data_description or describe_data(train_rows, val_rows=val_rows)
        card = build_card(config.to_dict(), data, history.history)
        set_card(model, card)  # model.keras carries its card wherever it is copied
        # Saving reads variables that all workers hold: every worker saves.
        model.save(os.path.join(where, "model.keras"))
        with open(os.path.join(where, "history.json"), "w", encoding="utf-8") as f:
            json.dump(history.history, f, indent=2)
        write_card(card, os.path.join(where, CARD_FILE))
    return TrainResult(model=model, history=history.history, output_dir=out)


def resumed_epoch(backup_dir: str) -> int:
    """The epoch a run restarted with ``backup_dir`` resumes at (0 for a new run).

    Read from the ``training_metadata.json`` that
    ``keras.callbacks.BackupAndRestore`` writes beside its weights.
    """
    path = os.path.join(backup_dir, "training_metadata.json")
    try:
        with open(path, encoding="utf-8") as f:
            return int(json.load(f)["epoch"])
    except FileNotFoundError:
        return 0
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: unreadable backup metadata ({e}); delete the backup "
                         "folder to start again") from e


def epochs_dataset(
    data: InputData,
    config: KavanConfig,
    first_epoch: int,
    context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Epochs ``first_epoch .. config.train.epochs - 1`` of training data, one
    after the other, each seeded by its own number (``build_dataset(epoch=e)``).

    So epoch ``k`` holds the same batches whether the run started at 0 or was
    resumed at ``k``. Train on it with ``steps_per_epoch`` set to one epoch's
    global batches: every global batch gives every replica one batch.
    """
    dataset = None
    for epoch in range(first_epoch, max(config.train.epochs, first_epoch + 1)):
        one = data.build(epoch, context)
        dataset = one if dataset is None else dataset.concatenate(one)
    return dataset


def distributed(
    data: InputData | tf.data.Dataset | None,
    strategy: tf.distribute.Strategy,
    role,
    config: KavanConfig,
    first_epoch: int | None,
) -> tuple[Any, int | None]:
    """``(dataset for model.fit, steps per epoch)`` of training data
    (``first_epoch`` set: epochs chained by :func:`epochs_dataset`) or
    validation data (``first_epoch=None``).

    :class:`InputData` on several replicas goes through
    ``strategy.distribute_datasets_from_function``: each input pipeline
    builds only its replicas' slices of every global batch, and decodes or
    reads only those. A plain ``tf.data.Dataset`` is sharded by data.
    """
    if data is None:
        return None, None
    if isinstance(data, tf.data.Dataset):
        return (_shard_by_data(data) if role.num_workers > 1 else data), None
    steps = None
    if first_epoch is None:
        def build(context):
            return data.build(None, context)
    else:
        steps = math.ceil(data.num_examples / config.data.batch_size)

        def build(context):
            return epochs_dataset(data, config, first_epoch, context)
    if strategy.num_replicas_in_sync == 1:
        return build(None), steps
    return strategy.distribute_datasets_from_function(build), steps


def _shard_by_data(dataset: tf.data.Dataset | None) -> tf.data.Dataset | None:
    """Shards by element, so that every worker's slice of a global batch is
    the slice a single device would have trained on (file sharding would give
    each worker other GIFs and other batches)."""
    if dataset is None:
        return None
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


