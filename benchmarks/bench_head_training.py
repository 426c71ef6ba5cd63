"""Head training on cached features at paper size against a large matmul (issue 6, goal 4).

Trains the attention + HS-LSTM head (hidden 2048, 2 tiers, node size 4,
T = 8, 7 x 7 x 2048 features) with ``model.fit`` on in-memory features and
counts its FLOPs: the matrix products of the forward pass, counted from the
layer shapes, times 3 for forward + backward (the usual estimate: the
backward pass costs two forward passes). It compares the achieved FLOP/s with
a large float32 matmul (4096 x 4096) in the same process. Goal: >= 50 %.

The in-memory dataset has tf.data's autotuning turned off: with it on, a
``fit`` call on the 2-core development machine returned up to 10.24 s after
its last step, a cost per call rather than per step that a short timed
``fit`` would spread over its steps (``--autotune`` keeps it on;
docs/performance.md).

    python benchmarks/bench_head_training.py [--batch 128] [--steps 6]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from kavan_tf.config import ModelConfig
from kavan_tf.models import KavanModel

T, H, W, D, HIDDEN, ATT = 8, 7, 7, 2048, 2048, 32


def forward_matmul_flops(batch: int) -> float:
    """Forward FLOPs (2 per multiply-add) of the head's matrix products, per batch."""
    cells = H * W
    per_frame = (
        2 * cells * D * ATT  # A_c C(k)
        + 2 * HIDDEN * ATT * 2  # A_h h and A_H H
        + 2 * cells * ATT  # v
        + 2 * cells * D  # sum_k (alpha + w_res) C(k)
        + 2 * (D + HIDDEN) * 4 * HIDDEN  # tier-1 LSTM on pooled features
        + 2 * (D + HIDDEN + HIDDEN) * 4 * HIDDEN  # last tier: [x, H] and h
    )
    heads = 2 * HIDDEN * 4 + 2 * (HIDDEN + 4) * 17
    return batch * (T * per_frame + heads)


def matmul_flops_per_second(size: int = 4096, repeats: int = 5) -> float:
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - began)
    return 2 * size**3 / best


def head_and_batch(batch: int, optimizer: str = "fused", jit_compile: bool = False):
    """The compiled paper-size head and one random batch ``(features, targets)``.

    ``optimizer``: ``"fused"`` (the package's default, ``FusedAdam``) or
    ``"keras"`` (``keras.optimizers.Adam``).
    """
    keras.utils.set_random_seed(0)
    model = KavanModel(ModelConfig(input_mode="features", feature_shape=(H, W, D),
                                   hidden_size=HIDDEN, num_frames=T))
    model.compile(optimizer="auto" if optimizer == "fused" else keras.optimizers.Adam(1e-4),
                  jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(batch, T, H, W, D)).astype(np.float32)
    heatmaps = rng.uniform(size=(batch, T, H, W)).astype(np.float32)
    heatmaps /= heatmaps.sum(axis=(2, 3), keepdims=True)
    targets = {"intensities": rng.uniform(-1, 1, (batch, 17)).astype(np.float32),
               "category": rng.integers(0, 4, batch), "attention": heatmaps}
    return model, features, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--optimizer", choices=("fused", "keras"), default="fused",
                        help="the package's FusedAdam (default) or keras.optimizers.Adam")
    parser.add_argument("--autotune", action="store_true",
                        help="leave tf.data's autotuning on for the in-memory dataset")
    args = parser.parse_args()

    model, features, targets = head_and_batch(args.batch, args.optimizer, args.jit_compile)
    dataset = tf.data.Dataset.from_tensors((features, targets)).repeat()
    if not args.autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.with_options(options)
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
    began = time.perf_counter()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
    step = (time.perf_counter() - began) / args.steps
    achieved = 3 * forward_matmul_flops(args.batch) / step
    forward = tf.function(lambda x: model(x, training=False))
    forward(features)
    began = time.perf_counter()
    for _ in range(args.steps):
        forward(features)["intensities"].numpy()
    forward_time = (time.perf_counter() - began) / args.steps
    forward_rate = forward_matmul_flops(args.batch) / forward_time
    peak = matmul_flops_per_second()
    print(f"| head training (batch {args.batch}, paper size, "
          f"{model.count_params() / 1e6:.1f} M parameters) | GFLOP/s | share of matmul | goal |")
    print("|---|---|---|---|")
    print(f"| large float32 matmul (4096^3) | {peak / 1e9:.1f} | | |")
    print(f"| train step: {step * 1e3:.0f} ms | {achieved / 1e9:.1f} "
          f"| {100 * achieved / peak:.0f} % | >= 50 % |")
    print(f"| forward pass only: {forward_time * 1e3:.0f} ms | {forward_rate / 1e9:.1f} "
          f"| {100 * forward_rate / peak:.0f} % | |")


if __name__ == "__main__":
    main()
