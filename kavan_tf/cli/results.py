"""``kavan results``: reproduce docs/results.md (synthetic benchmark)."""

from __future__ import annotations

import argparse

from kavan_tf.cli.common import add_jobs_argument


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("results", help="reproduce docs/results.md (synthetic benchmark)")
    p.add_argument("--out", default="runs/results", help="runs and raw CSVs")
    p.add_argument("--doc", default="docs/results.md", help="the page to write")
    p.add_argument("--num-gifs", type=int, default=None,
                   help="GIFs per benchmark (default: 640 for end, 1280 for segment)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3, help="training seeds per split and row")
    p.add_argument("--benchmarks", nargs="*", default=["end", "segment"],
                   choices=["end", "segment", "change"],
                   help="synthetic label modes to run the ablation on (none: skip it)")
    p.add_argument("--sigma-votes", nargs="*", type=float, default=[3.0, 12.0],
                   help="vote budgets of the sigma-weighting experiment (none: skip it)")
    p.add_argument("--vote-budgets", nargs="*", type=float, default=[],
                   help="vote budgets of the vote-training experiment (regression vs the "
                   "vote loss vs both, seeds x splits; default: skip it; e.g. 3 12)")
    p.add_argument("--hs-readings", nargs="*", default=[], choices=["node"],
                   help="other readings of HS-LSTM's tier 1 (model.hs_tier1, docs/model.md) "
                   "whose HS-LSTM rows run on every benchmark beside the default's "
                   "(default: none; the plain LSTM rows are shared)")
    p.add_argument("--readings-on", nargs="+", default=None,
                   choices=["end", "segment", "change"],
                   help="the benchmarks --hs-readings run on (default: all of --benchmarks)")
    add_jobs_argument(p)
    p.add_argument("--no-attention", dest="attention", action="store_false",
                   help="skip the attention-on-faces runs")

    p.set_defaults(func=run)
    return p


def _results_command(args: argparse.Namespace) -> str:
    """The ``kavan results`` command line of ``args``, written on the page it makes."""
    words = ["kavan results",
             *([f"--num-gifs {args.num_gifs}"] if args.num_gifs else []), f"--epochs {args.epochs}",
             f"--splits {args.splits}", f"--seeds {args.seeds}",
             " ".join(["--benchmarks", *args.benchmarks]),
             " ".join(["--sigma-votes", *(f"{v:g}" for v in args.sigma_votes)])]
    if args.vote_budgets:
        words.append(" ".join(["--vote-budgets", *(f"{v:g}" for v in args.vote_budgets)]))
    if args.hs_readings:
        words.append(" ".join(["--hs-readings", *args.hs_readings]))
        if args.readings_on:
            words.append(" ".join(["--readings-on", *args.readings_on]))
    if not args.attention:
        words.append("--no-attention")
    if args.jobs != 1:
        words.append(f"--jobs {args.jobs}")
    if args.doc != "docs/results.md":
        words.append(f"--doc {args.doc}")
    return " ".join(words)


def run(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.results import run_results  # keeps TensorFlow out of kavan --help

    out = run_results(args.out, args.doc, num_gifs=args.num_gifs, epochs=args.epochs,
                      num_splits=args.splits, seeds=args.seeds,
                      benchmarks=tuple(args.benchmarks), sigma_votes=tuple(args.sigma_votes),
                      vote_budgets=tuple(args.vote_budgets), hs_readings=tuple(args.hs_readings),
                      readings_on=tuple(args.readings_on) if args.readings_on else None,
                      attention=args.attention, jobs=args.jobs, command=_results_command(args),
                      on_progress=lambda line: print(line, flush=True))
    for mode, table in out["tables"].items():
        print(f"## {mode}\n{table}")
        print(out["claims"][mode].to_string(index=False))
    if args.doc:
        print(f"Wrote {args.doc} ({out['seconds'] / 60:.0f} minutes)")
    return 0
