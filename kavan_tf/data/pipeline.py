"""tf.data pipelines from a manifest: decode, sample, resize, heatmaps, targets.

One example is ``(frames, targets)`` with ``frames`` float32 ``[T, H, W, 3]``
(raw RGB 0-255; the model preprocesses) and ``targets`` a dict keyed by the
model's output names: ``intensities`` ``[E]`` (``clip(score / 25 - 1, -1, 1)``),
``category`` (int, category of the top emotion) and ``attention``
``[T, h, w]`` (Eq. 8 heatmaps; all zero on frames without keypoints, which the
keypoint loss masks out).

Example:

```python
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import build_dataset

config = KavanConfig()
rows = read_manifest("data/manifest.csv")
dataset = build_dataset(rows, config, training=True, feature_grid=(7, 7))
model.fit(dataset, epochs=30)
```
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.data import sampling
from kavan_tf.data.heatmaps import keypoint_heatmaps
from kavan_tf.data.manifest import scores_to_targets, sigma_column, targets_category
from kavan_tf.data.media import decode_media
from kavan_tf.errors import KeypointFileError, ManifestError
from kavan_tf.keypoints import load_keypoints, pad_people
from kavan_tf.losses.nmse import sigma_weights

logger = logging.getLogger(__name__)

_MAX_LISTED = 10


@dataclass
class Example:
    """One preprocessed GIF (numpy), before batching.

    Attributes:
        frames: uint8 ``[T, H, W, 3]`` sampled, resized frames.
        heatmaps: float32 ``[T, h, w]`` keypoint heatmap targets.
        mask: float32 ``[T]``: 1 where the frame has keypoints.
        indices: The sampled frame indices into the decoded GIF.
        keypoints: float32 ``[T, P, 70, 3]`` keypoints in resized-frame pixels.
    """

    frames: np.ndarray
    heatmaps: np.ndarray
    mask: np.ndarray
    indices: np.ndarray
    keypoints: np.ndarray


def check_rows(rows: pd.DataFrame, config: KavanConfig, what: str = "rows") -> None:
    """Fails early, before any training step, on rows that cannot be loaded.

    Raises:
        ManifestError: No rows, missing columns, missing GIF or keypoint
            files, or NaN scores.
    """
    if rows is None or len(rows) == 0:
        raise ManifestError(f"The {what} are empty: nothing to train or evaluate on")
    emotions = list(config.labels.emotions)
    missing_columns = [c for c in ["gif_id", "path"] + emotions if c not in rows.columns]
    if missing_columns:
        raise ManifestError(f"The {what} lack the columns {missing_columns}")
    scores = rows[emotions].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(scores).all(axis=1)
    if bad.any():
        ids = rows["gif_id"][bad].astype(str).tolist()
        raise ManifestError(f"The {what} have NaN/non-finite scores for gif_id {_listing(ids)}")
    missing = [p for p in rows["path"].astype(str) if not os.path.isfile(p)]
    if "keypoints" in rows.columns:
        missing += [
            p for p in rows["keypoints"].dropna().astype(str) if p and not os.path.isfile(p)
        ]
    if missing:
        raise ManifestError(f"The {what} name {len(missing)} missing files: {_listing(missing)}")


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def load_example(
    gif_path: str,
    keypoints_path: str | None,
    config: KavanConfig,
    *,
    training: bool,
    feature_grid: tuple[int, int],
    rng: np.random.Generator | None = None,
) -> Example:
    """Decodes, samples and resizes one GIF and builds its heatmap targets.

    Args:
        gif_path: The GIF file.
        keypoints_path: Its kavan-keypoints-v1 file, or ``None``/``""``.
        config: Supplies T, the image size and the data settings.
        training: Random frame per TSN segment (else the middle frame).
        feature_grid: ``(h, w)`` of the heatmaps.
        rng: Randomness of the training sampling.

    Returns:
        An :class:`Example`.

    Raises:
        MediaDecodeError: The file cannot be decoded.
        KeypointFileError: The keypoint file is malformed.
    """
    data, model = config.data, config.model
    gif = decode_media(gif_path, data)
    indices = sampling.sample_indices(
        gif.num_frames,
        model.num_frames,
        training=training,
        rng=rng,
        delays_ms=gif.delays_ms,
        by=sampling.sampling_mode(gif.format, data.sampling),
    )
    frames, transform = sampling.resize_frames(
        gif.frames[indices], model.image_size, mode=data.resize, background=data.background
    )
    keypoints = _sampled_keypoints(keypoints_path, gif.num_frames, indices, gif_path)
    keypoints = sampling.transform_keypoints(keypoints, transform)
    heatmaps, mask = keypoint_heatmaps(keypoints, model.image_size, feature_grid, config=data)
    return Example(frames, heatmaps, mask, np.asarray(indices), keypoints)


def _sampled_keypoints(
    path: str | None, num_frames: int, indices: np.ndarray, gif_path: str
) -> np.ndarray:
    if not path:
        return np.zeros((len(indices), 0, 70, 3), np.float32)
    document = load_keypoints(path)
    if document.num_frames != num_frames:
        raise KeypointFileError(
            f"{path}: has keypoints for {document.num_frames} frames but {gif_path} "
            f"decodes to {num_frames}"
        )
    return pad_people([document.frames[i] for i in indices])


def targets_of(rows: pd.DataFrame, config: KavanConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(intensities [N, E] float32, category [N] int32)`` of manifest rows."""
    targets = scores_to_targets(rows[list(config.labels.emotions)].to_numpy(np.float64))
    return targets.astype(np.float32), targets_category(targets, config.labels).astype(np.int32)


