"""Tests for kavan_tf.keypoints: formats, files and file-backed sources.

The decisions: docs/decisions.md#keypoints-and-heatmaps.
"""

from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pytest

from kavan_tf.errors import KeypointFileError
from kavan_tf.keypoints import (
    FILE_FORMAT,
    FileSource,
    GifKeypoints,
    KeypointSource,
    OpenPoseSource,
    empty_frame,
    load_keypoints,
    load_openpose_dir,
    load_openpose_file,
    make_keypoint_source,
    pad_people,
    save_keypoints,
)


def random_frames(seed=0, people=(2, 0, 1)):
    rng = np.random.default_rng(seed)
    frames = []
    for p in people:
        frame = rng.uniform(0, 300, (p, 70, 3)).astype(np.float32)
        frame[..., 2] = rng.uniform(0, 1, (p, 70))
        frames.append(frame)
    return frames


def write_json(path, document):
    path.write_text(json.dumps(document))
    return path


def valid_document(frames=1):
    return {
        "format": FILE_FORMAT,
        "source": "synthetic",
        "frame_size": [320, 240],
        "frames": [{"people": [{"face_keypoints_2d": [1.0] * 210}]} for _ in range(frames)],
    }


def openpose_person(value=1.0):
    return {"person_id": [-1], "pose_keypoints_2d": [0.0] * 75, "face_keypoints_2d": [value] * 210}


# --------------------------------------------------------------------- kavan files


@pytest.mark.parametrize("name", ["gif.json", "gif.json.gz"])
def test_save_load_round_trip_is_exact(tmp_path, name):
    frames = random_frames()
    path = tmp_path / "sub" / name
    save_keypoints(path, frames, frame_size=(320, 240), source="dlib")
    gif = load_keypoints(path)
    assert isinstance(gif, GifKeypoints)
    assert gif.frame_size == (320, 240) and gif.source == "dlib" and gif.num_frames == 3
    for got, want in zip(gif.frames, frames, strict=True):
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)  # bit-exact float32
    assert gif.frames[1].shape == (0, 70, 3)


def test_saved_file_layout(tmp_path):
    path = tmp_path / "a.json"
    frame = np.zeros((1, 70, 3), np.float32)
    frame[0, 68] = (10.5, 20.25, 0.1)
    save_keypoints(path, [frame, empty_frame()], (64, 48), "synthetic")
    document = json.loads(path.read_text())
    assert document["format"] == "kavan-keypoints-v1"
    assert document["source"] == "synthetic"
    assert document["frame_size"] == [64, 48]
    values = document["frames"][0]["people"][0]["face_keypoints_2d"]
    assert len(values) == 210 and values[204:207] == [10.5, 20.25, 0.1]
    assert document["frames"][1] == {"people": []}


def test_gzip_file_is_gzip(tmp_path):
    path = tmp_path / "a.json.gz"
    save_keypoints(path, random_frames(), (320, 240), "openpose")
    with gzip.open(path, "rt") as f:
        assert json.load(f)["format"] == FILE_FORMAT


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source": "mediapipe"}, "source"),
        ({"frame_size": (0, 240)}, "frame_size"),
        ({"frame_size": (320,)}, "frame_size"),
        ({"frames": [np.zeros((1, 68, 3))]}, r"frames\[0\]"),
        ({"frames": [np.full((1, 70, 3), np.nan)]}, "non-finite"),
    ],
)
def test_save_bad_arguments(tmp_path, kwargs, match):
    args = {"frames": random_frames(), "frame_size": (320, 240), "source": "dlib"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        save_keypoints(tmp_path / "a.json", **args)
    assert not (tmp_path / "a.json").exists()


def mutate(document, where, value):
    *keys, last = where
    target = document
    for key in keys:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return document


@pytest.mark.parametrize(
    "where, value, match",
    [
        (("format",), "kavan-keypoints-v0", "format"),
        (("format",), KeyError, "format"),
        (("source",), "mediapipe", "source"),
        (("frame_size",), [320], "frame_size"),
        (("frame_size",), [320, 0], "frame_size"),
        (("frame_size",), [320.5, 240], "frame_size"),
        (("frames",), {"people": []}, "frames"),
        (("frames", 0), [], r"frames\[0\]"),
        (("frames", 0, "people"), KeyError, r"frames\[0\]"),
        (("frames", 0, "people", 0), [1.0] * 210, r"frames\[0\]\.people\[0\]"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), [1.0] * 209, "209 values"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), [], "0 values"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), KeyError, "got nothing"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), ["1"] * 210, "non-numeric"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), [True] * 210, "non-numeric"),
        (("frames", 0, "people", 0, "face_keypoints_2d"), [float("nan")] * 210, "non-finite"),
    ],
)
def test_load_malformed_files(tmp_path, where, value, match):
    path = write_json(tmp_path / "bad.json", mutate(valid_document(), where, value))
    with pytest.raises(KeypointFileError, match=match) as info:
        load_keypoints(path)
    assert str(path) in str(info.value)


