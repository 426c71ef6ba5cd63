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
import tempfile

import tensorflow as tf
from bench_head_training import head_and_batch  # same directory
from profile_serving import op_times, print_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--optimizer", choices=("fused", "keras"), default="fused")
    parser.add_argument("--logdir", default=None, help="default: a temporary folder")
    args = parser.parse_args()

    model, features, targets = head_and_batch(args.batch, args.optimizer)
    model.train_on_batch(features, targets)  # trace and warm up
    logdir = args.logdir or tempfile.mkdtemp(prefix="kavan_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        model.train_on_batch(features, targets)
    tf.profiler.experimental.stop()

    times = op_times(logdir, args.steps)
    print_tables(times, f"op type (batch {args.batch}, {args.optimizer} Adam)", "ms per step",
                 args.top)
    print(f"\ntrace: {logdir}")


if __name__ == "__main__":
    main()
