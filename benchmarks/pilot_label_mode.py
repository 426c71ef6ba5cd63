"""Is a synthetic label mode trainable at the demo's scale? One Soft-Att + LSTM run.

Trains the demo's Soft-Att + LSTM (640 GIFs, 64 x 64, T = 8, small backbone
from scratch) on one label mode for a number of epochs, validating on the
first protocol split's test GIFs, and prints the training and validation
accuracy per epoch. A mode is fit for ``kavan results`` when the validation
accuracy rises well above chance (25 %), not only the training accuracy.

    python benchmarks/pilot_label_mode.py segment --epochs 20
    python benchmarks/pilot_label_mode.py end --epochs 10
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["change", "end", "segment"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--num-gifs", type=int, default=640)
    parser.add_argument("--row", default="att_lstm")
    parser.add_argument("--segment-fraction", type=float, default=None,
                        help="share of the frames showing the expression (segment mode)")
    parser.add_argument("--out", default=None, help="keep the data and the run here")
    args = parser.parse_args(argv)

    import pandas as pd

    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.experiments.demo import DemoSettings, demo_config
    from kavan_tf.synthetic import generate_dataset
    from kavan_tf.training.evaluation import ROWS_BY_KEY, make_splits, row_config
    from kavan_tf.training.trainer import train

    out = args.out or tempfile.mkdtemp(prefix="kavan-pilot-")
    settings = DemoSettings().with_overrides(
        synthetic={"num_gifs": args.num_gifs, "label_mode": args.mode},
        train={"epochs": args.epochs},
    )
    synthetic = settings.synthetic
    if args.segment_fraction is not None:
        synthetic = dataclasses.replace(synthetic, segment_fraction=args.segment_fraction)
    manifest = generate_dataset(os.path.join(out, "data"), synthetic)
    config = demo_config(settings, os.path.join(out, "run"))
    rows = read_manifest(manifest, config.labels)
    train_idx, test_idx = make_splits(len(rows), 5, seed=config.train.seed)[0]
    run = row_config(config, ROWS_BY_KEY[args.row], os.path.join(out, "run"))
    began = time.perf_counter()
    train(run, rows.iloc[train_idx], rows.iloc[test_idx], verbose=0)
    history = pd.read_csv(os.path.join(out, "run", "history.csv"))
    print(f"label mode {args.mode!r} (segment fraction {synthetic.segment_fraction}), "
          f"{ROWS_BY_KEY[args.row].title}, {args.num_gifs} GIFs, "
          f"{time.perf_counter() - began:.0f} s")
    print(history[["epoch", "category_accuracy", "val_category_accuracy",
                   "val_intensities_nmse"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
