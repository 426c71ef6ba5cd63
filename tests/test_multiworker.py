"""Training past one machine: two MultiWorkerMirroredStrategy workers on 127.0.0.1.

The workers are real processes with a ``TF_CONFIG`` naming two free loopback
ports. Every test bounds its own time and kills what it started, by PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from kavan_tf.data.manifest import read_manifest
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.cluster import check_tf_config
from kavan_tf.training.trainer import train

# Counts the GIFs this process decodes (every path given to load_example),
# printed as `DECODED [paths]` at exit.
COUNT_DECODES = """
import atexit, json
import kavan_tf.data.pipeline as pipeline
decoded = []
_load = pipeline.load_example
def _counting(path, *args, **kwargs):
    decoded.append(path)
    return _load(path, *args, **kwargs)
pipeline.load_example = _counting
atexit.register(lambda: print("DECODED", json.dumps(decoded), flush=True))
"""

# `kavan train ...`, counting the decoded GIFs.
COUNTING_CLI_SCRIPT = COUNT_DECODES + """
import runpy, sys
sys.argv = ["kavan"] + sys.argv[1:]
runpy.run_module("kavan_tf.cli", run_name="__main__")
"""

# Trains with train() and, with a second argument, sleeps after every batch
# (so that a test can kill a worker mid-epoch).
TRAIN_SCRIPT = """
import sys, time, keras
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.training.trainer import train

class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(float(sys.argv[3]))

config = KavanConfig.from_file(sys.argv[1])
extra = [Slow()] if len(sys.argv) > 3 else []
result = train(config, read_manifest(sys.argv[2]), verbose=0, extra_callbacks=extra)
print("LOSSES", [float(v) for v in result.history["loss"]])
"""

MIRRORED_SCRIPT = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
""" + COUNT_DECODES + TRAIN_SCRIPT


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return generate_dataset(root, SyntheticConfig(num_gifs=16, frame_size=(48, 48),
                                                  num_frames=(4, 6)))


