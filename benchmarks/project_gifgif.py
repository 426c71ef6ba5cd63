"""Disk and time of the GIFGIF recipe (docs/gifgif.md), projected from a measured run.

Usage:

    python benchmarks/project_gifgif.py [--testdata DIR] [--gifs 8]
        [--frames 24] [--manifest gifgif/manifest.csv | --frames-per-gif 40]
        [--backbone resnet50]

Runs the recipe's data steps on the real-face test GIFs (the annotated
photos of the corpora's ``faces/``, ``--testdata`` defaulting to the ``KAVAN_TESTDATA``
setting of ``tests/corpora.py``, animated by ``kavan_tf.keypoints.face_gifs`` at
240-480 px wide), with the paper's model input (224 x 224, T = 8 segments,
ResNet-50 features with ``weights=None``: the same shapes and time as
ImageNet weights):

1. ``kavan keypoints`` (MTCNN, all cores): bytes per frame of the keypoint
   files, frames/s (from the difference of a 2-GIF and a full run, so that
   the pool's start-up, paid once, does not count);
2. ``kavan prepare``: bytes per frame of the JPEG frame shards, GIFs/s;
3. ``kavan prepare --features`` (K = 3 frames per segment): bytes per GIF of
   the feature cache, GIFs/s of the backbone on this machine's CPU.

Then each is scaled to GIFGIF: 6,170 GIFs (the paper's dataset) at the
frames per GIF counted in ``--manifest``'s GIFs, or an assumed
``--frames-per-gif`` (printed as an assumption) when the real GIFs are not at
hand. Feature bytes do not depend on the frame count (T x K frames per GIF).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting
from face_helpers import face_gif_items, write_face_gifs, write_manifest_csv  # noqa: E402

from kavan_tf.config import KavanConfig  # noqa: E402
from kavan_tf.data.keypoint_extraction import extract_keypoints  # noqa: E402
from kavan_tf.data.manifest import read_manifest  # noqa: E402
from kavan_tf.data.prepare import prepare  # noqa: E402
from kavan_tf.training.feature_cache import write_feature_cache  # noqa: E402

GIFGIF_GIFS = 6170


def size_of(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--testdata", type=pathlib.Path,
                        help="the corpora folder (default: the KAVAN_TESTDATA setting)")
    parser.add_argument("--gifs", type=int, default=8)
    parser.add_argument("--frames", type=int, default=24, help="frames per test GIF")
    parser.add_argument("--manifest", help="count frames per GIF in this manifest's GIFs")
    parser.add_argument("--frames-per-gif", type=float, default=40.0)
    parser.add_argument("--backbone", default="resnet50")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="project-gifgif-"))
    items = face_gif_items(args.testdata or require_testdata(), dlib_images=max(0, args.gifs - 4))
    truth = write_face_gifs(work / "gifs", items[: args.gifs], num_frames=args.frames)
    manifest = write_manifest_csv(work / "manifest.csv", list(truth))
    frames = len(truth) * args.frames

    # Rate from the difference of two runs (2 GIFs, then all), so that the
    # pool's start-up, paid once per dataset, does not count.
    small = write_manifest_csv(work / "small.csv", list(truth)[:2])
    start = time.perf_counter()
    extract_keypoints(read_manifest(small), str(work / "keypoints-small"), "mtcnn",
                      progress=False)
    small_seconds = time.perf_counter() - start
    start = time.perf_counter()
    extract_keypoints(read_manifest(manifest), str(work / "keypoints"), "mtcnn", progress=False)
    keypoint_seconds = (time.perf_counter() - start - small_seconds) * frames / (
        frames - 2 * args.frames)
    keypoint_bytes = size_of((work / "keypoints").glob("*.json.gz")) / frames

    config = KavanConfig.from_dict({"model": {"backbone": args.backbone,
                                              "backbone_weights": None}})
    rows = read_manifest(work / "keypoints" / "manifest.csv", config.labels)
    shards = work / "shards"
    start = time.perf_counter()
    prepare(rows, str(shards), config, progress=False)
    prepare_seconds = time.perf_counter() - start
    shard_bytes = size_of(shards.glob("frames-*.tfrecord")) / frames
    start = time.perf_counter()
    write_feature_cache(str(shards), config, progress=False)
    feature_seconds = time.perf_counter() - start
    feature_bytes = size_of(shards.glob("features-*.tfrecord")) / len(truth)

    if args.manifest:
        counts = []
        for path in read_manifest(args.manifest)["path"]:
            with Image.open(path) as image:
                counts.append(image.n_frames)
        per_gif, where = float(np.mean(counts)), f"mean of {len(counts)} GIFs of {args.manifest}"
    else:
        per_gif, where = args.frames_per_gif, "ASSUMED (--frames-per-gif)"
    total_frames = GIFGIF_GIFS * per_gif
    scale_frames = total_frames / frames
    scale_gifs = GIFGIF_GIFS / len(truth)
    T = config.model.num_frames
    K = config.data.feature_frames_per_segment
    print(f"measured on {len(truth)} face GIFs x {args.frames} frames (240-480 px); "
          f"backbone {args.backbone}, T = {T}, K = {K}")
    print(f"GIFGIF: {GIFGIF_GIFS} GIFs x {per_gif:.1f} frames ({where}) = "
          f"{total_frames:,.0f} frames")
    print()
    print("| step | measured | GIFGIF disk | GIFGIF time on this machine |")
    print("|---|---|---|---|")
    print(f"| kavan keypoints (mtcnn) | {keypoint_bytes / 1e3:.1f} kB/frame, "
          f"{frames / keypoint_seconds:.1f} frames/s | {keypoint_bytes * total_frames / 1e9:.2f} GB"
          f" | {keypoint_seconds * scale_frames / 3600:.1f} h |")
    print(f"| kavan prepare (JPEG frames, 224 x 224) | {shard_bytes / 1e3:.1f} kB/frame, "
          f"{len(truth) * args.frames / prepare_seconds:.1f} frames/s "
          f"| {shard_bytes * total_frames / 1e9:.1f} GB "
          f"| {prepare_seconds * scale_frames / 3600:.1f} h |")
    print(f"| kavan prepare --features ({args.backbone}, float16) | "
          f"{feature_bytes / 1e6:.2f} MB/GIF, {len(truth) / feature_seconds:.2f} GIFs/s "
          f"| {feature_bytes * GIFGIF_GIFS / 1e9:.1f} GB "
          f"| {feature_seconds * scale_gifs / 3600:.1f} h (this CPU) |")


if __name__ == "__main__":
    main()
