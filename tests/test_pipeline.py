"""tf.data from a manifest, TFRecord frame shards, the feature cache and `prepare`."""

import json
import os

import numpy as np
import pytest
from helpers import signal_once_ready

from kavan_tf.config import KavanConfig
from kavan_tf.data.heatmaps import keypoint_heatmaps
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import build_dataset, check_rows, load_example
from kavan_tf.data.prepare import prepare
from kavan_tf.data.shards import build_feature_dataset, build_frame_shard_dataset, shard_files
from kavan_tf.errors import ManifestError
from kavan_tf.keypoints import load_keypoints, pad_people
from kavan_tf.synthetic import SyntheticConfig, generate_dataset

GRID = (2, 2)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_dataset(root, SyntheticConfig(num_gifs=12, frame_size=(48, 48), num_frames=(5, 9)))
    return root


@pytest.fixture
def config(tmp_path):
    return KavanConfig.from_dict({
        "model": {"backbone": "small", "backbone_weights": None, "image_size": [32, 32],
                  "num_frames": 4, "node_size": 2, "hidden_size": 8},
        "data": {"batch_size": 4},
        "train": {"output_dir": str(tmp_path / "run")},
    })


@pytest.fixture
def rows(dataset_dir, config):
    return read_manifest(dataset_dir / "manifest.csv", config.labels)


def test_load_example_matches_its_parts(rows, config):
    row = rows.iloc[0]
    example = load_example(row["path"], row["keypoints"], config, training=False,
                           feature_grid=GRID)
    assert example.frames.shape == (4, 32, 32, 3) and example.frames.dtype == np.uint8
    document = load_keypoints(row["keypoints"])
    points = pad_people([document.frames[i] for i in example.indices])
    scale = np.array([32 / document.frame_size[0], 32 / document.frame_size[1]])
    valid = points[..., 2] > 0
    # Stretching 48 -> 32 scales pixel centres: x' + 0.5 = (x + 0.5) * s.
    expected = (points[..., :2] + 0.5) * scale - 0.5
    np.testing.assert_allclose(example.keypoints[..., :2][valid], expected[valid], atol=1e-4)
    heatmaps, mask = keypoint_heatmaps(example.keypoints, (32, 32), GRID, config=config.data)
    np.testing.assert_allclose(example.heatmaps, heatmaps)
    np.testing.assert_array_equal(example.mask, mask)


def test_dataset_shapes_and_targets(rows, config):
    dataset = build_dataset(rows, config, training=True, feature_grid=GRID)
    frames, targets = next(iter(dataset))
    assert frames.shape == (4, 4, 32, 32, 3)
    assert targets["intensities"].shape == (4, 17)
    assert targets["attention"].shape == (4, 4, 2, 2)
    sums = targets["attention"].numpy().sum(axis=(2, 3))
    assert np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))
    total = sum(int(x.shape[0]) for x, _ in dataset)
    assert total == len(rows)


def test_training_dataset_is_seeded(rows, config):
    def first_epoch(seed):
        dataset = build_dataset(rows, config, training=True, feature_grid=GRID, seed=seed)
        return np.concatenate([t["intensities"].numpy() for _, t in dataset])

    np.testing.assert_array_equal(first_epoch(3), first_epoch(3))
    assert not np.array_equal(first_epoch(3), first_epoch(4))


def test_evaluation_dataset_is_in_order(rows, config):
    dataset = build_dataset(rows, config, training=False, feature_grid=GRID)
    got = np.concatenate([t["intensities"].numpy() for _, t in dataset])
    expected = np.clip(rows[list(config.labels.emotions)].to_numpy() / 25 - 1, -1, 1)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_check_rows_names_the_problem(rows, config, tmp_path):
    with pytest.raises(ManifestError, match="empty"):
        check_rows(rows.iloc[:0], config, "training rows")
    broken = rows.copy()
    broken.loc[broken.index[1], "anger"] = np.nan
    with pytest.raises(ManifestError, match=str(rows["gif_id"].iloc[1])):
        check_rows(broken, config)
    missing = rows.copy()
    missing.loc[missing.index[0], "path"] = str(tmp_path / "gone.gif")
    with pytest.raises(ManifestError, match="gone.gif"):
        check_rows(missing, config)
    with pytest.raises(ManifestError, match="anger"):
        check_rows(rows.drop(columns=["anger"]), config)


