"""The serving graph's exact decode against giflib: decode + sample + resize per batch of 8.

Two batches of 8 GIFs of 240 x 240 and 24 frames (T = 8, 224 x 224):

- **photo-like**: ``bench_inference.make_gifs()``, as Pillow writes them: full
  frames, each with a local palette and, after the first, a transparent
  index;
- **delta**: full frames whose unchanged pixels (60 %) are transparent, so
  that every frame depends on the ones before it (:func:`make_delta_gifs`).

For each, in one run, interleaved, best of ``--rounds``:

- **exact**: ``KavanServingModule.model_frames``, what ``serving_default``
  feeds the model (the in-graph decoder, TSN sampling, Pillow's bilinear
  stretch);
- **giflib**: ``tf.io.decode_gif`` of the whole file, the same sampled frames
  and the same stretch, over the batch the same way (``map_gifs``).

Goal: exact at most 2.0x giflib (issue 32 measures it on the photo-like
batch). To compare two commits on one machine, run
it in each (the package is imported from ``PYTHONPATH`` when set):

    python benchmarks/bench_serving_decode.py [--rounds 7] [--inter-op 0]
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_serving_decode.py
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_delta_gifs(count: int = 8, size: int = 240, frames: int = 24) -> list[bytes]:
    """GIFs whose frames cover the screen and leave 60 % of it transparent
    (what was there shows through), with one global palette."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = []
    for g in range(count):
        base = np.stack([np.sin(xx / (13 + g)) * 60 + np.cos(yy / 23) * 60 + 128,
                         np.sin((xx + yy) / 31 + g) * 100 + 128, xx * yy / size**2 * 255], -1)
        palette = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).quantize(255)
        images = []
        for t in range(frames):
            rgb = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            indices = np.asarray(Image.fromarray(rgb).quantize(palette=palette))
            if t:  # index 255, never a colour of the palette, is transparent
                indices = np.where(rng.random((size, size)) < 0.6, 255, indices)
            image = Image.fromarray(indices.astype(np.uint8), "P")
            image.putpalette(palette.getpalette()[:765] + [0, 0, 0])
            images.append(image)
        buffer = io.BytesIO()
        images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=80,
                       transparency=255, disposal=1, optimize=False)
        out.append(buffer.getvalue())
    return out


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
    batches = {"photo-like": tf.constant(make_gifs()), "delta": tf.constant(make_delta_gifs())}
    calls = {f"{kind} {name}": (fn, gifs) for kind, gifs in batches.items()
             for name, fn in (("exact", exact), ("giflib", giflib))}
    times: dict[str, list[float]] = {name: [] for name in calls}
    for fn, gifs in calls.values():
        fn(gifs)
    for _ in range(args.rounds):
        for name, (fn, gifs) in calls.items():
            began = time.perf_counter()
            fn(gifs).numpy()
            times[name].append(time.perf_counter() - began)
    best = {name: min(values) for name, values in times.items()}
    print(f"{os.path.dirname(kavan_tf.__file__)}, inter-op threads {args.inter_op or 'default'}:")
    for name, seconds in best.items():
        print(f"  {name}: decode + sample + resize, {seconds * 1000:.0f} ms per batch of 8 "
              f"({seconds * 1000 / 8:.1f} ms per GIF)")
    for kind in batches:
        ratio = best[f"{kind} exact"] / best[f"{kind} giflib"]
        print(f"  {kind}: exact / giflib {ratio:.2f}x"
              + (" (goal <= 2.0x)" if kind == "photo-like" else ""))


if __name__ == "__main__":
    main()
