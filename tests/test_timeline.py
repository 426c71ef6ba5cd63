"""``kavan predict --timeline``: windows over time, streamed video, rows, failures."""

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import tiny_model_config

from kavan_tf.predict.timeline import (
    TimedFrame,
    TimelineWriter,
    predict_timeline,
    read_timeline,
    timed_frames,
    windows,
)

av = pytest.importorskip("av", reason="the video extra (PyAV) is not installed")

FPS = 10


def write_video(path, seconds, fps=FPS, size=32):
    """An MP4 whose frame k is filled with grey level 7 k % 256; its index
    comes first (faststart), so a file cut short still plays up to the cut."""
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for k in range(int(seconds * fps)):
            image = np.full((size, size, 3), (k * 7) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def _frames(count, seconds_each=0.1):
    return [TimedFrame(k * seconds_each, (k + 1) * seconds_each,
                       np.full((2, 2, 3), k, np.uint8)) for k in range(count)]


def test_windows_sample_the_middle_of_each_stretch():
    # 5 s of frames at 10 fps; windows of 2 s every 1 s, T = 4.
    got = list(windows(_frames(50), num_frames=4, window_s=2.0, stride_s=1.0))
    assert [(w.start, w.end) for w in got] == [(0, 2), (1, 3), (2, 4), (3, 5)]
    # Instants 0.25, 0.75, 1.25, 1.75 s (+ the window's start): frames 2, 7, 12, 17.
    for window in got:
        first = int(round(window.start * 10))
        assert window.frames[:, 0, 0, 0].tolist() == [first + 2, first + 7, first + 12,
                                                      first + 17]


def test_a_clip_shorter_than_a_window_is_one_window():
    got = list(windows(_frames(8), num_frames=4, window_s=3.0, stride_s=1.0))
    assert len(got) == 1 and (got[0].start, got[0].end) == (0.0, pytest.approx(0.8))
    assert got[0].frames[:, 0, 0, 0].tolist() == [1, 3, 5, 7]


@pytest.mark.parametrize("window, stride", [(0, 1), (1, -1), ("2", 1)])
def test_bad_windows(window, stride):
    with pytest.raises(ValueError, match="window_s|stride_s"):
        list(windows(_frames(3), 4, window, stride))


def test_video_frames_stream_in_time_order(tmp_path):
    path = write_video(tmp_path / "clip.mp4", seconds=2)
    frames = list(timed_frames(path, (16, 16)))
    assert len(frames) == 2 * FPS
    assert frames[0].start == 0.0 and frames[-1].end == pytest.approx(2.0, abs=0.02)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(frames, frames[1:]))
    assert frames[0].frame.shape == (16, 16, 3)


def test_cut_video_keeps_the_windows_before_the_damage(model_file, tmp_path, caplog):
    from kavan_tf.predict import load_predictor

    path = write_video(tmp_path / "clip.mp4", seconds=6)
    data = open(path, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    stops = []
    frames = list(timed_frames(str(cut), (8, 8), on_stop=stops.append))
    assert 0 < len(frames) < 6 * FPS  # some frames, not all
    assert len(stops) == 1 and f"stopped at {frames[-1].end:.2f} s" in stops[0]
    with caplog.at_level("WARNING"):
        rows = list(predict_timeline(load_predictor(model_file), str(cut), window_s=2.0,
                                     stride_s=1.0))
    assert 1 <= len(rows) < 5 and rows[-1]["end"] <= frames[-1].end + 1e-6
    assert "cut.mp4: decoding stopped at" in caplog.text


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from kavan_tf.models import KavanModel

    path = tmp_path_factory.mktemp("model") / "model.keras"
    KavanModel(tiny_model_config()).save(path)
    return str(path)


def test_predict_timeline_rows(model_file, tmp_path):
    from kavan_tf.predict import load_predictor

    predictor = load_predictor(model_file)
    path = write_video(tmp_path / "clip.mp4", seconds=5)
    rows = list(predict_timeline(predictor, path, window_s=2.0, stride_s=1.0, batch_size=3))
    assert [(r["start"], r["end"]) for r in rows] == [(0, 2), (1, 3), (2, 4), (3, 5)]
    categories = [k for k in rows[0] if k.startswith("p_")]
    assert len(categories) == 4
    for row in rows:
        assert row["file"] == path
        assert sum(row[k] for k in categories) == pytest.approx(1.0, abs=1e-5)
        assert all(-1.0 <= row[e] <= 1.0 for e in predictor.emotions)
        assert -1.0 <= row["valence"] <= 1.0 and -1.0 <= row["arousal"] <= 1.0
    # A window's row is what the model gives its frames alone (batching changes nothing).
    alone = list(predict_timeline(predictor, path, window_s=2.0, stride_s=1.0, batch_size=1))
    for a, b in zip(rows, alone, strict=True):
        for key in categories + list(predictor.emotions) + ["valence", "arousal"]:
            assert a[key] == pytest.approx(b[key], abs=1e-5)


def test_kavan_predict_timeline_csv_jsonl_and_report(model_file, tmp_path):
    video = write_video(tmp_path / "clip.mp4", seconds=4)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    out, report = tmp_path / "out.jsonl", tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "kavan_tf.cli", "predict", video, "--model", model_file,
         "--timeline", str(out), "--window", "2", "--stride", "1", "--report", str(report)],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_timeline(str(out))
    assert [(r["start"], r["end"]) for r in rows] == [(0, 2), (1, 3), (2, 4)]
    assert "<svg" in report.read_text() and "clip.mp4" in report.read_text()
    # CSV holds the same rows (TimelineWriter picks the format by the name).
    with TimelineWriter(str(tmp_path / "out.csv")) as csv_out:
        for row in rows:
            csv_out.write(row)
    again = read_timeline(str(tmp_path / "out.csv"))
    assert [set(r) for r in again] == [set(r) for r in rows]
    for a, b in zip(again, rows, strict=True):
        assert a["category"] == b["category"] and a["start"] == b["start"]
        assert a["valence"] == pytest.approx(b["valence"])
    bad = subprocess.run(
        [sys.executable, "-m", "kavan_tf.cli", "predict", video, "--model", model_file,
         "--timeline", str(tmp_path / "t.csv"), "--window", "0"],
        capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode != 0 and "--window" in bad.stderr


def test_long_gif_timeline(tmp_path):
    from PIL import Image

    # 30 frames of 100 ms = 3 s; windows of 1 s every 1 s: 3 windows, T = 4 samples each.
    images = [Image.new("RGB", (8, 8), (k * 8, 0, 0)) for k in range(30)]
    path = tmp_path / "long.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    got = list(windows(timed_frames(str(path), (8, 8)), num_frames=4, window_s=1.0,
                       stride_s=1.0))
    assert [(w.start, w.end) for w in got] == [(0, 1), (1, 2), (2, 3)]
    # Instants 0.125, 0.375, 0.625, 0.875 s of each window: frames 1, 3, 6, 8 (+ 10 s).
    for index, window in enumerate(got):
        red = window.frames[:, 0, 0, 0].astype(int)
        assert (red // 8).tolist() == [10 * index + k for k in (1, 3, 6, 8)]
