"""Why the HS-LSTM head is memory-bound at serving batch sizes (issue 6, goal 1).

At batch 8 an LSTM step multiplies 8 rows by a ``[hidden, 4 x hidden]``
kernel: 2 FLOPs per weight read, so its speed is the rate at which the
kernel streams from memory. This script measures, in one process, that rate
for one ``[batch, 2048] x [2048, 8192]`` product in float32 and bfloat16,
against a plain reduction over 1 GiB (the machine's read bandwidth), and
prints the time the head's weight traffic alone needs per batch, with the
kernel stored input-major (as trained) and gate-major (as
``kavan_tf.inference.for_inference`` stores it for serving).

    python benchmarks/bench_lstm_bandwidth.py [--batch 8]
"""

from __future__ import annotations

import argparse

import tensorflow as tf
from bench_inference import per_second  # same directory

from kavan_tf.inference.gate_major import to_gate_major
from kavan_tf.layers.lstm_math import kernel_product, lstm_cell

HIDDEN = 2048
# Kernel reads per batch of the head (2 tiers, T = 8, node size 4), in units of
# one [2048, 8192] kernel: the last tier's input and recurrent kernels and
# tier 1's recurrent kernel at each of 8 frames, and tier 1's input kernel and
# the last tier's context kernel once per node (2 nodes).
KERNEL_READS_PER_BATCH = 3 * 8 + 2 * 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    big = tf.random.normal((256 * 1024 * 1024,))  # 1 GiB of float32
    read_rate = big.shape[0] * 4 * per_second(tf.function(tf.reduce_sum), big, repeats=5)
    cells = {g: lstm_cell(HIDDEN, name=f"gate_major_{g}", dtype="float32") for g in (False, True)}
    cells[True].gate_major = True  # as kavan_tf.inference.gate_major.mark_gate_major does
    products = {g: tf.function(lambda x, w, g=g: kernel_product(cells[g], x, w))
                for g in (False, True)}
    print("| measurement | time | weights streamed | head's weight traffic per batch |")
    print("|---|---|---|---|")
    print(f"| reduce_sum over 1 GiB (read bandwidth) | | {read_rate / 1e9:.1f} GB/s | |")
    for dtype in (tf.float32, tf.bfloat16):
        kernel = tf.cast(tf.random.normal((HIDDEN, 4 * HIDDEN)), dtype)
        rows = tf.cast(tf.random.normal((args.batch, HIDDEN)), dtype)
        nbytes = HIDDEN * 4 * HIDDEN * dtype.size
        # The kernel as stored for training (input-major), and gate-major as
        # `for_inference` stores it for bfloat16 (kernel_product reads both).
        gate_major = tf.constant(to_gate_major(kernel.numpy()))
        for layout, value, is_gate_major in (("input-major", kernel, False),
                                             ("gate-major", gate_major, True)):
            seconds = 1 / per_second(
                lambda pair, g=is_gate_major: products[g](*pair), (rows, value), repeats=20
            )
            print(f"| [{args.batch}, {HIDDEN}] x [{HIDDEN}, {4 * HIDDEN}] {dtype.name}, "
                  f"{layout} | {seconds * 1e3:.2f} ms | {nbytes / seconds / 1e9:.1f} GB/s | "
                  f"{KERNEL_READS_PER_BATCH * seconds * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
