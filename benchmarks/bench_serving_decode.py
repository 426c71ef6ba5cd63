"""Milliseconds per batch of the serving graph's decode + sample + resize (issue 12).

``KavanServingModule.model_frames`` on ``bench_inference.make_gifs()`` (8
photo-like 240 x 240 GIFs of 24 frames, T = 8, 224 x 224), the model's size
aside. Prints the six timings, sorted. To compare two commits on one
machine, run it in each (the package is imported from ``PYTHONPATH`` when
set):

    python benchmarks/bench_serving_decode.py
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_serving_decode.py
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import tensorflow as tf
    from bench_inference import make_gifs

    import kavan_tf
    from kavan_tf.config import ModelConfig
    from kavan_tf.export import KavanServingModule
    from kavan_tf.models import KavanModel

    config = ModelConfig(backbone="small", backbone_weights=None, num_frames=8,
                         image_size=(224, 224), hidden_size=16)
    module = KavanServingModule(KavanModel(config))
    gifs = tf.constant(make_gifs())
    decode = tf.function(module.model_frames)
    decode(gifs)
    times = []
    for _ in range(6):
        began = time.perf_counter()
        decode(gifs)
        times.append(time.perf_counter() - began)
    print(f"{os.path.dirname(kavan_tf.__file__)}: decode + sample + resize, ms per batch of 8: "
          + " ".join(f"{t * 1000:.0f}" for t in sorted(times)))


if __name__ == "__main__":
    main()
