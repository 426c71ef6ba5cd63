"""What a person sees from the `kavan` command: its own lines only, fast errors.

Each case runs the command in a fresh process, as a user does, so that the
native stderr of TensorFlow is really there to be kept off the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kavan_tf.synthetic import SyntheticConfig, generate_dataset

NATIVE_NOISE = ("I0000", "W0000", "E0000", "All log messages before absl", "oneDNN",
                "cuda", "cuInit")


def run(args, env_extra=None, timeout=240):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "kavan_tf.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def small_manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-output")
    return generate_dataset(root, SyntheticConfig(num_gifs=2, frame_size=(32, 32),
                                                  num_frames=(2, 3)))


def test_only_the_package_lines_unless_verbose(small_manifest, tmp_path):
    # `prepare` imports TensorFlow and runs ops: its start-up noise must not show.
    out = tmp_path / "shards"
    sets = ["--set", "model.backbone=small", "--set", "model.image_size=[32, 32]",
            "--set", "model.num_frames=2", "--set", "model.node_size=1"]
    result = run(["prepare", "--manifest", str(small_manifest), "--out", str(out), *sets])
    assert result.returncode == 0, result.stderr
    for noise in NATIVE_NOISE:
        assert noise not in result.stderr, result.stderr
    assert "shards written" in result.stdout
    # -v keeps everything (whatever this machine's TensorFlow prints).
    verbose = run(["-v", "prepare", "--manifest", str(small_manifest), "--out",
                   str(tmp_path / "again"), *sets])
    assert verbose.returncode == 0 and "shards written" in verbose.stdout


def test_captured_output_is_shown_when_the_import_fails(tmp_path, small_manifest):
    # A TensorFlow that writes to native stderr and fails to import.
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(textwrap.dedent("""
        import os
        os.write(2, b"native: libcudart.so.12 not found\\n")
        raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
    """))
    result = run(["prepare", "--manifest", str(small_manifest), "--out", str(tmp_path / "o")],
                 env_extra={"PYTHONPATH": str(tmp_path / "fake")})
    assert result.returncode == 1
    assert "native: libcudart.so.12 not found" in result.stderr
    assert "kavan prepare: cannot import" in result.stderr
    assert "libtensorflow_framework" in result.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["predict", "some.gif", "--model", "/nonexistent/model"], "/nonexistent/model"),
        (["export", "/nonexistent/model.keras"], "/nonexistent/model.keras"),
        (["train", "--manifest", "/nonexistent/m.csv"], "/nonexistent/m.csv"),
    ],
)
def test_bad_arguments_fail_before_tensorflow_is_imported(args, fragment):
    code = textwrap.dedent(f"""
        import sys
        from kavan_tf.cli import main
        code = main({args!r})
        print(code, "tensorflow" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kavan {args[0]}: ") and fragment in lines[0]


def test_package_warnings_read_as_the_commands_own_lines(small_manifest, tmp_path):
    """A file that fails is reported as ``kavan <command>: warning: ...``, not as
    a logger's line; -v names the module that logged it."""
    import pandas as pd

    rows = pd.read_csv(small_manifest)
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"not a gif at all")
    rows.loc[0, "path"] = str(broken)
    # Beside the original, so that its relative paths (GIFs, keypoints) still hold.
    manifest = small_manifest.parent / "manifest_with_a_broken_gif.csv"
    rows.to_csv(manifest, index=False)
    sets = ["--set", "model.backbone=small", "--set", "model.image_size=[32, 32]",
            "--set", "model.num_frames=2", "--set", "model.node_size=1"]
    result = run(["prepare", "--manifest", str(manifest), "--out", str(tmp_path / "a"), *sets])
    assert result.returncode == 1, result.stderr  # some inputs failed
    lines = [line for line in result.stderr.splitlines() if "broken.gif" in line]
    assert lines and lines[0].startswith("kavan prepare: warning: skipping "), result.stderr
    assert "WARNING" not in result.stderr
    verbose = run(["-v", "prepare", "--manifest", str(manifest), "--out", str(tmp_path / "b"),
                   *sets])
    assert "WARNING kavan_tf.data.prepare: skipping " in verbose.stderr


def test_predict_prints_one_row_per_file_and_exits_1_on_a_failure(tmp_path):
    """`kavan predict` as a user runs it: the table on stdout, the command's own
    lines on stderr, exit status 1 when a file could not be predicted."""
    from helpers import tiny_model_config

    from kavan_tf.export import tiny_gif
    from kavan_tf.models import KavanModel

    KavanModel(tiny_model_config()).save(tmp_path / "kavan.keras")
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.gif").write_bytes(tiny_gif(3, (20, 24)))
    (inputs / "bad.gif").write_bytes(b"not a gif at all")
    overlays, page = tmp_path / "overlays", tmp_path / "report.html"
    result = run(["predict", str(inputs), "--model", str(tmp_path / "kavan.keras"),
                  "--overlay", str(overlays), "--report", str(page)])
    assert result.returncode == 1, result.stderr
    refusal = (f"{inputs / 'bad.gif'}: cannot decode GIF: not a GIF file (the bytes do not "
               "start with GIF87a or GIF89a)")
    header, bad, good = result.stdout.splitlines()
    assert header.split() == ["path", "category", "valence", "arousal", "top", "emotions"]
    assert bad.split(maxsplit=2) == [str(inputs / "bad.gif"), "ERROR", refusal]
    assert good.startswith(str(inputs / "good.gif") + " ") and len(good.split(", ")) == 3
    lines = [line.rsplit("\r", 1)[-1] for line in result.stderr.splitlines()]
    assert f"kavan predict: warning: Skipped {refusal}" in result.stderr
    assert lines[-3:] == [f"Wrote 1 attention overlay(s) to {overlays}",
                          f"Wrote the report to {page}",
                          "1 of 2 file(s) could not be predicted"]
    for noise in NATIVE_NOISE:
        assert noise not in result.stderr, result.stderr
    assert os.listdir(overlays) == ["good.attention.gif"] and page.is_file()