def test_load_missing_and_unparsable_files(tmp_path):
    with pytest.raises(KeypointFileError, match="not found") as info:
        load_keypoints(tmp_path / "missing.json")
    assert "missing.json" in str(info.value)
    (tmp_path / "bad.json").write_text('{"format": ')
    with pytest.raises(KeypointFileError, match="not valid JSON"):
        load_keypoints(tmp_path / "bad.json")
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(KeypointFileError, match="bad.json.gz"):
        load_keypoints(tmp_path / "bad.json.gz")
    write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(KeypointFileError, match="JSON object"):
        load_keypoints(tmp_path / "list.json")


def test_pad_people():
    frames = random_frames(people=(2, 0, 1))
    padded = pad_people(frames)
    assert padded.shape == (3, 2, 70, 3) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[0], frames[0])
    assert not padded[1].any() and not padded[2, 1].any()
    assert pad_people(frames, num_people=1).shape == (3, 1, 70, 3)
    assert pad_people([empty_frame()]).shape == (1, 1, 70, 3)
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        pad_people([empty_frame(), np.zeros((1, 3))])


# ------------------------------------------------------------------------ OpenPose


def test_load_openpose_file_skips_faceless_people(tmp_path):
    face = np.arange(210, dtype=np.float32)
    document = {
        "version": 1.3,
        "people": [
            {"pose_keypoints_2d": [0.0] * 75},  # absent face array
            {"face_keypoints_2d": []},  # empty face array
            {"face_keypoints_2d": [0.0] * 210},  # OpenPose's "no face for this body"
            {"face_keypoints_2d": face.tolist()},
        ],
    }
    people = load_openpose_file(write_json(tmp_path / "x_000000000000_keypoints.json", document))
    assert people.shape == (1, 70, 3) and people.dtype == np.float32
    np.testing.assert_array_equal(people[0], face.reshape(70, 3))
    assert people[0, 68].tolist() == [204.0, 205.0, 206.0]


def test_load_openpose_file_old_key_and_errors(tmp_path):
    old = write_json(
        tmp_path / "old.json", {"version": 1.0, "people": [{"face_keypoints": [2.0] * 210}]}
    )
    assert load_openpose_file(old).shape == (1, 70, 3)
    empty = write_json(tmp_path / "empty.json", {"version": 1.3, "people": []})
    assert load_openpose_file(empty).shape == (0, 70, 3)
    bad = write_json(
        tmp_path / "bad.json", {"version": 1.3, "people": [{"face_keypoints_2d": [1.0] * 200}]}
    )
    with pytest.raises(KeypointFileError, match=r"bad\.json.*people\[0\]"):
        load_openpose_file(bad)
    with pytest.raises(KeypointFileError, match="no `people`"):
        load_openpose_file(write_json(tmp_path / "other.json", {"frames": []}))


