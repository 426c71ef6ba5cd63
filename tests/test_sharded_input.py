"""Input sharded before decoding: each input pipeline decodes (or reads) only
the GIFs (records) of its replicas' slices of every global batch, and those
slices, put together, are one device's global batches (issue 33).

In one process, with the ``tf.distribute.InputContext`` that
``distribute_datasets_from_function`` gives each worker;
``tests/test_multiworker.py`` checks the same with two real workers.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import tiny_config

import kavan_tf.data.pipeline as pipeline
import kavan_tf.data.shards as shards
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.prepare import prepare
from kavan_tf.synthetic import SyntheticConfig, generate_dataset

GRID = (2, 2)
NUM_GIFS = 10  # not a multiple of the global batch (4): a short last batch


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    manifest = generate_dataset(root, SyntheticConfig(num_gifs=NUM_GIFS, frame_size=(40, 40),
                                                      num_frames=(4, 6)))
    return read_manifest(manifest)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return tiny_config(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def prepared(rows, config, tmp_path_factory):
    """Frame shards from `prepare`, and feature shards of random features."""
    out = tmp_path_factory.mktemp("shards")
    prepare(rows, str(out), config, shard_size=3, encoding="png", progress=False)
    rng = np.random.default_rng(0)
    for index, start in enumerate(range(0, NUM_GIFS, 4)):
        with tf.io.TFRecordWriter(str(out / shards.FEATURE_PATTERN.format(index=index))) as f:
            for g in range(start, min(start + 4, NUM_GIFS)):
                f.write(shards.feature_example(
                    f"gif{g}", rng.normal(size=(4, 3) + GRID + (8,)).astype(np.float16),
                    rng.uniform(size=(4, 3) + GRID).astype(np.float32),
                    rng.uniform(-1, 1, 17).astype(np.float32), g % 3))
    return str(out)


def _context(pipelines, pipeline_id, replicas):
    return tf.distribute.InputContext(num_input_pipelines=pipelines,
                                      input_pipeline_id=pipeline_id,
                                      num_replicas_in_sync=replicas)


def _batches(dataset):
    return [(x.numpy(), y["intensities"].numpy()) for x, y in dataset]


class _Counting:
    """Replaces ``module.name`` by a wrapper that lists its first arguments."""

    def __init__(self, monkeypatch, module, name):
        self.calls = []
        original = getattr(module, name)

        def counting(first, *args, **kwargs):
            self.calls.append(first)
            return original(first, *args, **kwargs)

        monkeypatch.setattr(module, name, counting)


def _check_sharding(build, counter):
    """One epoch on one device, on two workers (one replica each) and on one
    worker with two replicas: the same global batches, and each worker
    decodes its share."""
    single = _batches(build(None))
    assert [len(x) for x, _ in single] == [4, 4, 2]
    assert len(counter.calls) == NUM_GIFS
    everything = sorted(counter.calls)

    workers, decoded = [], []
    for worker in range(2):
        counter.calls.clear()
        workers.append(_batches(build(_context(2, worker, 2))))
        decoded.append(list(counter.calls))
    # 2 GIFs of each of the 3 global batches, 1 of the last: 5 each, a share
    # within one batch; together every GIF once.
    assert [len(d) for d in decoded] == [5, 5]
    assert sorted(decoded[0] + decoded[1]) == everything
    for step, (x, y) in enumerate(single):
        np.testing.assert_array_equal(np.concatenate([w[step][0] for w in workers]), x)
        np.testing.assert_array_equal(np.concatenate([w[step][1] for w in workers]), y)

    counter.calls.clear()
    mirrored = _batches(build(_context(1, 0, 2)))
    assert len(counter.calls) == NUM_GIFS and len(mirrored) == 2 * len(single)
    for step, (x, y) in enumerate(single):
        pair = mirrored[2 * step : 2 * step + 2]
        np.testing.assert_array_equal(np.concatenate([m[0] for m in pair]), x)
        np.testing.assert_array_equal(np.concatenate([m[1] for m in pair]), y)


def test_manifest_workers_decode_their_share(rows, config, monkeypatch):
    counter = _Counting(monkeypatch, pipeline, "load_example")
    _check_sharding(lambda context: pipeline.build_dataset(
        rows, config, training=True, feature_grid=GRID, epoch=1, input_context=context),
        counter)


def test_frame_shard_workers_read_their_records(prepared, config, monkeypatch):
    counter = _Counting(monkeypatch, shards, "read_record")
    _check_sharding(lambda context: shards.build_frame_shard_dataset(
        prepared, config, training=True, feature_grid=GRID, epoch=1, input_context=context),
        counter)


def test_feature_cache_workers_read_their_records(prepared, config, monkeypatch):
    counter = _Counting(monkeypatch, shards, "read_record")
    _check_sharding(lambda context: shards.build_feature_dataset(
        prepared, config, GRID + (8,), training=True, epoch=1, input_context=context),
        counter)


def test_shard_epochs_are_seeded_by_their_number(prepared, config):
    def epoch(number):
        return np.concatenate([y for _, y in _batches(shards.build_feature_dataset(
            prepared, config, GRID + (8,), training=True, epoch=number))])

    np.testing.assert_array_equal(epoch(3), epoch(3))
    assert not np.array_equal(epoch(3), epoch(4))
    assert sorted(map(tuple, epoch(3))) == sorted(map(tuple, epoch(4)))


def test_a_gif_that_fails_leaves_only_its_batch_one_smaller(rows, config, tmp_path):
    good = _batches(pipeline.build_dataset(rows, config, training=True, feature_grid=GRID,
                                           epoch=0))
    broken_rows = rows.copy()
    corrupt = tmp_path / "corrupt.gif"
    corrupt.write_bytes(b"GIF89a\x00\x00")
    broken_rows.loc[broken_rows.index[3], "path"] = str(corrupt)
    broken = _batches(pipeline.build_dataset(broken_rows, config, training=True,
                                             feature_grid=GRID, epoch=0))
    assert len(broken) == len(good)
    sizes = [len(x) for x, _ in broken]
    assert sum(sizes) == NUM_GIFS - 1
    lost = [i for i, (b, g) in enumerate(zip(broken, good)) if len(b[0]) != len(g[0])]
    assert len(lost) == 1
    for i, ((xb, yb), (xg, yg)) in enumerate(zip(broken, good)):
        if i not in lost:
            np.testing.assert_array_equal(xb, xg)
        else:
            kept = [any(np.array_equal(row, other) for other in yb) for row in yg]
            assert sum(kept) == len(yg) - 1
    assert os.path.exists(corrupt)
