"""``kavan evaluate``: the paper's protocol: 5 splits x ablation rows."""

from __future__ import annotations

import argparse

from kavan_tf.cli.common import add_jobs_argument, add_set_argument, load_config, read_rows


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="the paper's protocol: 5 splits x ablation rows")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    add_set_argument(p)
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--rows", nargs="*", help="ablation rows (default: all five)")
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument(
        "--baselines", nargs="*", default=[], choices=["color_histogram", "face_expression"]
    )
    add_jobs_argument(p)
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="train every run again instead of reusing the finished runs in --out")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from kavan_tf.training.evaluation import (  # keeps TensorFlow out of kavan --help
        format_result,
        results_markdown,
        run_protocol,
        summarise,
    )

    config = load_config(args.config, args.set)
    rows = read_rows(config, args.manifest)
    frame = run_protocol(
        config,
        rows,
        args.out,
        ablation_rows=args.rows,
        num_splits=args.splits,
        test_fraction=args.test_fraction,
        baselines=args.baselines,
        verbose=args.verbose,
        jobs=args.jobs,
        resume=args.resume,
        on_result=lambda result: print(format_result(result), flush=True),
    )
    print(results_markdown(summarise(frame), config))
    print(f"Results written to {args.out}/results.md and results.csv")
    return 0
