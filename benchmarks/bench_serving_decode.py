"""The serving graph's exact decode against giflib: decode + sample + resize per batch of 8.

On ``bench_inference.make_gifs()`` (8 photo-like 240 x 240 GIFs of 24
frames; T = 8, 224 x 224), in one run, interleaved, best of ``--rounds``:

- **exact**: ``KavanServingModule.model_frames``, what ``serving_default``
  feeds the model (the in-graph decoder, TSN sampling, Pillow's bilinear
  stretch);
- **giflib**: ``tf.io.decode_gif`` of the whole file, the same sampled frames
  and the same stretch, over the batch the same way (``map_gifs``).

Goal: exact at most 2.0x giflib. To compare two commits on one machine, run
it in each (the package is imported from ``PYTHONPATH`` when set):

    python benchmarks/bench_serving_decode.py [--rounds 7] [--inter-op 0]
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_serving_decode.py
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--inter-op", type=int, default=0,
                        help="inter-op threads (0: TensorFlow's default, one per core)")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    from bench_inference import make_gifs

    import kavan_tf
    from kavan_tf.config import ModelConfig
    from kavan_tf.export import KavanServingModule
    from kavan_tf.export.gif_graph import eval_frame_indices
    from kavan_tf.export.serving_graph import map_gifs, resize_stretch
    from kavan_tf.models import KavanModel

    size = (224, 224)
    config = ModelConfig(backbone="small", backbone_weights=None, num_frames=8,
                         image_size=size, hidden_size=16)
    module = KavanServingModule(KavanModel(config))
    exact = tf.function(module.model_frames)

    def one(gif: tf.Tensor) -> tf.Tensor:
        frames = tf.io.decode_gif(gif)
        return resize_stretch(tf.gather(frames, eval_frame_indices(tf.shape(frames)[0], 8)),
                              size)

    giflib = tf.function(lambda gifs: map_gifs(
        one, gifs, tf.TensorSpec((8, *size, 3), tf.float32)))
    gifs = tf.constant(make_gifs())
    times: dict[str, list[float]] = {"exact": [], "giflib": []}
    for fn in (exact, giflib):
        fn(gifs)
    for _ in range(args.rounds):
        for name, fn in (("exact", exact), ("giflib", giflib)):
            began = time.perf_counter()
            fn(gifs).numpy()
            times[name].append(time.perf_counter() - began)
    best = {name: min(values) for name, values in times.items()}
    print(f"{os.path.dirname(kavan_tf.__file__)}, inter-op threads {args.inter_op or 'default'}:")
    for name, seconds in best.items():
        print(f"  {name}: decode + sample + resize, {seconds * 1000:.0f} ms per batch of 8 "
              f"({seconds * 1000 / 8:.1f} ms per GIF)")
    print(f"  exact / giflib: {best['exact'] / best['giflib']:.2f}x (goal <= 2.0x)")


if __name__ == "__main__":
    main()
