"""The tuning run behind the ``LossConfig`` defaults (``docs/tuning.md``).

Generates the demo's synthetic data (:class:`kavan_tf.experiments.demo.DemoSettings`:
64 x 64 frames, large faces, ``label_mode="end"``; 400 GIFs), takes the
demo's model (:func:`kavan_tf.experiments.demo.demo_config`: small backbone, full MTL
Soft-Att + HS-LSTM, T = 8, hidden size 64, batch 16), holds out a seeded
20 % of the ``train`` split for validation (the ``test`` split is not used)
and searches ``w_c``, ``w_rank``, ``w_kp`` and the learning rate with
:func:`kavan_tf.experiments.tuning.run_tuning`.

Each trial's score is its best-epoch validation nMSE averaged over
``--executions`` seeds. With ``--check-seeds N`` it then retrains the best
trial's values and the current ``LossConfig`` defaults (at the demo's
learning rate) with ``N`` further seeds, which the search did not see, and
prints each one's best validation nMSE; ``--check-only`` skips the search and
reads the best trial from an earlier run's ``tuning_results.csv``.

Usage::

    python benchmarks/tune_synthetic.py [--out runs/tune_synthetic] [--trials 8]
        [--executions 2] [--epochs 5] [--objective nmse] [--algorithm bayesian]
        [--num-gifs 400] [--check-seeds 2] [--check-only]
        [--check-first-seed S] [--check-values both|best|defaults]
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import keras_tuner
import numpy as np
import pandas as pd

from kavan_tf.config import KavanConfig, LossConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.experiments.demo import DemoSettings, demo_config
from kavan_tf.experiments.tuning import (
    RESULTS_CSV,
    KavanHyperModel,
    holdout_split,
    resolve_objective,
    results_markdown,
    run_tuning,
)
from kavan_tf.synthetic import generate_dataset
from kavan_tf.training.trainer import configure_run, split_frame, with_overrides

SEARCHED = ("w_c", "w_rank", "w_kp", "learning_rate")


def best_val_nmse(
    config: KavanConfig,
    values: dict[str, float],
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    epochs: int,
    seed: int,
) -> float:
    """Best-epoch validation nMSE of one training run with fixed hyperparameters."""
    config = with_overrides(config, train={"seed": seed})
    configure_run(config)
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, float(value))
    hypermodel = KavanHyperModel(config)
    model = hypermodel.build(hp)
    history = hypermodel.fit(
        hp, model, train_rows, validation_data=val_rows, epochs=epochs, verbose=0
    )
    return float(np.min(history.history["val_intensities_nmse"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/tune_synthetic")
    parser.add_argument("--num-gifs", type=int, default=400)
    parser.add_argument("--frame-size", type=int, default=64)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--executions", type=int, default=2, help="seeds averaged per trial")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--objective", default="nmse")
    parser.add_argument("--algorithm", choices=["random", "bayesian"], default="bayesian")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-seeds", type=int, default=0)
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument(
        "--check-first-seed",
        type=int,
        default=None,
        help="first seed of the check (default: the first one the search did not use)",
    )
    parser.add_argument(
        "--check-values",
        choices=["both", "best", "defaults"],
        default="both",
        help="which values the check retrains",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    began = time.perf_counter()
    settings = DemoSettings().with_overrides(
        synthetic={"num_gifs": args.num_gifs, "frame_size": (args.frame_size, args.frame_size),
                   "seed": args.seed},
        train={"epochs": args.epochs, "seed": args.seed},
    )
    manifest = generate_dataset(os.path.join(args.out, "data"), settings.synthetic)
    config = demo_config(settings, os.path.join(args.out, "run"))
    rows = read_manifest(manifest, config.labels)
    train_rows, val_rows = holdout_split(
        split_frame(rows, "train"), args.val_fraction, config.train.seed
    )
    objective = resolve_objective(args.objective)
    tuning_dir = os.path.join(args.out, "tuning")
    if args.check_only:
        table = pd.read_csv(os.path.join(tuning_dir, RESULTS_CSV), dtype={"trial_id": str})
    else:
        table = run_tuning(
            config,
            train_rows,
            val_rows,
            tuning_dir,
            objective=objective,
            max_trials=args.trials,
            epochs=args.epochs,
            algorithm=args.algorithm,
            executions_per_trial=args.executions,
            overwrite=True,
            verbose=2,
        )
        print(
            f"{len(train_rows)} training / {len(val_rows)} validation GIFs, "
            f"{args.trials} trials x {args.executions} seeds x {args.epochs} epochs, "
            f"{time.perf_counter() - began:.0f} s"
        )
    print(results_markdown(table, objective))

    if args.check_seeds:
        candidates = {
            "best trial": {name: float(table.iloc[0][name]) for name in SEARCHED},
            "defaults (LossConfig)": {
                **{n: getattr(LossConfig(), n) for n in ("w_c", "w_rank", "w_kp")},
                "learning_rate": config.train.learning_rate,
            },
        }
        # By default seeds the search did not use: the best trial's own score
        # is biased by the selection.
        first = args.check_first_seed
        if first is None:
            first = args.seed + args.executions
        seeds = range(first, first + args.check_seeds)
        print(f"Retrained with seeds {list(seeds)}:")
        print("| values | " + " | ".join(SEARCHED) + " | best val nMSE per seed | mean |")
        print("|---|" + "---|" * (len(SEARCHED) + 2))
        for label, values in candidates.items():
            if args.check_values != "both" and not label.startswith(args.check_values):
                continue
            scores = [
                best_val_nmse(config, values, train_rows, val_rows, args.epochs, seed)
                for seed in seeds
            ]
            print(
                f"| {label} | "
                + " | ".join(f"{values[n]:.4g}" for n in SEARCHED)
                + f" | {', '.join(f'{v:.4f}' for v in scores)} | {np.mean(scores):.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