def _config(path, distribute="auto", epochs=2):
    return tiny_config(path, train={"epochs": epochs, "learning_rate": 1e-2,
                                    "distribute": distribute})


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _env(tmp_path, ports=None, index=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
               TMPDIR=str(tmp_path / "tmp"))
    env.pop("TF_CONFIG", None)
    if ports is not None:
        env["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        })
    os.makedirs(env["TMPDIR"], exist_ok=True)
    return env


class Workers:
    """Two worker processes of one cluster; killed by PID on exit."""

    def __init__(self, tmp_path, command):
        ports = _free_ports(2)
        self.logs = [open(tmp_path / f"worker{i}.log", "w+") for i in range(2)]
        self.processes = [
            subprocess.Popen(command, env=_env(tmp_path, ports, i), stdout=self.logs[i],
                             stderr=subprocess.STDOUT, start_new_session=True)
            for i in range(2)
        ]

    def wait(self, timeout):
        deadline = time.time() + timeout
        codes = []
        for p in self.processes:
            codes.append(p.wait(timeout=max(1.0, deadline - time.time())))
        return codes

    def output(self, i):
        self.logs[i].flush()
        self.logs[i].seek(0)
        return self.logs[i].read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for f in self.logs:
            f.close()


def _decoded(text):
    line = [x for x in text.splitlines() if x.startswith("DECODED")]
    assert line, text[-3000:]
    return json.loads(line[-1].split(" ", 1)[1])


def _losses(text):
    line = [x for x in text.splitlines() if x.startswith("LOSSES")]
    assert line, text[-3000:]
    return json.loads(line[-1].split(" ", 1)[1])


def _epochs_done(history):
    try:
        return len(pd.read_csv(history))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


def _worker_folders(tmp_path):
    return [n for n in os.listdir(tmp_path / "tmp") if n.startswith("kavan-")]


def _weights(path):
    model = keras.saving.load_model(path, compile=False)
    return model.get_weights()


@pytest.mark.slow
def test_losses_equal_on_one_device_mirrored_and_two_workers(tmp_path, manifest):
    """Same global batch and seed: the same loss per epoch under every strategy,
    and each of two workers decodes only its share of the GIFs.

    Fails without the Keras workarounds (``kavan_tf/models/distributed_fit.py``):
    the workers crash before the first step, and MirroredStrategy sees each
    epoch's data shifted by one iteration.
    """
    single = train(_config(tmp_path / "single", "none"), read_manifest(manifest),
                   verbose=0).history["loss"]

    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    mirrored_script = tmp_path / "mirrored.py"
    mirrored_script.write_text(MIRRORED_SCRIPT)
    _config(tmp_path / "mirrored", "mirrored").save(tmp_path / "mirrored.json")
    mirrored = subprocess.run(
        [sys.executable, str(mirrored_script), str(tmp_path / "mirrored.json"), str(manifest)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert mirrored.returncode == 0, mirrored.stderr[-3000:]

    out = tmp_path / "cluster"
    _config(out).save(tmp_path / "cluster.json")
    cli = tmp_path / "kavan_counting.py"
    cli.write_text(COUNTING_CLI_SCRIPT)
    with Workers(tmp_path, [sys.executable, str(cli), "train", "--config",
                            str(tmp_path / "cluster.json"), "--manifest", str(manifest)]) as w:
        codes = w.wait(timeout=180)
        assert codes == [0, 0], w.output(0)[-3000:] + w.output(1)[-3000:]
        assert "Trained model written to" in w.output(0)
        decoded = [_decoded(w.output(i)) for i in range(2)]

    # 16 GIFs, global batch 4, 2 epochs: each worker decodes its 2 GIFs of
    # every global batch (8 per epoch), and together they decode every GIF
    # once per epoch, as one process does.
    gifs = read_manifest(manifest)["path"].tolist()
    assert [len(d) for d in decoded] == [16, 16]
    assert Counter(decoded[0] + decoded[1]) == {path: 2 for path in gifs}
    assert not set(decoded[0][:8]) & set(decoded[1][:8])
    assert Counter(_decoded(mirrored.stdout)) == {path: 2 for path in gifs}

    np.testing.assert_allclose(_losses(mirrored.stdout), single, rtol=1e-5)
    cluster_history = pd.read_csv(out / "history.csv")
    np.testing.assert_allclose(cluster_history["loss"], single, rtol=1e-5)
    # Only the chief wrote: one history with one row per epoch, and the other
    # worker's temporary folder is gone.
    assert cluster_history["epoch"].tolist() == [0, 1]
    for name in ("config.json", "model.keras", "history.json", "checkpoints/last.keras",
                 "checkpoints/best.keras", "logs"):
        assert (out / name).exists(), name
    assert _worker_folders(tmp_path) == []


@pytest.mark.slow
def test_sigkill_a_worker_then_resume_both(tmp_path, manifest):
    """A worker killed mid-epoch takes its peer down within 30 s; the same
    command then resumes both from the chief's last backup and ends with the
    model of a run that was never interrupted."""
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    out = tmp_path / "run"
    _config(out, epochs=4).save(tmp_path / "config.json")
    command = [sys.executable, str(script), str(tmp_path / "config.json"), str(manifest), "0.3"]
    history = out / "history.csv"

    with Workers(tmp_path, command) as w:
        deadline = time.time() + 120
        while time.time() < deadline and _epochs_done(history) < 2:
            assert all(p.poll() is None for p in w.processes), w.output(0)[-3000:]
            time.sleep(0.1)
        time.sleep(0.5)  # mid-epoch
        os.kill(w.processes[1].pid, signal.SIGKILL)
        killed_at = time.time()
        code = w.processes[0].wait(timeout=60)
        assert time.time() - killed_at < 30
        assert code != 0
    done = _epochs_done(history)
    assert 2 <= done < 4

    with Workers(tmp_path, command[:-1]) as w:
        codes = w.wait(timeout=180)
        assert codes == [0, 0], w.output(0)[-3000:] + w.output(1)[-3000:]
    epochs = pd.read_csv(history)["epoch"].tolist()
    assert epochs[done:] == list(range(done, 4)), epochs

    uninterrupted = train(_config(tmp_path / "single", "none", epochs=4), read_manifest(manifest),
                          verbose=0)
    for a, b in zip(_weights(out / "model.keras"), uninterrupted.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert _worker_folders(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_both_workers(tmp_path, manifest, sig):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    out = tmp_path / "run"
    _config(out, epochs=50).save(tmp_path / "config.json")
    command = [sys.executable, str(script), str(tmp_path / "config.json"), str(manifest), "0.2"]
    with Workers(tmp_path, command) as w:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "history.csv").exists():
            assert all(p.poll() is None for p in w.processes), w.output(0)[-3000:]
            time.sleep(0.1)
        os.kill(w.processes[0].pid, sig)
        sent = time.time()
        codes = w.wait(timeout=60)
        assert time.time() - sent < 30
        assert codes[0] == 128 + sig, w.output(0)[-2000:]
        assert codes[1] != 0
        assert f"worker 0 got {signal.Signals(sig).name}; exiting" in w.output(0)
    assert _worker_folders(tmp_path) == []


@pytest.mark.parametrize("raw, message", [
    ("{not json", "not valid JSON"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}}', "no task"),
    ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
     '"task": {"type": "worker", "index": 2}}', "index 2 is out of range"),
    ('{"cluster": {"worker": ["127.0.0.1", "127.0.0.1:2"]}, '
     '"task": {"type": "worker", "index": 0}}', "is not 'host:port'"),
    ('{"cluster": {"ps": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}, '
     '"task": {"type": "worker", "index": 0}}', "'ps' is not supported"),
])
def test_bad_tf_config_is_refused_before_connecting(raw, message):
    with pytest.raises(ValueError, match=message):
        check_tf_config(raw)


def test_tf_config_roles():
    two = '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": %d}}'
    assert check_tf_config(two % 0).is_chief
    assert not check_tf_config(two % 1).is_chief
    with_chief = ('{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, '
                  '"task": {"type": "worker", "index": 0}}')
    assert not check_tf_config(with_chief).is_chief
    assert check_tf_config(with_chief).num_workers == 2
    assert check_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
                           '"index": 0}}') is None
    assert check_tf_config("") is None


def test_bad_tf_config_fails_kavan_train_at_once(tmp_path, manifest):
    """A wrong TF_CONFIG is an error before any connection, not a hang."""
    _config(tmp_path / "run").save(tmp_path / "config.json")
    env = _env(tmp_path)
    env["TF_CONFIG"] = ('{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
                        '"task": {"type": "worker", "index": 5}}')
    result = subprocess.run(
        [sys.executable, "-m", "kavan_tf.cli", "train", "--config", str(tmp_path / "config.json"),
         "--manifest", str(manifest)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "index 5 is out of range" in result.stderr
    assert not (tmp_path / "run").exists()
