"""``kavan tune``: search loss weights and learning rate (Keras Tuner)."""

from __future__ import annotations

import argparse

from kavan_tf.cli.common import add_set_argument, load_config, read_rows


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("tune", help="search loss weights and learning rate (Keras Tuner)")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    add_set_argument(p)
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=None, help="default: train.epochs")
    p.add_argument("--objective", default="nmse", help="nmse, accuracy or a val_* metric name")
    p.add_argument("--algorithm", choices=["random", "bayesian"], default="random")
    p.add_argument(
        "--executions", type=int, default=1, help="training runs (seeds) averaged per trial"
    )
    p.add_argument("--train-split", default="train", help="train on rows of this split")
    p.add_argument("--val-split", default="test", help="validate on rows of this split")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="validate on this random share of the training rows instead "
        "(0.2 when the manifest has no split column)",
    )
    p.add_argument("--overwrite", action="store_true", help="restart instead of resuming")
    p.add_argument("--fit-verbose", type=int, default=2, help="model.fit verbosity")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from kavan_tf.experiments.tuning import (  # keeps TensorFlow out of kavan --help
        holdout_split,
        resolve_objective,
        results_markdown,
        run_tuning,
    )
    from kavan_tf.training.trainer import split_frame  # keeps TensorFlow out of kavan --help

    objective = resolve_objective(args.objective)
    config = load_config(args.config, args.set)
    rows = read_rows(config, args.manifest)
    has_splits = "split" in rows.columns
    if has_splits and args.val_fraction is None:
        train_rows = split_frame(rows, args.train_split, args.manifest)
        val_rows = split_frame(rows, args.val_split, args.manifest)
    else:
        # No split column, or an explicit hold-out: validate on a seeded random
        # share of the training rows, so that a test split stays unseen.
        pool = split_frame(rows, args.train_split, args.manifest) if has_splits else rows
        fraction = 0.2 if args.val_fraction is None else args.val_fraction
        train_rows, val_rows = holdout_split(pool, fraction, config.train.seed)
    table = run_tuning(
        config,
        train_rows,
        val_rows,
        args.out,
        objective=objective,
        max_trials=args.trials,
        epochs=args.epochs,
        algorithm=args.algorithm,
        executions_per_trial=args.executions,
        overwrite=args.overwrite,
        verbose=args.fit_verbose,
    )
    print(results_markdown(table, objective))
    print(f"Results written to {args.out}/tuning_results.md and tuning_results.csv")
    return 0
