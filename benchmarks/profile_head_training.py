"""Where a head training step spends its time, op by op (TensorFlow profiler).

Traces ``train_on_batch`` of the attention + HS-LSTM head at paper size (the
set-up of ``bench_head_training.py``: hidden 2048, 2 tiers, T = 8, 7 x 7 x 2048
features) and prints the time per step spent in each kind of op, then the
costliest single ops. Ops that run concurrently each count their own time.

    python benchmarks/profile_head_training.py [--batch 32] [--optimizer keras]

The trace is also left in ``--logdir`` for TensorBoard's profile plugin.
"""

from __future__ import annotations

import argparse
import collections
import tempfile

import keras
import numpy as np
import tensorflow as tf
from bench_head_training import HIDDEN, D, H, T, W  # same directory
from profile_serving import op_times

from kavan_tf.config import ModelConfig
from kavan_tf.models import KavanModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--optimizer", choices=("fused", "keras"), default="fused")
    parser.add_argument("--logdir", default=None, help="default: a temporary folder")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = KavanModel(ModelConfig(input_mode="features", feature_shape=(H, W, D),
                                   hidden_size=HIDDEN, num_frames=T))
    optimizer = "auto" if args.optimizer == "fused" else keras.optimizers.Adam(1e-4)
    model.compile(optimizer=optimizer)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(args.batch, T, H, W, D)).astype(np.float32)
    heatmaps = rng.uniform(size=(args.batch, T, H, W)).astype(np.float32)
    heatmaps /= heatmaps.sum(axis=(2, 3), keepdims=True)
    targets = {"intensities": rng.uniform(-1, 1, (args.batch, 17)).astype(np.float32),
               "category": rng.integers(0, 4, args.batch), "attention": heatmaps}
    model.train_on_batch(features, targets)  # trace and warm up
    logdir = args.logdir or tempfile.mkdtemp(prefix="kavan_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        model.train_on_batch(features, targets)
    tf.profiler.experimental.stop()

    times = op_times(logdir, args.steps)
    by_type: collections.Counter = collections.Counter()
    for name, ms in times.items():
        by_type[name.rsplit(":", 1)[1]] += ms
    print(f"| op type (batch {args.batch}, {args.optimizer} Adam) | ms per step |")
    print("|---|---|")
    for kind, ms in by_type.most_common(args.top):
        print(f"| {kind} | {ms:.1f} |")
    print(f"| all ops | {sum(by_type.values()):.1f} |")
    print()
    print("| op | ms per step |")
    print("|---|---|")
    for name, ms in times.most_common(args.top):
        print(f"| `{name}` | {ms:.1f} |")
    print(f"\ntrace: {logdir}")


if __name__ == "__main__":
    main()
