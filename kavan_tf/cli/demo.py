"""``kavan demo``: the whole pipeline on built-in synthetic GIFs."""

from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="the whole pipeline on built-in synthetic GIFs")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.demo import run_demo

    run_demo(args.out, quick=args.quick)
    return 0
