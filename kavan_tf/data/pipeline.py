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
from kavan_tf.data.manifest import scores_to_targets, targets_category
from kavan_tf.data.media import decode_media
from kavan_tf.errors import KeypointFileError, ManifestError
from kavan_tf.keypoints import load_keypoints, pad_people

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
    from kavan_tf.data.manifest import sigma_column
    from kavan_tf.losses.nmse import sigma_weights

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
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(frames, targets)`` from manifest rows.

    Decoding runs in parallel ``tf.numpy_function`` calls. Training datasets are
    shuffled (reshuffled every epoch) and sample a random frame per TSN
    segment; both are seeded, so the same seed gives the same batches.
    GIFs that fail to decode at this stage are dropped with a logged warning
    (``kavan prepare`` lists them up front).

    Args:
        rows: Manifest rows (absolute paths, as ``read_manifest`` returns).
        config: The experiment config.
        training: Training (shuffle, random sampling) or evaluation mode.
        feature_grid: ``(h, w)`` of the heatmap targets (the backbone's grid).
        seed: Shuffle/sampling seed; ``config.train.seed`` when ``None``.
        batch_size: ``config.data.batch_size`` when ``None``.
        repeat: Repeat forever.
        epoch: Build the data of this one epoch only: the shuffle and the
            frame sampling are seeded by ``(seed, epoch)`` and do not change
            between iterations. :func:`kavan_tf.training.trainer.train`
            chains such epochs, so that a run resumed at epoch ``k`` sees
            the batches an uninterrupted run sees at epoch ``k``. ``None``:
            one dataset that reshuffles and resamples on every iteration.

    Returns:
        The dataset.
    """
    seed = config.train.seed if seed is None else seed
    reshuffle = training and epoch is None
    if epoch is not None:
        seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] & 0x7FFFFFFF)
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

    def load(index: np.int64, example_seed: np.int64) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, int(example_seed) & 0x7FFFFFFF])
        example = load_example(
            paths[index],
            keypoint_paths[index] or None,
            config,
            training=training,
            feature_grid=feature_grid,
            rng=rng,
        )
        return example.frames, example.heatmaps

    def to_example(index, example_seed):
        frames, heatmaps = tf.numpy_function(
            load, [index, example_seed], [tf.uint8, tf.float32], stateful=False
        )
        frames = tf.ensure_shape(frames, (T, height, width, 3))
        heatmaps = tf.ensure_shape(heatmaps, (T, h, w))
        targets = {
            "intensities": tf.gather(intensities, index),
            "category": tf.gather(categories, index),
            "attention": heatmaps,
        }
        return tf.cast(frames, tf.float32), targets

    dataset = tf.data.Dataset.range(len(paths))
    if training:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=reshuffle)
    dataset = tf.data.Dataset.zip(
        dataset, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle)
    )
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(
        to_example, num_parallel_calls=config.data.num_parallel_calls, deterministic=True
    )
    dataset = dataset.ignore_errors(log_warning=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
