"""``kavan keypoints``: facial keypoints for every frame of a manifest's GIFs."""

from __future__ import annotations

import argparse
import os

from kavan_tf.cli.common import (
    add_set_argument,
    add_task_arguments,
    check_task,
    load_config,
    read_rows,
)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("keypoints", help="facial keypoints for every frame of a manifest's GIFs")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    p.add_argument("--out", required=True, help="folder for the keypoint files and the new "
                   "manifest (OUT/manifest.csv)")
    p.add_argument("--source", default="mtcnn",
                   help="mtcnn (default: finds the most faces), dlib (HOG: about 2x faster, "
                        "frontal faces), dlib-cnn (slow on a CPU), or openpose:DIR (import "
                        "OpenPose JSON output); docs/data.md compares them")
    p.add_argument("--upsample", type=int, default=1,
                   help="dlib detectors: double the frame this many times before searching "
                        "(default 1: faces down to about 40 px)")
    p.add_argument("--min-face-size", type=int, default=20, help="smallest face in pixels")
    p.add_argument("--max-faces", type=int, default=None, help="faces kept per frame")
    p.add_argument("--max-gap", type=int, default=3,
                   help="fill runs of up to this many frames without a face from their "
                        "neighbours (0: off)")
    p.add_argument("--fill-confidence", type=float, default=0.5,
                   help="confidence factor of filled frames")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--manifest-out", help="the new manifest (default: OUT/manifest.csv)")
    p.add_argument("--in-place", action="store_true",
                   help="allow --manifest-out to be the input manifest")
    p.add_argument("--config", help="experiment config (decode limits, labels)")
    add_set_argument(p)
    add_task_arguments(p)

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from kavan_tf.data.keypoint_extraction import (  # keeps pandas out of kavan --help
        MANIFEST_FILE,
        extract_keypoints,
        parse_source,
    )

    parse_source(args.source)
    check_task(args)
    manifest_out = args.manifest_out or os.path.join(args.out, MANIFEST_FILE)
    if os.path.abspath(manifest_out) == os.path.abspath(args.manifest) and not args.in_place:
        raise ValueError(
            f"--manifest-out {manifest_out} is the input manifest; pass --in-place to "
            "overwrite it"
        )
    config = load_config(args.config, args.set)
    rows = read_rows(config, args.manifest)
    options = {"upsample": args.upsample, "min_face_size": args.min_face_size,
               "max_faces": args.max_faces}
    report = extract_keypoints(
        rows, args.out, args.source,
        estimator_options=options if not args.source.startswith("openpose:") else None,
        max_gap=args.max_gap, fill_confidence=args.fill_confidence,
        data=config.data, labels=config.labels, workers=args.workers,
        task_index=args.task_index, num_tasks=args.num_tasks,
        manifest_out=manifest_out, progress=True,
    )
    print(report.summary())
    if os.path.exists(manifest_out) and args.num_tasks == 1:
        print(f"Manifest with keypoints: {manifest_out}")
    elif args.num_tasks > 1:
        print(f"Task {args.task_index} of {args.num_tasks} done; the last task to finish "
              f"writes {manifest_out}")
    return 1 if report.failures else 0
