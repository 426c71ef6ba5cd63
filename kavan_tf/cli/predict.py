"""``kavan predict``: emotions of GIF (WebP, APNG, MP4, WebM) files."""

from __future__ import annotations

import argparse
import sys

from kavan_tf.cli.common import require_path
from kavan_tf.config import PredictConfig
from kavan_tf.model_card import read_card, synthetic_warning


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="emotions of GIF (WebP, APNG, MP4, WebM) files")
    p.add_argument("inputs", nargs="+",
                   help="GIF, WebP, APNG, MP4 or WebM files, or folders of them (video needs "
                        "the video extra: pip install 'kavan_tf[video]')")
    p.add_argument("--model", required=True, help="a SavedModel folder or a .keras file")
    p.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
    p.add_argument("--output", help="write to this file instead of stdout")
    p.add_argument("--overlay", metavar="DIR",
                   help="write attention overlays (animated GIFs at the file's own size, at "
                        "most 480 px, with the top emotions) here")
    p.add_argument("--report", metavar="FILE.html",
                   help="write one self-contained HTML page: originals, overlays, intensity "
                        "bars, sortable by emotion")
    p.add_argument("--keypoints", metavar="PATH",
                   help="with --overlay/--report: show the supervision heatmaps of these "
                        "keypoints beside the attention (a folder from `kavan keypoints`, "
                        "its manifest.csv, or one keypoint file)")
    p.add_argument("--top-k", type=int, default=PredictConfig.top_k,
                   help="emotions listed per file")
    p.add_argument("--batch-size", type=int, default=PredictConfig.batch_size,
                   help="files per model call")
    p.add_argument("--decoder", choices=["graph", "python"], default="graph",
                   help="SavedModels: decode in the graph (as TF Serving does) or with the "
                        "reference Python decoder")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    require_path(args.model, "model (a SavedModel folder or a .keras file)")
    for path in args.inputs:
        require_path(path, "input (a GIF, WebP, PNG or video file, or a folder of them)")
    if args.keypoints is not None:
        require_path(args.keypoints, "keypoints (a keypoint file, a folder of them or a "
                                      "manifest)")
        if args.overlay is None and args.report is None:
            raise ValueError("--keypoints: draws supervision heatmaps on the overlays; "
                             "give --overlay DIR or --report FILE as well")
    if args.report is not None and not args.report.lower().endswith((".html", ".htm")):
        raise ValueError(f"--report: {args.report}: the report is an HTML page; "
                         "name it <something>.html")
    warning = synthetic_warning(read_card(args.model), args.model)
    if warning:
        print(f"kavan predict: {warning}", file=sys.stderr)
    from kavan_tf.predict import (  # keeps TensorFlow out of kavan --help
        draw_results,
        load_predictor,
        predict_paths,
        write_results,
    )

    predictor = load_predictor(args.model, decoder=args.decoder)
    drawn = args.overlay is not None or args.report is not None
    results = predict_paths(predictor, args.inputs, batch_size=args.batch_size, top_k=args.top_k,
                            keep_frames=drawn)
    write_results(results, args.format, args.output if args.output is not None else sys.stdout)
    if drawn:
        files = draw_results(results, args.overlay, args.report, args.keypoints, note=warning)
        if args.keypoints is not None:
            print(f"Supervision heatmaps for {files.heatmaps} of {len(results)} file(s)",
                  file=sys.stderr)
        if args.overlay is not None:
            print(f"Wrote {len(files.overlays)} attention overlay(s) to {args.overlay}",
                  file=sys.stderr)
        if files.report is not None:
            print(f"Wrote the report to {files.report}", file=sys.stderr)
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{failed} of {len(results)} file(s) could not be predicted", file=sys.stderr)
    if not results:
        print("No GIF, WebP, PNG or video files found", file=sys.stderr)
        return 1
    return 1 if failed else 0
