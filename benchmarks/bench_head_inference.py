"""The served head alone: attention + temporal module + heads on backbone features.

The head row of ``bench_inference.py`` without the backbone and the GIF
decoding, so that it runs in seconds and on any commit (with
``benchmarks/interleave.py``): the inference copy that ``kavan export``
serves (``for_inference``), paper size (hidden 2048, T = 8, 7 x 7 x 2048
features), in float32 and bfloat16, with the LSTM kernels input-major (as
trained) and gate-major (``kavan_tf.inference.gate_major``).

    python benchmarks/bench_head_inference.py [--batch 8] [--repeats 10] [--temporal hslstm]
"""

from __future__ import annotations

import argparse
import time

import tensorflow as tf

from kavan_tf.config import ModelConfig
from kavan_tf.inference import for_inference
from kavan_tf.models import KavanModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--temporal", choices=("lstm", "hslstm"), default="hslstm")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="another ModelConfig value, e.g. hs_tier1=node")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    model = KavanModel(ModelConfig(input_mode="features", feature_shape=(7, 7, 2048),
                                   hidden_size=args.hidden, num_frames=8,
                                   temporal=args.temporal, **extra))
    features = tf.random.normal((args.batch, 8, 7, 7, 2048))
    calls = {}
    for precision in ("float32", "bfloat16"):
        for layout in ("input-major", "gate-major"):
            copy = for_inference(model, precision, gate_major_lstm=layout == "gate-major")
            name = f"{precision}, {layout}"
            calls[name] = tf.function(lambda x, c=copy: c(x, training=False)["intensities"])
            calls[name](features).numpy()  # trace
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(args.repeats):  # interleaved: every variant sees the same machine load
        for name, call in calls.items():
            began = time.perf_counter()
            call(features).numpy()
            best[name] = min(best[name], time.perf_counter() - began)
    print(f"| head on features ({args.temporal}{''.join(', ' + s for s in args.set)}, "
          f"batch {args.batch}) | ms per batch (best of "
          f"{args.repeats}) |")
    print("|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e3:.1f} |")
    for precision in ("float32", "bfloat16"):
        ratio = best[f"{precision}, input-major"] / best[f"{precision}, gate-major"]
        print(f"| {precision}: gate-major speed-up | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
