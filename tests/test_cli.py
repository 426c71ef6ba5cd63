"""The `kavan` command line, end to end on tiny data."""

import json
import os
import shutil

import pandas as pd
import pytest

import kavan_tf
from kavan_tf.cli import apply_sets, main
from kavan_tf.config import KavanConfig
from kavan_tf.model_card import read_card
from kavan_tf.synthetic import SyntheticConfig, generate_dataset


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    manifest = generate_dataset(root / "data", SyntheticConfig(num_gifs=10, frame_size=(48, 48),
                                                               num_frames=(4, 6)))
    config = root / "config.json"
    config.write_text(json.dumps({
        "model": {"backbone": "small", "backbone_weights": None, "image_size": [32, 32],
                  "num_frames": 4, "node_size": 2, "hidden_size": 8, "attention_size": 4},
        "data": {"batch_size": 4},
        "train": {"epochs": 1, "distribute": "none"},
    }))
    return root, manifest, config


@pytest.mark.slow
def test_train_export_predict(workspace, capsys):
    root, manifest, config = workspace
    run = root / "run"
    assert main(["train", "--config", str(config), "--manifest", str(manifest),
                 "--out", str(run), "--train-split", "train"]) == 0
    assert (run / "model.keras").exists()
    exported = root / "savedmodels"
    for precision in ("float32", "bfloat16"):
        assert main(["export", str(run / "model.keras"), "--export-dir", str(exported),
                     "--name", "kavan", "--precision", precision]) == 0
    assert sorted(os.listdir(exported / "kavan")) == [
        "1", "2", "batching_parameters.txt", "models.config"]
    gif = str(root / "data" / "gifs" / "syn00000.gif")
    csv_out = root / "predictions.csv"
    capsys.readouterr()
    assert main(["predict", gif, "--model", str(exported / "kavan"), "--format", "csv",
                 "--output", str(csv_out)]) == 0
    assert "syn00000.gif" in csv_out.read_text()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "synthetic" in line]
    assert len(warnings) == 1 and warnings[0].startswith("kavan predict: warning: ")

    # The model card: beside the .keras file, and in each SavedModel's assets.
    import hashlib

    card = json.loads((run / "model_card.json").read_text())
    # model.keras carries the same card inside: a copy elsewhere keeps it.
    copied = root / "elsewhere" / "copy.keras"
    copied.parent.mkdir()
    shutil.copy(run / "model.keras", copied)
    assert read_card(str(copied)) == card
    assert card["data"]["synthetic"] is True and card["data"]["label_mode"] == "change"
    assert card["data"]["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    rows = pd.read_csv(manifest)
    assert card["data"]["train_gifs"] == int((rows["split"] == "train").sum())
    assert card["config"]["model"]["backbone"] == "small"
    assert card["package"]["version"] == kavan_tf.__version__
    served = json.loads((exported / "kavan" / "2" / "assets" / "model_card.json").read_text())
    assert served["export"]["precision"] == "bfloat16" and served["data"] == card["data"]
    # Each precision's faster LSTM kernel layout by default (docs/performance.md).
    assert served["export"]["gate_major_lstm"] is True
    plain = json.loads((exported / "kavan" / "1" / "assets" / "model_card.json").read_text())
    assert plain["export"]["gate_major_lstm"] is False
    capsys.readouterr()
    assert main(["export", str(run / "model.keras"), "--export-dir", str(exported),
                 "--no-fold-batch-norm", "--lstm-layout", "gate-major"]) == 2
    assert "needs fold_batch_norm=True" in capsys.readouterr().err
    assert sorted(os.listdir(exported / "kavan")) == [
        "1", "2", "batching_parameters.txt", "models.config"]
    assert main(["info", str(exported / "kavan")]) == 0
    shown = capsys.readouterr().out
    assert "synthetic: yes" in shown and "export: precision bfloat16" in shown
    assert main(["info", str(run / "model.keras"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == card
    bad = root / "bad.gif"
    bad.write_bytes(b"not a gif")
    assert main(["predict", gif, str(bad), "--model", str(run / "model.keras")]) == 1


def test_prepare_reports_and_resumes(workspace, capsys):
    root, manifest, config = workspace
    out = root / "shards"
    assert main(["prepare", "--manifest", str(manifest), "--out", str(out), "--config",
                 str(config), "--shard-size", "4"]) == 0
    assert main(["prepare", "--manifest", str(manifest), "--out", str(out), "--config",
                 str(config), "--shard-size", "4"]) == 0
    assert "kept from an earlier run: 3" in capsys.readouterr().out


def test_errors_are_one_line_before_any_work(workspace, capsys, tmp_path):
    root, manifest, config = workspace
    bad_config = tmp_path / "bad.json"
    bad_config.write_text(json.dumps({"model": {"hidden_sise": 8}}))
    assert main(["train", "--config", str(bad_config), "--manifest", str(manifest),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "hidden_sise" in err and "hidden_size" in err
    assert not (tmp_path / "run").exists()
    assert main(["train", "--config", str(config), "--manifest", str(tmp_path / "none.csv"),
                 "--out", str(tmp_path / "run")]) == 2
    assert "none.csv" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--manifest", str(manifest),
                 "--out", str(tmp_path / "run"), "--train-split", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    for command in (["evaluate", "--manifest", str(manifest), "--out", str(tmp_path / "e")],
                    ["results", "--out", str(tmp_path / "r")]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--jobs", "0"])
        assert exit_info.value.code == 2
        assert "--jobs: expected a positive integer, got '0'" in capsys.readouterr().err
    assert not (tmp_path / "e").exists() and not (tmp_path / "r").exists()


def test_set_overrides():
    config = apply_sets(KavanConfig(), ["model.hidden_size=16", "model.backbone=small",
                                        "data.background=[0, 0, 0]"])
    assert config.model.hidden_size == 16 and config.model.backbone == "small"
    assert config.data.background == (0, 0, 0)
    with pytest.raises(ValueError, match="section.key=value"):
        apply_sets(KavanConfig(), ["hidden_size=3"])


def test_synth_options(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", str(out), "--num-gifs", "4", "--size", "48", "--label-mode", "end",
                 "--face-scale", "0.25", "0.3"]) == 0
    settings = json.loads((out / "synthetic.json").read_text())["config"]
    assert settings["label_mode"] == "end" and settings["face_scale"] == [0.25, 0.3]
    assert len(list((out / "gifs").glob("*.gif"))) == 4


@pytest.mark.slow
def test_train_on_shards_and_feature_cache(workspace, tmp_path):
    root, manifest, config = workspace
    from kavan_tf.models.backbones import build_backbone

    # The feature cache needs fixed backbone weights: a local file.
    settings = json.loads(config.read_text())
    weights = str(tmp_path / "small.weights.h5")
    build_backbone(KavanConfig.from_dict(settings).model).save_weights(weights)
    settings["model"]["backbone_weights"] = weights
    frames_config = tmp_path / "frames.json"
    frames_config.write_text(json.dumps(settings))
    shards = tmp_path / "shards"
    assert main(["prepare", "--manifest", str(manifest), "--out", str(shards), "--config",
                 str(frames_config), "--features"]) == 0
    assert main(["train", "--config", str(frames_config), "--shards", str(shards),
                 "--out", str(tmp_path / "frames_run")]) == 0
    assert (tmp_path / "frames_run" / "model.keras").exists()
    assert main(["train", "--config", str(frames_config), "--shards", str(shards),
                 "--set", "model.input_mode=features", "--out", str(tmp_path / "head_run")]) == 0
    assert (tmp_path / "head_run" / "model.keras").exists()


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--shards", "prepared", "--manifest", "m.csv"], "drop --manifest"),
        (["--shards", "prepared", "--val-split", "test"], "drop --val-split"),
        (["--manifest", "m.csv", "--val-shards", "prepared"],
         "--val-shards prepared needs --shards"),
    ],
)
def test_train_refuses_arguments_it_would_ignore(extra, fragment, capsys):
    assert main(["train", *extra]) == 2
    assert fragment in capsys.readouterr().err