def test_prepare_shards_resume_and_report(rows, config, tmp_path):
    out = tmp_path / "shards"
    bad = rows.copy()
    corrupt = tmp_path / "corrupt.gif"
    corrupt.write_bytes(b"GIF89a\x00\x00")
    bad.loc[bad.index[2], "path"] = str(corrupt)
    report = prepare(bad, str(out), config, shard_size=5, progress=False)
    assert report.shards_written == 3 and report.shards_resumed == 0
    assert report.gifs_written == len(rows) - 1
    assert [f["path"] for f in report.failures] == [str(corrupt)]
    saved = json.loads((out / "prepare_report.json").read_text())
    assert saved["failures"][0]["path"] == str(corrupt)

    # An interrupted run leaves a temporary file that readers never take, and
    # a re-run keeps finished shards and redoes only the missing one.
    last = shard_files(str(out))[-1]
    os.remove(last)
    (out / "frames-00002.tfrecord.tmp-t0-999").write_bytes(b"half a shard")
    assert len(shard_files(str(out))) == 2
    again = prepare(bad, str(out), config, shard_size=5, progress=False)
    assert again.shards_written == 1 and again.shards_resumed == 2
    assert not list(out.glob("*.tmp-*"))

    with pytest.raises(ManifestError, match="other settings"):
        prepare(bad, str(out), config, shard_size=4, progress=False)


def test_prepare_tasks_write_one_set_of_shards(rows, config, tmp_path):
    single = tmp_path / "single"
    prepare(rows, str(single), config, shard_size=3, encoding="png", progress=False)
    split = tmp_path / "split"
    first = prepare(rows, str(split), config, shard_size=3, encoding="png", progress=False,
                    task_index=0, num_tasks=2)
    assert first.shards_written == 2 and not (split / "prepare_report.json").exists()
    second = prepare(rows, str(split), config, shard_size=3, encoding="png", progress=False,
                     task_index=1, num_tasks=2)
    assert second.shards_written == 2
    names = sorted(p.name for p in single.glob("frames-*"))
    assert sorted(p.name for p in split.glob("frames-*")) == names
    for name in names:
        assert (single / name).read_bytes() == (split / name).read_bytes()
    merged = json.loads((split / "prepare_report.json").read_text())
    assert merged["shards_written"] == 4 and merged["gifs_written"] == len(rows)
    with pytest.raises(ValueError, match="task_index"):
        prepare(rows, str(split), config, task_index=2, num_tasks=2, progress=False)


def test_frame_shards_match_direct_pipeline(rows, config, tmp_path):
    out = tmp_path / "shards"
    prepare(rows, str(out), config, shard_size=5, encoding="png", progress=False)
    direct = build_dataset(rows, config, training=False, feature_grid=GRID)
    sharded = build_frame_shard_dataset(str(out), config, training=False, feature_grid=GRID)
    for (x1, y1), (x2, y2) in zip(direct, sharded):
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        np.testing.assert_allclose(y1["attention"], y2["attention"], atol=1e-6)
        np.testing.assert_allclose(y1["intensities"], y2["intensities"])
        np.testing.assert_array_equal(y1["category"], y2["category"])