def intensity_targets(rows: pd.DataFrame, config: KavanConfig) -> np.ndarray:
    """The ``intensities`` targets training reads: ``[N, E]``, or ``[N, 2E]`` with
    ``loss.sigma_weights`` (each GIF's confidence weights appended, see
    :func:`kavan_tf.losses.sigma_weights`).

    Raises:
        ManifestError: ``loss.sigma_weights`` is set and the rows have no
            ``<emotion>_sigma`` columns.
    """
    intensities, _ = targets_of(rows, config)
    if not config.loss.sigma_weights:
        return intensities
    columns = [sigma_column(e) for e in config.labels.emotions]
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ManifestError(
            f"loss.sigma_weights needs the TrueSkill sigma columns ({missing[0]}, ...); "
            "`kavan votes` writes them. Received: a manifest without them"
        )
    weights = sigma_weights(rows[columns].to_numpy(np.float64), config.loss.sigma_floor)
    return np.concatenate([intensities, weights], axis=-1)


def build_dataset(
    rows: pd.DataFrame,
    config: KavanConfig,
    *,
    training: bool,
    feature_grid: tuple[int, int],
    seed: int | None = None,
    batch_size: int | None = None,
    repeat: bool = False,
    epoch: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(frames, targets)`` from manifest rows.

    Decoding runs in parallel ``tf.numpy_function`` calls. Training datasets are
    shuffled (reshuffled every epoch) and sample a random frame per TSN
    segment; both are seeded, so the same seed gives the same batches.

    The shuffle and the batching act on ``(row index, seed)`` pairs, before
    any file is read (:func:`replica_batches`): with an ``input_context``
    this input pipeline decodes only the GIFs of its replicas' slices of every
    global batch. A GIF that fails to decode is left out of its batch with a
    logged warning (``kavan prepare`` lists them up front): that batch is one
    GIF smaller, and every other batch holds what it would hold without the
    failure, on one device and on many.

    Args:
        rows: Manifest rows (absolute paths, as ``read_manifest`` returns).
        config: The experiment config.
        training: Training (shuffle, random sampling) or evaluation mode.
        feature_grid: ``(h, w)`` of the heatmap targets (the backbone's grid).
        seed: Shuffle/sampling seed; ``config.train.seed`` when ``None``.
        batch_size: The global batch; ``config.data.batch_size`` when ``None``.
        repeat: Repeat forever.
        epoch: Build the data of this one epoch only: the shuffle and the
            frame sampling are seeded by ``(seed, epoch)`` and do not change
            between iterations. :func:`kavan_tf.training.trainer.train`
            chains such epochs, so that a run resumed at epoch ``k`` sees
            the batches an uninterrupted run sees at epoch ``k``. ``None``:
            one dataset that reshuffles and resamples on every iteration.
        input_context: The ``tf.distribute.InputContext`` of
            ``strategy.distribute_datasets_from_function``: the dataset then
            yields this input pipeline's per-replica batches only. ``None``:
            global batches (one device).

    Returns:
        The dataset.
    """
    seed = config.train.seed if seed is None else seed
    reshuffle = training and epoch is None
    if epoch is not None:
        seed = epoch_seed(seed, epoch)
    batch_size = config.data.batch_size if batch_size is None else batch_size
    paths = rows["path"].astype(str).tolist()
    keypoint_paths = (
        rows["keypoints"].fillna("").astype(str).tolist()
        if "keypoints" in rows.columns
        else [""] * len(rows)
    )
    _, categories = targets_of(rows, config)
    intensities = intensity_targets(rows, config)
    T = config.model.num_frames
    height, width = config.model.image_size
    h, w = feature_grid

    def load(index: np.int64, example_seed: np.int64) -> tuple[np.ndarray, np.ndarray, bool]:
        rng = np.random.default_rng([seed, int(example_seed) & 0x7FFFFFFF])
        try:
            example = load_example(
                paths[index],
                keypoint_paths[index] or None,
                config,
                training=training,
                feature_grid=feature_grid,
                rng=rng,
            )
        except Exception as e:  # noqa: BLE001 - any failing GIF is left out, as documented
            logger.warning("Left out of its batch: %s (%s: %s)", paths[index],
                           type(e).__name__, e)
            return np.zeros((T, height, width, 3), np.uint8), np.zeros((T, h, w), np.float32), False
        return example.frames, example.heatmaps, True

    def to_example(index, example_seed):
        frames, heatmaps, ok = tf.numpy_function(
            load, [index, example_seed], [tf.uint8, tf.float32, tf.bool], stateful=False
        )
        frames = tf.ensure_shape(frames, (T, height, width, 3))
        heatmaps = tf.ensure_shape(heatmaps, (T, h, w))
        targets = {
            "intensities": tf.gather(intensities, index),
            "category": tf.gather(categories, index),
            "attention": heatmaps,
        }
        return tf.cast(frames, tf.float32), targets, tf.ensure_shape(ok, ())

    plan = tf.data.Dataset.range(len(paths))
    if training:
        plan = plan.shuffle(len(paths), seed=seed, reshuffle_each_iteration=reshuffle)
    plan = tf.data.Dataset.zip(
        plan, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle)
    )
    if repeat:
        plan = plan.repeat()
    return replica_batches(plan, to_example, batch_size=batch_size, context=input_context,
                           num_parallel_calls=config.data.num_parallel_calls)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle and sampling, from the run's seed."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] & 0x7FFFFFFF)


def replica_slices(
    batch_size: int, context: tf.distribute.InputContext | None
) -> tuple[int, int, int]:
    """``(replicas, first, local)``: the replicas of all workers, this input
    pipeline's first global replica id and its number of replicas.

    Global replica ``g`` of ``G`` takes elements ``[g n // G, (g + 1) n // G)``
    of every global batch of ``n`` elements, so the replicas' slices
    concatenated in order are the global batch, and their sizes differ by
    at most one. Keras averages the replicas' mean losses, so the loss equals
    one device's exactly when ``n`` is a multiple of ``G``: always for a
    ``batch_size`` that is, except for the epoch's last, shorter batch
    (where each replica's GIFs weigh ``1 / (G n_g)`` instead of ``1 / n``).
    """
    if context is None:
        return 1, 0, 1
    replicas = context.num_replicas_in_sync
    pipelines = context.num_input_pipelines
    if replicas % pipelines:
        raise ValueError(f"{replicas} replicas do not split evenly over {pipelines} "
                         "input pipelines")
    local = replicas // pipelines
    if batch_size % replicas:
        logger.warning(
            "data.batch_size %d is not a multiple of the %d replicas: replicas get "
            "unequal slices and the loss differs slightly from one device's",
            batch_size, replicas)
    return replicas, context.input_pipeline_id * local, local


def replica_batches(
    plan: tf.data.Dataset,
    decode,
    *,
    batch_size: int,
    context: tf.distribute.InputContext | None,
    num_parallel_calls: int | None = None,
) -> tf.data.Dataset:
    """Batches of decoded examples, sharded before anything is decoded.

    ``plan`` lists what to decode in single-device order (e.g. shuffled
    ``(row index, seed)`` pairs; elements are tuples, passed to ``decode``
    as its arguments). It is cut into global batches of
    ``batch_size``, each input pipeline keeps its replicas' slices of every
    global batch (:func:`replica_slices`), and only those elements go through
    ``decode``: ``element -> (x, targets, ok)``; examples with ``ok`` false
    are left out of their batch. Every global batch gives every replica
    exactly one batch (possibly smaller, or empty), so all workers run the
    same number of steps and the batches stay aligned with a single
    device's.

    Returns:
        ``(x, targets)`` batches: one per replica of this pipeline per global
        batch, in replica order (what ``distribute_datasets_from_function``
        hands to the local replicas in turn).
    """
    replicas, first, local = replica_slices(batch_size, context)
    per_replica = -(-batch_size // replicas)

    def slices(*batch):
        n = tf.shape(tf.nest.flatten(batch)[0])[0]
        offsets = tf.range(local * per_replica)
        replica = first + offsets // per_replica
        start = replica * n // replicas
        end = (replica + 1) * n // replicas
        position = start + offsets % per_replica
        valid = position < end
        position = tf.minimum(position, n - 1)
        picked = tf.nest.map_structure(lambda t: tf.gather(t, position), batch)
        return picked, valid

    spec = decode_spec(plan, decode)

    def decode_valid(element, valid):
        def blank():
            return tf.nest.map_structure(lambda s: tf.zeros(s.shape, s.dtype), spec)

        x, targets, ok = tf.cond(valid, lambda: decode(*element), blank)
        return x, targets, tf.logical_and(ok, valid)

    def keep(x, targets, ok):
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, ok), (x, targets))

    dataset = plan.batch(batch_size).map(slices).unbatch()
    dataset = dataset.map(decode_valid, num_parallel_calls=num_parallel_calls,
                          deterministic=True)
    dataset = dataset.batch(per_replica).map(keep)
    return dataset.prefetch(tf.data.AUTOTUNE)


def decode_spec(plan: tf.data.Dataset, decode):
    """The ``tf.TensorSpec`` structure of ``decode``'s output on one plan element."""
    traced = tf.function(decode).get_concrete_function(*plan.element_spec)
    return tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype),
                                 traced.structured_outputs)
