"""Training: determinism, resuming after SIGKILL, bad input before any step, evaluation."""

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from helpers import signal_once_ready, tiny_config

from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.errors import ManifestError
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.evaluation import make_splits, run_protocol, summarise
from kavan_tf.training.trainer import split_frame, train, with_overrides


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return generate_dataset(root, SyntheticConfig(num_gifs=16, frame_size=(48, 48),
                                                  num_frames=(4, 6)))


def _config(tmp_path, **train):
    return tiny_config(tmp_path / "run", train={"learning_rate": 1e-2, **train})


def test_same_seed_same_metrics(tmp_path, manifest):
    rows = read_manifest(manifest)
    first = train(_config(tmp_path / "a"), rows, verbose=0).history
    second = train(_config(tmp_path / "b"), rows, verbose=0).history
    assert first == second
    third = train(_config(tmp_path / "c", seed=1), rows, verbose=0).history
    assert third != first


def test_run_writes_its_outputs(tmp_path, manifest):
    config = _config(tmp_path)
    train(config, read_manifest(manifest), verbose=0)
    out = config.train.output_dir
    for name in ("config.json", "history.csv", "model.keras", "checkpoints/last.keras",
                 "checkpoints/best.keras", "logs"):
        assert os.path.exists(os.path.join(out, name)), name
    history = pd.read_csv(os.path.join(out, "history.csv"))
    assert history["epoch"].tolist() == [0, 1]


def test_bad_input_fails_before_training(tmp_path, manifest):
    config = _config(tmp_path)
    rows = read_manifest(manifest)
    out = config.train.output_dir
    os.makedirs(os.path.join(out, "checkpoints"))
    keep = os.path.join(out, "checkpoints", "last.keras")
    with open(keep, "wb") as f:
        f.write(b"an earlier checkpoint")
    with pytest.raises(ManifestError, match="empty"):
        train(config, rows.iloc[:0], verbose=0)
    with pytest.raises(ManifestError, match="split 'validation' is empty"):
        split_frame(rows, "validation")
    nan_rows = rows.copy()
    nan_rows.loc[nan_rows.index[0], "joy" if "joy" in rows else "fear"] = np.nan
    with pytest.raises(ManifestError, match="NaN"):
        train(config, nan_rows, verbose=0)
    with open(keep, "rb") as f:
        assert f.read() == b"an earlier checkpoint"


def test_manifest_with_wrong_columns(tmp_path, manifest):
    frame = pd.read_csv(manifest).drop(columns=["anger", "fear"])
    path = os.path.join(os.path.dirname(manifest), "broken.csv")
    frame.to_csv(path, index=False)
    with pytest.raises(ManifestError, match="anger"):
        read_manifest(path)


TRAIN_SCRIPT = """
import sys, time, keras
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.training.trainer import train

class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.2)

config = KavanConfig.from_file(sys.argv[1])
train(config, read_manifest(sys.argv[2]), verbose=0, extra_callbacks=[Slow()])
print("FINISHED")
"""


def _epochs_logged(history: str) -> list[int]:
    try:
        return pd.read_csv(history)["epoch"].tolist()
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return []


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path, manifest):
    config = _config(tmp_path, epochs=6)
    config_path = tmp_path / "config.json"
    config.save(config_path)
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    history = os.path.join(config.train.output_dir, "history.csv")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, str(script), str(config_path), str(manifest)]

    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:
        if len(_epochs_logged(history)) >= 2:
            break
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(_epochs_logged(history))
    assert 2 <= done_before < 6

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FINISHED" in result.stdout
    epochs = _epochs_logged(history)
    # The second run starts at the epoch after the last one backed up, not at 0.
    resumed = epochs[done_before:]
    assert resumed and resumed[0] >= done_before - 1 and resumed[0] > 0, epochs
    assert resumed[-1] == 5
    assert os.path.exists(os.path.join(config.train.output_dir, "model.keras"))


