"""Batches of GIFGIF votes, each vote's two GIFs decoded: training on the votes.

docs/model.md#learning-from-the-votes gives the loss, docs/gifgif.md the recipe.

The dump is streamed once (:func:`kavan_tf.data.vote_dump.iter_vote_chunks`,
the reader of ``kavan votes``, so the same rows are skipped and counted) into
a **vote index**: an int32 file of ``(left row, right row, emotion, outcome)``
per kept vote, rows of the manifest. Votes naming a GIF that is not in the
manifest are skipped and counted (``not_in_manifest``). Training reads the
index memory-mapped: an epoch permutes the vote numbers (8 bytes each) and
only the votes of the batches at hand are looked up, so the 2.7 M votes of
GIFGIF are never held as tensors.

A batch of ``data.batch_size`` votes holds ``2 x batch_size`` GIFs in pairs,
``(a_0, b_0, a_1, b_1, ...)``; targets as :func:`~kavan_tf.data.pipeline.build_dataset`'s,
with the vote codes appended to ``intensities`` (``[2V, 2E]``, see
:mod:`kavan_tf.losses.vote`). Sharding over replicas and workers acts on the
shuffled vote numbers, before any GIF is decoded
(:func:`~kavan_tf.data.pipeline.replica_batches`); a vote whose GIF fails to
decode is left out of its batch.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.data.pipeline import (
    epoch_seed,
    intensity_targets,
    load_example,
    replica_batches,
    targets_of,
)
from kavan_tf.data.vote_dump import DRAW, VoteReport, iter_vote_chunks, open_votes

logger = logging.getLogger(__name__)

_FIELDS = 4  # left row, right row, emotion, outcome


@dataclass
class VoteIndex:
    """A vote dump coded against manifest rows (:func:`index_votes`).

    Attributes:
        path: The int32 index file, ``[num_votes, 4]``.
        num_votes: Votes kept.
        report: The dump's rows, as ``kavan votes`` counts them.
        not_in_manifest: Valid votes skipped because a GIF is not in the rows.
        draws: Kept votes that are draws.
    """

    path: str
    num_votes: int
    report: VoteReport
    not_in_manifest: int = 0
    draws: int = 0

    def votes(self) -> np.ndarray:
        """The kept votes, memory-mapped: ``[num_votes, 4]`` int32."""
        if self.num_votes == 0:
            return np.zeros((0, _FIELDS), np.int32)
        return np.memmap(self.path, dtype=np.int32, mode="r", shape=(self.num_votes, _FIELDS))

    def summary(self) -> str:
        """One line: rows read, votes kept, skipped and why."""
        report = self.report
        skipped = ", ".join(f"{k} {v}" for k, v in report.skipped.items() if v)
        return (f"{report.path}: {report.total_rows} rows, {self.num_votes} votes kept "
                f"({self.draws} draws), {self.not_in_manifest} naming a GIF not in the "
                f"manifest, {report.rows_skipped} rows skipped ({skipped or 'none'})")


def index_votes(
    votes_path: str | os.PathLike[str],
    rows: pd.DataFrame,
    config: KavanConfig,
    index_dir: str | os.PathLike[str],
    chunk_size: int = 100_000,
) -> VoteIndex:
    """Streams a vote dump into a vote index against ``rows`` (see the module doc).

    Args:
        votes_path: The GIFGIF dump (CSV, gzipped or not).
        rows: Manifest rows; a vote's GIFs are looked up by ``gif_id``.
        config: Gives the emotions.
        index_dir: Folder of the index file (created).
        chunk_size: Votes parsed at a time.

    Returns:
        A :class:`VoteIndex`.

    Raises:
        VoteFileError: As :func:`~kavan_tf.data.vote_dump.iter_vote_chunks`.
    """
    path = os.fspath(votes_path)
    os.makedirs(index_dir, exist_ok=True)
    row_of = {str(gid): k for k, gid in enumerate(rows["gif_id"].astype(str))}
    report = VoteReport(path=path)
    gif_ids: list[str] = []
    dump_to_row = np.zeros(0, np.int32)
    kept = missing = draws = 0
    handle, partial = tempfile.mkstemp(dir=index_dir, prefix=".votes-", suffix=".i32")
    try:
        with os.fdopen(handle, "wb") as out, open_votes(path) as (_, text):
            for chunk in iter_vote_chunks(text, path, config.labels, gif_ids, report,
                                          chunk_size):
                if len(dump_to_row) < len(gif_ids):
                    new = [row_of.get(g, -1) for g in gif_ids[len(dump_to_row):]]
                    dump_to_row = np.concatenate([dump_to_row, np.asarray(new, np.int32)])
                left, right = dump_to_row[chunk.left], dump_to_row[chunk.right]
                ok = (left >= 0) & (right >= 0)
                coded = np.stack([left[ok], right[ok], chunk.emotion[ok],
                                  chunk.outcome[ok].astype(np.int32)], axis=1)
                out.write(np.ascontiguousarray(coded, np.int32).tobytes())
                kept += int(ok.sum())
                missing += int((~ok).sum())
                draws += int((chunk.outcome[ok] == DRAW).sum())
        report.votes_applied = kept
        final = os.path.join(index_dir, "votes.i32")
        os.replace(partial, final)
    except BaseException:
        os.unlink(partial)
        raise
    index = VoteIndex(final, kept, report, missing, draws)
    logger.info("%s", index.summary())
    return index


def build_vote_dataset(
    index: VoteIndex,
    rows: pd.DataFrame,
    config: KavanConfig,
    *,
    feature_grid: tuple[int, int],
    epoch: int | None = None,
    seed: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    votes_per_epoch: int | None = None,
) -> tf.data.Dataset:
    """Shuffled batches of ``data.batch_size`` votes, ``(frames [2V, ...], targets)``.

    Args:
        index: From :func:`index_votes` on the same ``rows``.
        rows: The manifest rows the index points into.
        config: The experiment config (``model.input_mode`` must be ``"frames"``).
        feature_grid: ``(h, w)`` of the heatmap targets.
        epoch: Seeds the shuffle and the frame sampling by ``(seed, epoch)``;
            ``None``: reshuffled on every iteration.
        seed: ``config.train.seed`` when ``None``.
        input_context: As :func:`~kavan_tf.data.pipeline.build_dataset`.
        votes_per_epoch: Only the first this many votes of the permutation
            (``None``: every vote).
    """
    if config.model.input_mode != "frames":
        raise ValueError("Training on votes decodes GIFs: it needs model.input_mode='frames'. "
                         f"Received: input_mode={config.model.input_mode!r}")
    seed = config.train.seed if seed is None else seed
    reshuffle = epoch is None
    if epoch is not None:
        seed = epoch_seed(seed, epoch)
    paths = rows["path"].astype(str).tolist()
    keypoint_paths = (rows["keypoints"].fillna("").astype(str).tolist()
                      if "keypoints" in rows.columns else [""] * len(rows))
    _, categories = targets_of(rows, config)
    scores = intensity_targets(rows, config)
    num_emotions = config.labels.num_emotions
    T, (height, width), (h, w) = config.model.num_frames, config.model.image_size, feature_grid
    votes = index.votes()

    def load(number, example_seed):
        left, right, emotion, outcome = (int(v) for v in votes[int(number)])
        rng = np.random.default_rng([seed, int(example_seed) & 0x7FFFFFFF])
        frames = np.zeros((2, T, height, width, 3), np.uint8)
        heatmaps = np.zeros((2, T, h, w), np.float32)
        for side, row in enumerate((left, right)):
            try:
                example = load_example(paths[row], keypoint_paths[row] or None, config,
                                       training=True, feature_grid=feature_grid, rng=rng)
            except Exception as e:  # noqa: BLE001 - the vote is left out, as documented
                logger.warning("Vote left out of its batch: %s (%s: %s)", paths[row],
                               type(e).__name__, e)
                return frames, heatmaps, np.zeros((2, 2 * num_emotions), np.float32), \
                    np.zeros(2, np.int32), False
            frames[side], heatmaps[side] = example.frames, example.heatmaps
        codes = np.zeros((2, num_emotions), np.float32)
        codes[0, emotion] = outcome + 1  # vote_dump's outcome -> losses.vote's code
        target = np.concatenate([scores[[left, right]], codes], axis=-1)
        return frames, heatmaps, target, categories[[left, right]], True

    def to_example(number, example_seed):
        frames, heatmaps, target, category, ok = tf.numpy_function(
            load, [number, example_seed], [tf.uint8, tf.float32, tf.float32, tf.int32, tf.bool],
            stateful=False)
        targets = {
            "intensities": tf.ensure_shape(target, (2, 2 * num_emotions)),
            "category": tf.ensure_shape(category, (2,)),
            "attention": tf.ensure_shape(heatmaps, (2, T, h, w)),
        }
        frames = tf.cast(tf.ensure_shape(frames, (2, T, height, width, 3)), tf.float32)
        return frames, targets, tf.ensure_shape(ok, ())

    plan = tf.data.Dataset.zip(
        _shuffled_numbers(index.num_votes, seed, reshuffle).take(
            -1 if votes_per_epoch is None else votes_per_epoch),
        tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle))
    dataset = replica_batches(plan, to_example, batch_size=config.data.batch_size,
                              context=input_context,
                              num_parallel_calls=config.data.num_parallel_calls)
    return dataset.map(_pairs_in_order)


def _shuffled_numbers(count: int, seed: int, reshuffle: bool) -> tf.data.Dataset:
    """``0 .. count - 1`` in a seeded random order: one permutation of int64s
    (8 bytes a vote), where ``Dataset.shuffle`` would hold every element in
    its buffer; drawn again on every iteration when ``reshuffle``."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle)
    return seeds.batch(2).take(1).flat_map(lambda pair: tf.data.Dataset.from_tensor_slices(
        tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=pair)))


def _pairs_in_order(frames, targets):
    """``[V, 2, ...]`` -> ``[2V, ...]``: the GIFs of each vote side by side, ``a`` first."""
    def merge(t):
        return tf.reshape(t, [-1] + t.shape[2:].as_list())
    return merge(frames), tf.nest.map_structure(merge, targets)
