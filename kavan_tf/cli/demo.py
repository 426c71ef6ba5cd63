"""``kavan demo``: the whole pipeline on built-in synthetic GIFs."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="the whole pipeline on built-in synthetic GIFs")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    # Both here, not at the top: keeps TensorFlow out of kavan --help.
    from kavan_tf.experiments.demo import run_demo, summary_table
    from kavan_tf.predict import format_table

    outputs = run_demo(args.out, quick=args.quick, on_progress=lambda line: print(line, flush=True))
    if "predictions" in outputs:
        print(format_table(outputs["predictions"]), end="")
    print(summary_table(outputs["rows"]))
    print(f"Done in {outputs['seconds']:.0f} s. Outputs in {args.out}/")
    if "saved_model" in outputs:
        print(f"SavedModel: {outputs['saved_model']}  (try: kavan predict some.gif --model "
              f"{os.path.dirname(outputs['saved_model'])} --report report.html)")
        print(f"Overlays: {outputs['overlays']}/  Report: {outputs['report']}")
    return int(outputs.get("predict_status", 0))
