"""The tuning run behind the ``LossConfig`` defaults (``docs/tuning.md``).

Generates the demo's synthetic data (:func:`kavan_tf.demo.synthetic_config`:
64 x 64 frames, large faces, ``label_mode="end"``; 400 GIFs), takes the
demo's model (:func:`kavan_tf.demo.demo_config`: small backbone, full MTL
Soft-Att + HS-LSTM, T = 8, hidden size 64, batch 16), holds out a seeded
20 % of the ``train`` split for validation (the ``test`` split is not used)
and searches ``w_c``, ``w_rank``, ``w_kp`` and the learning rate with
:func:`kavan_tf.tuning.run_tuning`.

Usage::

    python benchmarks/tune_synthetic.py [--out runs/tune_synthetic] [--trials 10] [--epochs 6]
        [--objective nmse] [--algorithm bayesian] [--num-gifs 400]
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.synthetic import generate_dataset
from kavan_tf.demo import DemoSettings, demo_config, synthetic_config
from kavan_tf.training.trainer import split_frame
from kavan_tf.tuning import holdout_split, resolve_objective, results_markdown, run_tuning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/tune_synthetic")
    parser.add_argument("--num-gifs", type=int, default=400)
    parser.add_argument("--frame-size", type=int, default=64)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--objective", default="nmse")
    parser.add_argument("--algorithm", choices=["random", "bayesian"], default="bayesian")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    began = time.perf_counter()
    settings = DemoSettings(
        num_gifs=args.num_gifs, frame_size=args.frame_size, epochs=args.epochs, seed=args.seed
    )
    manifest = generate_dataset(os.path.join(args.out, "data"), synthetic_config(settings))
    config = demo_config(settings, os.path.join(args.out, "run"))
    rows = read_manifest(manifest, config.labels)
    train_rows, val_rows = holdout_split(
        split_frame(rows, "train"), args.val_fraction, config.train.seed
    )
    objective = resolve_objective(args.objective)
    table = run_tuning(
        config,
        train_rows,
        val_rows,
        os.path.join(args.out, "tuning"),
        objective=objective,
        max_trials=args.trials,
        epochs=args.epochs,
        algorithm=args.algorithm,
        overwrite=True,
        verbose=2,
    )
    print(
        f"{len(train_rows)} training / {len(val_rows)} validation GIFs, "
        f"{args.trials} trials x {args.epochs} epochs, {time.perf_counter() - began:.0f} s"
    )
    print(results_markdown(table, objective))


if __name__ == "__main__":
    main()
