"""The backbone-feature cache of ``kavan prepare --features``.

Runs the frozen backbone once over the frame shards a prepare task wrote and
stores every GIF's ``T x K`` segment-candidate features (float16) and
heatmaps in feature shards (:mod:`kavan_tf.data.shards`). It lives in
``training/`` because it needs the model's backbone; the data layer's
:func:`kavan_tf.data.prepare.prepare` calls it through its ``feature_cache``
argument.

Example:

```python
from kavan_tf.data.prepare import prepare
from kavan_tf.training.feature_cache import feature_cache_writer

prepare(rows, "data/shards", config, feature_cache=feature_cache_writer("data/shards", config))
```
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from kavan_tf.config import KavanConfig
from kavan_tf.data.files import temp_files_removed_on_exit
from kavan_tf.data.shards import FEATURE_PATTERN, build_frame_shard_dataset, feature_example
from kavan_tf.models.backbones import build_backbone

logger = logging.getLogger(__name__)

FEATURE_FRAMES_PER_CALL = 32
"""Frames per backbone call when caching features (bounds the memory)."""


def feature_cache_writer(
    out_dir: str, config: KavanConfig, *, progress: bool = True, task_index: int = 0,
    num_tasks: int = 1,
) -> Callable[[], int]:
    """The ``feature_cache`` argument of :func:`kavan_tf.data.prepare.prepare`."""
    return lambda: write_feature_cache(out_dir, config, progress=progress,
                                       task_index=task_index, num_tasks=num_tasks)


def write_feature_cache(
    out_dir: str, config: KavanConfig, progress: bool = True, task_index: int = 0,
    num_tasks: int = 1,
) -> int:
    """Runs the frozen backbone once over every frame shard (of this task).

    Every GIF's ``K`` frames per TSN segment are cached
    (``data.feature_frames_per_segment``, see :mod:`kavan_tf.data.shards`).

    Returns:
        The number of feature shards written (finished ones are kept).
    """
    if config.model.backbone_weights is None:
        logger.warning(
            "Caching features of a randomly initialised backbone (backbone_weights=None): "
            "they only fit a model built with the same weights; save them with "
            "`save_weights` and pass the file as backbone_weights"
        )
    backbone = build_backbone(config.model)
    grid = tuple(int(v) for v in backbone.output_shape[1:3])
    frame_shards = [
        path
        for path in sorted(
            glob.glob(os.path.join(out_dir, "frames-[0-9][0-9][0-9][0-9][0-9].tfrecord"))
        )
        if int(os.path.basename(path)[7:12]) % num_tasks == task_index
    ]
    with temp_files_removed_on_exit() as temp_files:
        return _write_features(out_dir, config, backbone, grid, frame_shards, temp_files,
                               progress, num_tasks)


def _write_features(out_dir, config, backbone, grid, frame_shards, temp_files, progress,
                    num_tasks) -> int:
    written = 0
    for frame_shard in tqdm(frame_shards, desc="feature cache", unit="shard", disable=not progress):
        index = int(os.path.basename(frame_shard)[7:12])
        final = os.path.join(out_dir, FEATURE_PATTERN.format(index=index))
        if os.path.exists(final):
            continue
        tmp = f"{final}.tmp-t{index % num_tasks}-{os.getpid()}"
        temp_files.append(tmp)
        dataset = _single_shard_dataset(frame_shard, config, grid)
        with tf.io.TFRecordWriter(tmp) as writer:
            for gif_ids, frames, targets in dataset:
                batch = frames.shape[0]
                T, K = config.model.num_frames, config.data.feature_frames_per_segment
                flat = tf.reshape(frames, (-1,) + tuple(frames.shape[2:]))
                # A bounded number of frames per backbone call: a batch holds
                # batch_size x T x K frames (192 by default), whose ResNet-50
                # activations would not fit in a CPU machine's memory at once.
                feats = np.concatenate([
                    backbone(flat[i : i + FEATURE_FRAMES_PER_CALL], training=False).numpy()
                    for i in range(0, int(flat.shape[0]), FEATURE_FRAMES_PER_CALL)
                ]).reshape((batch, T, K) + tuple(backbone.output_shape[1:]))
                heatmaps = targets["attention"].numpy().reshape((batch, T, K) + grid)
                for b in range(batch):
                    writer.write(
                        feature_example(
                            gif_ids[b].numpy().decode("utf-8"),
                            feats[b],
                            heatmaps[b],
                            targets["intensities"][b].numpy(),
                            int(targets["category"][b]),
                        )
                    )
        os.replace(tmp, final)
        temp_files.remove(tmp)
        written += 1
    return written


def _single_shard_dataset(path: str, config: KavanConfig, grid) -> tf.data.Dataset:
    """``(gif_id, frames, targets)`` of one frame shard, in order: the ``T x K``
    segment candidates of every GIF (``data.feature_frames_per_segment``)."""
    ids = tf.data.TFRecordDataset([path]).map(
        lambda r: tf.io.parse_single_example(r, {"gif_id": tf.io.FixedLenFeature([], tf.string)})[
            "gif_id"
        ]
    )
    examples = build_frame_shard_dataset(
        os.path.dirname(path),
        config,
        training=False,
        feature_grid=grid,
        batch_size=1,
        files=[path],
        frames_per_segment=config.data.feature_frames_per_segment,
    ).unbatch()
    return (
        tf.data.Dataset.zip(ids, examples)
        .map(lambda i, xy: (i, xy[0], xy[1]))
        .batch(config.data.batch_size)
    )


__all__ = ["FEATURE_FRAMES_PER_CALL", "feature_cache_writer", "write_feature_cache"]
