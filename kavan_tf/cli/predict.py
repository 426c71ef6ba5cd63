"""``kavan predict``: emotions of GIF (WebP, APNG, MP4, WebM) files."""

from __future__ import annotations

import argparse
import os
import sys

from tqdm import tqdm

from kavan_tf.cli.common import require_path
from kavan_tf.config import PredictConfig
from kavan_tf.errors import MediaDecodeError
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
    p.add_argument("--timeline", metavar="OUT.csv",
                   help="predict every window of --window seconds, every --stride seconds, "
                        "of each file (long videos, GIFs, WebPs, APNGs) and write one row per "
                        "window here (CSV, or JSONL for a .jsonl name); with --report, the "
                        "page draws each file's timeline")
    p.add_argument("--window", type=float, default=PredictConfig.timeline_window_s,
                   metavar="SECONDS", help="timeline window length")
    p.add_argument("--stride", type=float, default=PredictConfig.timeline_stride_s,
                   metavar="SECONDS", help="seconds between timeline windows")
    p.add_argument("--decoder", choices=["python", "graph"], default="python",
                   help="SavedModels: decode GIFs with the reference decoder (default: starts "
                        "faster, less memory) or send their bytes to the graph's decoder, as "
                        "TF Serving clients do (the same frames; more GIFs/s on many files)")
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
    if args.timeline is not None:
        for name in ("window", "stride"):
            if not getattr(args, name) > 0:
                raise ValueError(f"--{name}: must be a positive number of seconds. "
                                 f"Received: {getattr(args, name)}")
        if args.overlay is not None or args.keypoints is not None:
            raise ValueError("--timeline: draws no overlays; leave out --overlay and --keypoints")
        if not args.timeline.lower().endswith((".csv", ".jsonl")):
            raise ValueError(f"--timeline: {args.timeline}: name it <something>.csv or "
                             "<something>.jsonl")
    warning = synthetic_warning(read_card(args.model), args.model)
    if warning:
        print(f"kavan predict: {warning}", file=sys.stderr)
    from kavan_tf.predict import (  # keeps TensorFlow out of kavan --help
        Drawing,
        iter_predictions,
        load_predictor,
        write_results,
    )

    predictor = load_predictor(args.model, decoder=args.decoder)
    if args.timeline is not None:
        return run_timeline(args, predictor, warning)
    drawn = args.overlay is not None or args.report is not None
    predictions = iter_predictions(predictor, args.inputs, batch_size=args.batch_size,
                                   top_k=args.top_k, keep_frames=drawn)
    output = sys.stdout if args.output is None else args.output
    if not drawn:
        results = list(predictions)
        write_results(results, args.format, output)
    else:
        # Each batch is drawn as it comes and only the small results are
        # kept, so memory does not grow with the number of files.
        with Drawing(args.overlay, args.report, args.keypoints, note=warning) as drawing:
            results = [drawing.add(result) for result in predictions]
            write_results(results, args.format, output)
            files = drawing.close()
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


def run_timeline(args: argparse.Namespace, predictor, warning: str | None) -> int:
    """``kavan predict --timeline``: rows per window, written as they come."""
    # kavan_tf.predict imports TensorFlow: kept out of kavan --help.
    from kavan_tf.predict import expand_paths
    from kavan_tf.predict.timeline import TimelineWriter, predict_timeline
    from kavan_tf.predict.timeline_report import write_timeline_report

    paths = expand_paths(args.inputs)
    if not paths:
        print("No GIF, WebP, PNG or video files found", file=sys.stderr)
        return 1
    rows_by_file: dict[str, list[dict]] = {}
    failed = 0
    with TimelineWriter(args.timeline) as out, tqdm(
            unit="s", unit_scale=False, bar_format="{desc} {n:.1f} s of video [{elapsed}, "
            "{rate_fmt}]", file=sys.stderr, disable=None) as bar:
        for path in paths:
            bar.set_description(os.path.basename(path))
            seen = {"time": 0.0}

            def advance(time: float, seen=seen) -> None:
                bar.update(max(0.0, time - seen["time"]))
                seen["time"] = max(seen["time"], time)

            try:
                for row in predict_timeline(predictor, path, window_s=args.window,
                                            stride_s=args.stride, batch_size=args.batch_size,
                                            on_frames=advance):
                    out.write(row)
                    if args.report is not None:
                        rows_by_file.setdefault(path, []).append(row)
            except (MediaDecodeError, OSError) as e:
                failed += 1
                bar.write(f"kavan predict: {e}", file=sys.stderr)
    print(f"Wrote the timeline of {len(paths) - failed} file(s) to {args.timeline}",
          file=sys.stderr)
    if args.report is not None:
        write_timeline_report(rows_by_file, args.report, note=warning)
        print(f"Wrote the report to {args.report}", file=sys.stderr)
    if failed:
        print(f"{failed} of {len(paths)} file(s) could not be predicted", file=sys.stderr)
    return 1 if failed else 0