def test_splits_are_seeded_80_20():
    splits = make_splits(50, 5, 0.2, seed=3)
    assert len(splits) == 5
    for train_idx, test_idx in splits:
        assert len(test_idx) == 10 and len(train_idx) == 40
        assert not set(train_idx) & set(test_idx)
    again = make_splits(50, 5, 0.2, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    assert not np.array_equal(splits[0][1], splits[1][1])


@pytest.mark.slow
def test_protocol_writes_tables_in_parallel_and_resumes_a_stopped_run(tmp_path, manifest):
    from kavan_tf.experiments.claims import claim_table

    config = with_overrides(_config(tmp_path), train={"epochs": 1})
    rows = read_manifest(manifest)
    out = tmp_path / "results"
    kwargs = {"num_splits": 1, "seeds": 2, "ablation_rows": ["lstm", "mtl_att_hslstm"],
              "baselines": ["color_histogram"]}
    frame = run_protocol(config, rows, str(out), jobs=2, **kwargs)
    # 1 split x (1 baseline + 2 seeds x 2 rows), in split, seed and row order.
    assert list(zip(frame["seed"], frame["row"])) == [
        (0, "color_histogram"), (0, "lstm"), (0, "mtl_att_hslstm"), (1, "lstm"),
        (1, "mtl_att_hslstm")]
    summary = summarise(frame)
    assert dict(zip(summary["row"], summary["splits"])) == {
        "color_histogram": 1, "lstm": 2, "mtl_att_hslstm": 2}
    text = (out / "results.md").read_text()
    assert "MTL Soft-Att + HS-LSTM" in text and "68.27" in text and "Color Histogram" in text
    per_split = pd.read_csv(out / "results_per_split.csv")
    assert len(per_split) == 5
    # Seeds change the run, not the split.
    lstm = per_split[per_split["row"] == "lstm"].set_index(["split", "seed"])
    assert lstm.loc[(0, 0), "nmse"] != lstm.loc[(0, 1), "nmse"]
    per_gif = pd.read_csv(out / "per_gif.csv")
    test_gifs = int(round(0.2 * len(rows)))
    assert len(per_gif) == 2 * 2 * test_gifs
    # Each run's per-GIF nMSE averages to the run's nMSE metric.
    means = per_gif.groupby(["split", "seed", "row"])["nmse"].mean()
    np.testing.assert_allclose(means.loc[(0, 1, "lstm")], lstm.loc[(0, 1), "nmse"], rtol=1e-4)
    claims = claim_table(frame, claims=[("mtl vs lstm", "mtl_att_hslstm", "lstm")])
    assert list(claims["runs"]) == [2, 2, 2]
    assert set(claims["verdict"]) <= {"holds", "contradicted", "undecided"}
    # One run rebuilt on its own (benchmarks/check_reuse.py) is the stored run.
    from kavan_tf.training.evaluation import protocol_task, run_key

    for line in per_split.dropna(subset=["run_key"]).itertuples():
        task = protocol_task(config, rows, str(tmp_path / "elsewhere"), row=line.row,
                             split=line.split, seed=line.seed, num_splits=1, seeds=2)
        assert run_key(task) == line.run_key
    with pytest.raises(ValueError, match="split 1 and seed 0"):
        protocol_task(config, rows, str(out), row="lstm", split=1, seed=0, num_splits=1)

    # As if the protocol had been killed during its last run.
    models = {seed: out / "split0" / f"seed{seed}" / "lstm" / "model.keras" for seed in (0, 1)}
    stamps = {seed: path.stat().st_mtime_ns for seed, path in models.items()}
    for name in ("results_per_split.csv", "per_gif.csv"):
        table = pd.read_csv(out / name)
        table[~((table["row"] == "lstm") & (table["seed"] == 1))].to_csv(out / name, index=False)
    again = run_protocol(config, rows, str(out), **kwargs)
    assert again.attrs["reused_runs"] == 3
    assert models[0].stat().st_mtime_ns == stamps[0]
    assert models[1].stat().st_mtime_ns != stamps[1]
    assert len(pd.read_csv(out / "per_gif.csv")) == 2 * 2 * test_gifs
    # The run trained here agrees with the one trained in a worker process.
    np.testing.assert_allclose(again["nmse"], frame["nmse"], rtol=1e-4)
    # Another config is another run: nothing is reused.
    longer = with_overrides(config, train={"epochs": 2})
    assert run_protocol(longer, rows, str(out), **{**kwargs, "seeds": 1, "ablation_rows": ["lstm"],
                                                   "baselines": []}).attrs["reused_runs"] == 0


def test_run_key_follows_the_config_and_the_data_not_the_folder(tmp_path, manifest):
    from kavan_tf.training.evaluation import TrainingTask, run_key

    rows = read_manifest(manifest)
    config = _config(tmp_path)
    key = run_key(TrainingTask(config, rows.iloc[:10], rows.iloc[10:]))
    moved = with_overrides(config, train={"output_dir": str(tmp_path / "elsewhere")})
    assert run_key(TrainingTask(moved, rows.iloc[:10], rows.iloc[10:])) == key
    assert run_key(TrainingTask(with_overrides(config, train={"seed": 5}),
                                rows.iloc[:10], rows.iloc[10:])) != key
    assert run_key(TrainingTask(config, rows.iloc[:9], rows.iloc[9:])) != key
    relabelled = rows.copy()
    emotion = config.labels.emotions[0]
    relabelled[emotion] = relabelled[emotion] + 1.0
    assert run_key(TrainingTask(config, relabelled.iloc[:10], relabelled.iloc[10:])) != key


def test_run_key_leaves_out_settings_that_cannot_change_the_run(tmp_path, manifest):
    """A setting a run does not read leaves its key, so its finished run stays
    reusable: HS-LSTM's readings for a plain LSTM, the vote loss without votes,
    prediction defaults; the same settings do change the runs that read them."""
    from kavan_tf.training.evaluation import TrainingTask, run_key

    rows = read_manifest(manifest)

    def key(config):
        return run_key(TrainingTask(config, rows.iloc[:10], rows.iloc[10:]))

    for temporal in ("lstm", "hslstm"):
        config = with_overrides(_config(tmp_path), model={"temporal": temporal})
        node = with_overrides(config, model={"hs_tier1": "node"})
        assert (key(node) == key(config)) is (temporal == "lstm")
        assert key(with_overrides(config, loss={"vote_scale": 0.5, "w_rg": 2.0})) == key(config)
        assert key(with_overrides(config, predict={"top_k": 5})) == key(config)
        assert key(with_overrides(config, loss={"w_rank": 0.5})) != key(config)
        assert key(with_overrides(config, labels={"category_valence": [0.5, 1, -1, -1]})) \
            == key(config)
    # A run on votes reads the vote loss's settings.
    votes = tmp_path / "votes.csv"
    votes.write_text("left,right,metric,choice\n")
    on_votes = with_overrides(_config(tmp_path), loss={"w_vote": 1.0})

    def voted(config):
        return run_key(TrainingTask(config, rows.iloc[:10], rows.iloc[10:], votes=str(votes),
                                    votes_per_epoch=4))

    assert voted(with_overrides(on_votes, loss={"vote_anchor": 0.5})) != voted(on_votes)
    assert voted(with_overrides(on_votes, loss={"vote_scale": 0.3})) != voted(on_votes)


def test_sigma_weights_change_training_not_the_metrics(tmp_path, manifest):
    from kavan_tf.data.manifest import sigma_column

    rows = read_manifest(manifest)
    rng = np.random.default_rng(0)
    for emotion in KavanConfig().labels.emotions:
        rows[sigma_column(emotion)] = rng.uniform(0.5, 8.0, size=len(rows))
    config = with_overrides(_config(tmp_path / "plain"), train={"epochs": 1})
    weighted = with_overrides(config, loss={"sigma_weights": True},
                              train={"output_dir": str(tmp_path / "weighted")})
    plain_run = train(config, rows, rows, verbose=0)
    weighted_run = train(weighted, rows, rows, verbose=0)
    # Same seed, same data: only the loss's weights differ.
    assert weighted_run.history["loss"] != plain_run.history["loss"]
    assert np.isfinite(weighted_run.history["val_intensities_nmse"]).all()
    # The model still predicts [B, E]; its metrics read the targets, not the weights.
    outputs = weighted_run.model.predict_on_batch(np.zeros((1, 4, 32, 32, 3), np.float32))
    assert outputs["intensities"].shape == (1, 17)


def _children(pid: int) -> set[int]:
    """The direct child processes of ``pid`` (Linux /proc)."""
    found: set[int] = set()
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not pathlib.Path("/proc/self/task").is_dir(), reason="reads Linux /proc")
def test_evaluate_with_jobs_ended_by_sigterm_stops_its_workers(tmp_path, manifest):
    """SIGTERM to `kavan evaluate --jobs 2` while its workers train: it exits
    at once with status 143, and no worker keeps training."""
    # Runs far longer than the test: only stopping them ends them in time.
    config = with_overrides(_config(tmp_path), train={"epochs": 10_000})
    config.save(tmp_path / "config.json")
    workers: set[int] = set()

    def training(process) -> bool:
        # The pool's two workers (and multiprocessing's resource tracker),
        # then a few seconds for them to import TensorFlow and start training.
        if len(workers) < 3:
            workers.update(_children(process.pid))
            return False
        time.sleep(3)
        return True

    try:
        code, stderr, took = signal_once_ready(
            [sys.executable, "-m", "kavan_tf.cli", "evaluate", "--config",
             str(tmp_path / "config.json"), "--manifest", str(manifest), "--out",
             str(tmp_path / "results"), "--rows", "lstm", "--splits", "2", "--jobs", "2"],
            training, signal.SIGTERM)
        assert code == 128 + signal.SIGTERM, stderr[-2000:]
        assert "kavan evaluate: terminated (SIGTERM)" in stderr
        assert took < 30
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:  # only when the test failed: they are gone otherwise
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
