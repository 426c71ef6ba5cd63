"""Timelines on long video: windows/s, video seconds per wall second, and flat memory.

Writes MP4s of 1 and 10 minutes (64 x 64, 10 fps, made here), then runs
``predict_timeline`` on each in a fresh process with the demo-size model
(small backbone, 112 x 112, T = 8, hidden 128; random weights: speed and
memory do not depend on them) and prints one table. Goal: the 10-minute
video's peak RSS at most 1.3x the 1-minute video's.

    python benchmarks/bench_timeline.py [--minutes 1 10] [--window 3] [--stride 1]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

FPS, SIZE = 10, 64


def write_video(path: str, seconds: float) -> None:
    import av

    with av.open(path, mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        rng = np.random.default_rng(0)
        for k in range(int(seconds * FPS)):
            image = np.full((SIZE, SIZE, 3), (k * 3) % 256, np.uint8)
            image[rng.integers(0, SIZE), :] = 255  # some motion
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def measure(model: str, video: str, window: float, stride: float) -> dict:
    """Runs in a fresh process: windows, seconds, peak RSS."""
    import resource

    from kavan_tf.predict import load_predictor
    from kavan_tf.predict.timeline import predict_timeline

    predictor = load_predictor(model)
    list(predict_timeline(predictor, video, window_s=window, stride_s=stride))  # warm-up pass
    began = time.perf_counter()
    rows = 0
    end = 0.0
    for row in predict_timeline(predictor, video, window_s=window, stride_s=stride):
        rows, end = rows + 1, row["end"]
    seconds = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"windows": rows, "video_s": end, "wall_s": seconds, "peak_mb": peak_kb / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--stride", type=float, default=1.0)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # model, video
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure, args.window, args.stride)))
        return
    from kavan_tf.config import ModelConfig
    from kavan_tf.models import KavanModel

    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, "model.keras")
        KavanModel(ModelConfig(backbone="small", backbone_weights=None, image_size=(112, 112),
                               hidden_size=128)).save(model)
        results = {}
        for minutes in args.minutes:
            video = os.path.join(folder, f"{minutes:g}min.mp4")
            write_video(video, minutes * 60)
            out = subprocess.run(
                [sys.executable, str(pathlib.Path(__file__).resolve()), "--measure", model, video,
                 "--window", str(args.window), "--stride", str(args.stride)],
                capture_output=True, text=True, check=True,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            results[minutes] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"| video (64 x 64, {FPS} fps; window {args.window:g} s, stride {args.stride:g} s) "
          "| windows | windows/s | video s per wall s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for minutes, r in results.items():
        print(f"| {minutes:g} min | {r['windows']} | {r['windows'] / r['wall_s']:.1f} "
              f"| {r['video_s'] / r['wall_s']:.1f} | {r['peak_mb']:.0f} |")
    first, last = results[args.minutes[0]], results[args.minutes[-1]]
    print(f"| peak RSS, {args.minutes[-1]:g} min / {args.minutes[0]:g} min "
          f"| {last['peak_mb'] / first['peak_mb']:.2f}x | | | goal <= 1.3x |")


if __name__ == "__main__":
    main()
