"""Where the serving graph's GIF decoding spends its time (issue 12).

Times, per GIF of ``bench_inference.make_gifs`` (240 x 240, 24 frames), the
parts of :func:`kavan_tf.export.gif_graph.decode_gif_sampled` on their own:
the block parse; the parse plus reading every frame's LZW codes (the check
that a stream is sound, which any exact decode with giflib needs); the parse
plus decompressing every frame; the same plus the palette lookups; the whole
decode (parse, frames, compositing, sampling); and ``tf.io.decode_gif`` on
the whole file for comparison (what the graph did before it composited
exactly); and the resize of the sampled frames to the model's input.

    python benchmarks/profile_gif_graph.py
"""

from __future__ import annotations

import time

import tensorflow as tf
from bench_inference import make_gifs

from kavan_tf.export import gif_graph
from kavan_tf.export.lzw_graph import sub_block_data
from kavan_tf.export.lzw_probe import probe_codes
from kavan_tf.export.serving_graph import resize_stretch

LIMITS = {"max_frame_pixels": 2**26, "max_frames": 10_000}


def _frames_loop(data: tf.Tensor, with_palette: bool) -> tf.Tensor:
    parsed = gif_graph.parse_gif(data, **LIMITS)
    parsed["data"] = data

    def body(i, total):
        indices, _, _ = gif_graph._frame_pixels(
            parsed, i, parsed["h"][i], parsed["w"][i], -1)
        if with_palette:
            indices = tf.gather(gif_graph._palettes(parsed, i[None])[0], tf.minimum(indices, 256))
        return i + 1, total + tf.reduce_sum(indices[:1, :1])

    return tf.while_loop(lambda i, _: i < parsed["count"], body, (0, 0))[1]


def _probe_loop(data: tf.Tensor) -> tf.Tensor:
    parsed = gif_graph.parse_gif(data, **LIMITS)

    def body(i, sound):
        stream = sub_block_data(parsed["bytes"], parsed["data_start"][i] + 1,
                                parsed["data_end"][i])
        regular, ok, *_ = probe_codes(stream, parsed["code_size"][i],
                                      parsed["w"][i] * parsed["h"][i])
        return i + 1, sound & regular & ok

    return tf.while_loop(lambda i, _: i < parsed["count"], body, (0, True))[1]


def main() -> None:
    gifs = [tf.constant(g) for g in make_gifs(8)]
    parts = {
        "parse": lambda d: gif_graph.parse_gif(d, **LIMITS)["count"],
        "parse + read every frame's codes (probe)": _probe_loop,
        "parse + decompress every frame": lambda d: _frames_loop(d, False),
        "... + palette lookups": lambda d: _frames_loop(d, True),
        "whole decode (decode_gif_sampled, T = 8)": lambda d: gif_graph.decode_gif_sampled(
            d, 8, max_total_pixels=2**30, **LIMITS),
        "tf.io.decode_gif on the whole file": tf.io.decode_gif,
    }
    frames = tf.io.decode_gif(gifs[0])[:8]
    resize = tf.function(lambda f: resize_stretch(f, (224, 224)))
    resize(frames)
    print("| part | ms per GIF (best of 5 rounds) |")
    print("|---|---|")
    for name, fn in parts.items():
        fn = tf.function(fn, input_signature=[tf.TensorSpec([], tf.string)])
        fn(gifs[0])
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter()
            for gif in gifs:
                fn(gif)
            best = min(best, (time.perf_counter() - began) / len(gifs))
        print(f"| {name} | {best * 1000:.1f} |")
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        resize(frames).numpy()
        best = min(best, time.perf_counter() - began)
    print(f"| resize of the 8 sampled frames to 224 x 224 | {best * 1000:.1f} |")


if __name__ == "__main__":
    main()
