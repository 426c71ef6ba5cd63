"""Tests for reading, validating and writing manifests."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from kavan_tf.config import LabelConfig
from kavan_tf.data.manifest import (
    read_manifest,
    scores_to_targets,
    sigma_column,
    targets_category,
    validate_manifest,
    write_manifest,
)
from kavan_tf.errors import ManifestError
from kavan_tf.labels import EMOTIONS

SIGMAS = [sigma_column(e) for e in EMOTIONS]


def make_frame(num=3, sigmas=True, extra=True):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"gif_id": [f"id{k}" for k in range(num)], "path": [f"gifs/id{k}.gif" for k in range(num)]}
    )
    frame[list(EMOTIONS)] = rng.uniform(0, 50, (num, len(EMOTIONS)))
    if sigmas:
        frame[SIGMAS] = rng.uniform(1, 8, (num, len(EMOTIONS)))
    if extra:
        frame["split"] = ["train", "test", "train"][:num]
        frame["keypoints"] = ["kp/id0.json", "", "/abs/kp/id2.json"][:num]
        frame["n_votes"] = np.arange(num) * 10
    return frame


def write_csv(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_round_trip_types_and_paths(tmp_path):
    frame = make_frame()
    path = tmp_path / "data" / "manifest.csv"
    write_manifest(frame, path)
    assert [p.name for p in path.parent.iterdir()] == ["manifest.csv"]  # No temp file left.
    got = read_manifest(path)
    assert list(got.columns) == [
        "gif_id",
        "path",
        *EMOTIONS,
        *SIGMAS,
        "split",
        "keypoints",
        "n_votes",
    ]
    folder = str(tmp_path / "data")
    assert got["path"].tolist() == [os.path.join(folder, "gifs", f"id{k}.gif") for k in range(3)]
    assert got["keypoints"].tolist() == [
        os.path.join(folder, "kp", "id0.json"),
        None,
        os.path.normpath("/abs/kp/id2.json"),
    ]
    np.testing.assert_array_equal(got[list(EMOTIONS)].to_numpy(), frame[list(EMOTIONS)].to_numpy())
    np.testing.assert_array_equal(got[SIGMAS].to_numpy(), frame[SIGMAS].to_numpy())
    assert got["n_votes"].dtype == np.int64 and got["split"].tolist() == ["train", "test", "train"]


def test_minimal_manifest_and_extra_columns(tmp_path):
    frame = make_frame(sigmas=False, extra=False)
    frame["note"] = ["x", "y", "z"]
    got = read_manifest(write_csv(tmp_path / "m.csv", frame))
    assert list(got.columns) == ["gif_id", "path", *EMOTIONS, "note"]
    assert got[list(EMOTIONS)].dtypes.eq(np.float64).all()


def test_ids_that_look_like_numbers_or_nan_stay_text(tmp_path):
    frame = make_frame(sigmas=False, extra=False)
    frame["gif_id"] = ["007", "NaN", "null"]
    got = read_manifest(write_csv(tmp_path / "m.csv", frame))
    assert got["gif_id"].tolist() == ["007", "NaN", "null"]


def test_missing_file(tmp_path):
    with pytest.raises(ManifestError, match="nope.csv: manifest not found"):
        read_manifest(tmp_path / "nope.csv")


def test_a_folder_is_not_a_manifest(tmp_path):
    with pytest.raises(ManifestError, match="is a folder, not a manifest file"):
        read_manifest(tmp_path)
    write_csv(tmp_path / "manifest.csv", make_frame())
    with pytest.raises(ManifestError, match="did you mean .*manifest.csv"):
        read_manifest(tmp_path)


def test_missing_columns_are_all_listed(tmp_path):
    frame = make_frame().drop(columns=["path", "anger", "surprise"])
    path = write_csv(tmp_path / "m.csv", frame)
    with pytest.raises(
        ManifestError, match=r"m.csv: missing columns \['path', 'anger', 'surprise'\]"
    ):
        read_manifest(path)


def test_sigma_columns_are_all_or_none(tmp_path):
    frame = make_frame().drop(columns=["fear_sigma"])
    with pytest.raises(ManifestError, match=r"missing \['fear_sigma'\]"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))


@pytest.mark.parametrize("value", ["", "abc", "nan", "inf"])
def test_bad_scores_name_rows_and_ids(tmp_path, value):
    frame = make_frame().astype({"anger": object})
    frame.loc[1, "anger"] = value
    with pytest.raises(ManifestError, match=r"m.csv: .*score.* row 2 \(gif_id 'id1'\): anger="):
        read_manifest(write_csv(tmp_path / "m.csv", frame))


def test_bad_sigma_and_n_votes(tmp_path):
    frame = make_frame()
    frame.loc[2, "shame_sigma"] = -1.0
    with pytest.raises(ManifestError, match=r"negative sigma .*'id2'"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))
    frame = make_frame().astype({"n_votes": float})
    frame.loc[0, "n_votes"] = 2.5
    with pytest.raises(ManifestError, match=r"n_votes .*'id0'"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))


def test_duplicate_ids(tmp_path):
    frame = make_frame()
    frame.loc[2, "gif_id"] = "id0"
    with pytest.raises(ManifestError, match="m.csv: duplicate gif_ids id0"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))


def test_empty_id_or_path(tmp_path):
    frame = make_frame()
    frame.loc[1, "path"] = ""
    with pytest.raises(ManifestError, match=r"empty path in 1 rows: row 2 \(gif_id 'id1'\)"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))
    frame = make_frame()
    frame.loc[0, "gif_id"] = " "
    with pytest.raises(ManifestError, match="empty gif_id in 1 rows: row 1"):
        read_manifest(write_csv(tmp_path / "m.csv", frame))


def test_empty_manifest(tmp_path):
    path = write_csv(tmp_path / "m.csv", make_frame().iloc[:0])
    with pytest.raises(ManifestError, match="m.csv: empty manifest"):
        read_manifest(path)
    (tmp_path / "blank.csv").write_text("")
    with pytest.raises(ManifestError, match="blank.csv: empty file"):
        read_manifest(tmp_path / "blank.csv")


def test_write_validates(tmp_path):
    with pytest.raises(ManifestError, match="missing columns"):
        write_manifest(make_frame().drop(columns=["gif_id"]), tmp_path / "m.csv")
    assert not list(tmp_path.iterdir())


def test_parquet(tmp_path):
    frame = make_frame()
    path = tmp_path / "m.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ManifestError, match="m.parquet: .*pyarrow"):
            write_manifest(frame, path)
        path.write_bytes(b"PAR1")
        with pytest.raises(ManifestError, match="pyarrow"):
            read_manifest(path)
        return
    write_manifest(frame, path)
    got = read_manifest(path)
    np.testing.assert_array_equal(got[list(EMOTIONS)].to_numpy(), frame[list(EMOTIONS)].to_numpy())


def test_custom_labels():
    labels = LabelConfig(
        emotions=("joy", "gloom"),
        category_names=("up", "down"),
        category_members=(("joy",), ("gloom",)),
    )
    frame = pd.DataFrame({"gif_id": ["a"], "path": ["a.gif"], "joy": [30.0], "gloom": [10.0]})
    assert list(validate_manifest(frame, labels).columns) == ["gif_id", "path", "joy", "gloom"]
    with pytest.raises(ManifestError, match=r"<manifest>: missing columns \['amusement'"):
        validate_manifest(frame)


def test_scores_to_targets():
    scores = np.array([[0.0, 12.5, 25.0, 37.5, 50.0], [-5.0, 60.0, 25.0, 30.0, 20.0]])
    targets = scores_to_targets(scores)
    assert targets.dtype == np.float32 and targets.shape == (2, 5)
    np.testing.assert_allclose(targets, [[-1, -0.5, 0, 0.5, 1], [-1, 1, 0, 0.2, -0.2]], atol=1e-7)


def test_targets_category():
    targets = np.full((3, len(EMOTIONS)), -0.5)
    targets[0, EMOTIONS.index("surprise")] = 0.9  # pleasure-arousal
    targets[1, EMOTIONS.index("relief")] = 0.9  # pleasure-sleep
    targets[2, EMOTIONS.index("shame")] = 0.9  # misery-sleep
    got = targets_category(targets)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [0, 1, 3])
    frame = make_frame()
    np.testing.assert_array_equal(
        targets_category(scores_to_targets(frame[list(EMOTIONS)])),
        LabelConfig().category_of(frame[list(EMOTIONS)].to_numpy()),
    )
    with pytest.raises(ValueError, match="17 emotions"):
        targets_category(np.zeros((2, 4)))