def write_openpose_dir(folder, name, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for t, values in frames.items():
        people = [openpose_person(v) for v in values]
        write_json(folder / f"{name}_{t:012d}_keypoints.json", {"version": 1.3, "people": people})


def test_load_openpose_dir(tmp_path, caplog):
    write_openpose_dir(tmp_path, "clip", {0: [1.0], 1: [], 2: [2.0, 3.0], 10: [4.0]})
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING, logger="kavan_tf.keypoints"):
        frames = load_openpose_dir(tmp_path)
    assert [f.shape[0] for f in frames] == [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert frames[2][1, 0, 0] == 3.0 and frames[10][0, 0, 0] == 4.0
    assert "7 of 11 frames" in caplog.text


def test_load_openpose_dir_errors(tmp_path):
    with pytest.raises(KeypointFileError, match="not found"):
        load_openpose_dir(tmp_path / "missing")
    with pytest.raises(KeypointFileError, match="no OpenPose files"):
        load_openpose_dir(tmp_path)
    write_openpose_dir(tmp_path, "a", {0: [1.0]})
    write_openpose_dir(tmp_path, "b_c", {0: [2.0], 1: [2.0]})
    with pytest.raises(KeypointFileError, match="several inputs"):
        load_openpose_dir(tmp_path)
    assert len(load_openpose_dir(tmp_path, name="b_c")) == 2
    with pytest.raises(KeypointFileError, match="no OpenPose files named zz_"):
        load_openpose_dir(tmp_path, name="zz")


def test_openpose_source_layouts(tmp_path):
    write_openpose_dir(tmp_path / "gif1", "gif1", {0: [1.0], 1: [2.0]})
    write_openpose_dir(tmp_path, "gif2", {0: [], 1: [3.0], 2: [4.0]})
    source = OpenPoseSource(tmp_path)
    assert isinstance(source, KeypointSource) and source.source_name == "openpose"
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    assert [f.shape[0] for f in source.keypoints_for("gif1", frames)] == [1, 1]
    assert [f.shape[0] for f in source.keypoints_for("gif2", None)] == [0, 1, 1]
    with pytest.raises(KeypointFileError, match="3 frames, but the GIF has 2"):
        source.keypoints_for("gif2", frames)
    with pytest.raises(KeypointFileError, match="gif3"):
        source.keypoints_for("gif3", frames)


# ---------------------------------------------------------------------- FileSource


def test_file_source(tmp_path):
    frames = random_frames(people=(1, 0))
    save_keypoints(tmp_path / "abc.json", frames, (8, 6), "synthetic")
    source = FileSource(tmp_path)
    assert source.source_name is None
    video = np.zeros((2, 6, 8, 3), np.uint8)
    got = source.keypoints_for("abc", video)
    np.testing.assert_array_equal(got[0], frames[0])
    assert got[1].shape == (0, 70, 3)
    assert source.load("abc").source == "synthetic"
    assert len(source.keypoints_for("abc", None)) == 2
    with pytest.raises(KeypointFileError, match="2 frames, but the GIF has 3"):
        source.keypoints_for("abc", np.zeros((3, 6, 8, 3), np.uint8))
    with pytest.raises(KeypointFileError, match=r"frame_size \[8, 6\] differs.*\[6, 8\]"):
        source.keypoints_for("abc", np.zeros((2, 8, 6, 3), np.uint8))
    assert (
        len(
            FileSource(tmp_path, check_size=False).keypoints_for(
                "abc", np.zeros((2, 8, 6, 3), np.uint8)
            )
        )
        == 2
    )
    with pytest.raises(KeypointFileError, match="missing.json"):
        source.keypoints_for("missing", None)


def test_file_source_pattern(tmp_path):
    save_keypoints(tmp_path / "kp_abc.json.gz", random_frames(people=(1,)), (8, 6), "dlib")
    source = FileSource(tmp_path, pattern="kp_{gif_id}.json.gz")
    assert source.path_for("abc").endswith("kp_abc.json.gz")
    assert len(source.keypoints_for("abc", None)) == 1
    with pytest.raises(ValueError, match="pattern"):
        FileSource(tmp_path, pattern="abc.json")


def test_make_keypoint_source(tmp_path):
    assert isinstance(make_keypoint_source("file", tmp_path), FileSource)
    assert isinstance(make_keypoint_source("openpose", tmp_path), OpenPoseSource)
    dlib_source = make_keypoint_source("dlib", upsample=0)
    assert dlib_source.source_name == "dlib" and dlib_source.upsample == 0
    with pytest.raises(ValueError, match="needs `path`"):
        make_keypoint_source("file")
    with pytest.raises(ValueError, match="kind"):
        make_keypoint_source("mediapipe", tmp_path)


def test_keypoint_source_is_abstract():
    with pytest.raises(TypeError):
        KeypointSource()  # type: ignore[abstract]