def test_feature_cache_trains_the_head(rows, config, tmp_path):
    from kavan_tf.models import KavanModel
    from kavan_tf.models.backbones import build_backbone
    from kavan_tf.training.feature_cache import feature_cache_writer
    from kavan_tf.training.trainer import with_overrides

    # The cache must be made with the weights the model will use: a local file.
    weights = str(tmp_path / "backbone.weights.h5")
    build_backbone(config.model).save_weights(weights)
    config = with_overrides(config, model={"backbone_weights": weights})
    out = tmp_path / "shards"
    report = prepare(rows, str(out), config, shard_size=5, encoding="png", progress=False,
                     feature_cache=feature_cache_writer(str(out), config, progress=False))
    assert report.feature_shards_written == 3
    backbone = build_backbone(config.model)
    features = build_feature_dataset(str(out), config, (2, 2, 128), training=False)
    frames = build_frame_shard_dataset(str(out), config, training=False, feature_grid=GRID)
    (f, t_f), (x, t_x) = next(iter(features)), next(iter(frames))
    expected = backbone(x.numpy().reshape((-1, 32, 32, 3)), training=False).numpy()
    np.testing.assert_allclose(f.numpy().reshape(expected.shape), expected, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(t_f["attention"], t_x["attention"], atol=1e-6)

    # Training draws one of the K = 3 cached frames of each segment, anew each epoch.
    candidates = build_frame_shard_dataset(str(out), config, training=False, feature_grid=GRID,
                                           frames_per_segment=3, batch_size=1)
    (c, _), = candidates.take(1)
    cached = backbone(c.numpy()[0], training=False).numpy().reshape((4, 3, 2, 2, 128))
    np.testing.assert_allclose(f.numpy()[0], cached[:, 1], rtol=2e-3, atol=2e-3)
    train_features = build_feature_dataset(str(out), config, (2, 2, 128), training=True,
                                           batch_size=len(rows))
    draws = set()  # which candidate each segment of the first GIF got, per epoch
    for _ in range(4):
        (batch, _), = train_features.take(1)
        for g in range(len(rows)):
            distances = np.abs(batch.numpy()[g][:, None] - cached).max(axis=(2, 3, 4))
            if distances.min(axis=1).max() < 2e-2:  # this row is the first GIF
                draws.add(tuple(distances.argmin(axis=1).tolist()))
    assert len(draws) > 1, draws

    head_config = with_overrides(config, model={"input_mode": "features",
                                                "feature_shape": [2, 2, 128]})
    model = KavanModel.from_kavan_config(head_config)
    model.compile()
    history = model.fit(build_feature_dataset(str(out), head_config, (2, 2, 128),
                                              training=True), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_prepare_skips_any_per_file_failure_and_lists_warnings(rows, config, tmp_path,
                                                              monkeypatch):
    import kavan_tf.data.prepare as prepare_module

    damaged = rows.copy()
    data = open(rows.iloc[1]["path"], "rb").read()
    cut = data.rindex(b"\x00!") + 1  # before the last frame's extension: frames kept
    truncated = tmp_path / "truncated.gif"
    truncated.write_bytes(data[:cut])
    damaged.loc[damaged.index[1], "path"] = str(truncated)
    damaged.loc[damaged.index[1], "keypoints"] = ""  # they cover the whole GIF
    exhausting = rows.iloc[3]["path"]
    decode = prepare_module.decode_media

    def decode_or_run_out_of_memory(path, data_config):
        if path == exhausting:
            raise MemoryError
        return decode(path, data_config)

    monkeypatch.setattr(prepare_module, "decode_media", decode_or_run_out_of_memory)
    out = tmp_path / "shards"
    report = prepare(damaged, str(out), config, shard_size=5, progress=False)
    assert report.gifs_written == len(rows) - 1
    assert [f["path"] for f in report.failures] == [exhausting]
    assert "MemoryError" in report.failures[0]["error"]
    assert [w["path"] for w in report.warnings] == [str(truncated)]
    assert "truncated" in report.warnings[0]["warning"]
    saved = json.loads((out / "prepare_report.json").read_text())
    assert saved["warnings"] == report.warnings and saved["failures"] == report.failures
    # The summary names each file once.
    summary = report.summary()
    assert summary.count(exhausting) == 1 and summary.count(str(truncated)) == 1
    assert not list(out.glob("*.tmp-*"))


PREPARE_SCRIPT = """
import sys, time
import kavan_tf.data.prepare as prepare_module
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest

decode = prepare_module.decode_media

def slow(path, data_config):
    time.sleep(0.5)
    return decode(path, data_config)

prepare_module.decode_media = slow
config = KavanConfig.from_file(sys.argv[1])
prepare_module.prepare(read_manifest(sys.argv[2]), sys.argv[3], config, shard_size=50,
                       progress=False)
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_prepare_killed_by_a_signal_leaves_no_temp_file(dataset_dir, config, tmp_path, sig):
    import signal
    import sys

    config.save(tmp_path / "config.json")
    out = tmp_path / "shards"
    command = [sys.executable, "-c", PREPARE_SCRIPT, str(tmp_path / "config.json"),
               str(dataset_dir / "manifest.csv"), str(out)]
    # pytest-xdist workers ignore SIGINT, and a child would inherit that: restore it.
    code, _, _ = signal_once_ready(
        command, lambda process: bool(list(out.glob("*.tmp-*"))), getattr(signal, sig),
        exit_timeout=30, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert code != 0
    assert not list(out.glob("*.tmp-*"))
    assert not list(out.glob("frames-*.tfrecord"))


SIGNAL_IN_SETTINGS_SCRIPT = """
import json, os, signal, sys
import kavan_tf.data.prepare as prepare_module
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest

dump = json.dump

def dump_then_signal(*args, **kwargs):
    # The first JSON a run writes is its settings file: the signal arrives
    # while that file's temporary copy is open.
    os.kill(os.getpid(), signal.SIGTERM)
    dump(*args, **kwargs)

json.dump = dump_then_signal
config = KavanConfig.from_file(sys.argv[1])
prepare_module.prepare(read_manifest(sys.argv[2]), sys.argv[3], config, progress=False)
"""


@pytest.mark.slow
def test_prepare_killed_while_writing_its_settings_leaves_no_temp_file(dataset_dir, config,
                                                                      tmp_path):
    import signal
    import subprocess
    import sys

    config.save(tmp_path / "config.json")
    out = tmp_path / "shards"
    command = [sys.executable, "-c", SIGNAL_IN_SETTINGS_SCRIPT, str(tmp_path / "config.json"),
               str(dataset_dir / "manifest.csv"), str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr.decode()[-2000:]
    assert out.is_dir() and not list(out.iterdir())
