"""Where the serving graph's GIF decoding spends its time (issue 12).

Times, per GIF of ``bench_inference.make_gifs`` (240 x 240, 24 frames), the
parts of :func:`kavan_tf.export.gif_graph.decode_gif_sampled` on their own:
the block parse; the parse plus reading every frame's LZW codes (the check
that a stream is sound, which any exact decode with giflib needs); the parse
plus decompressing every frame; the same plus the palette lookups; the whole
decode (parse, frames, compositing, sampling); and ``tf.io.decode_gif`` on
the whole file for comparison (what the graph did before it composited
exactly); and the resize of the sampled frames to the model's input.

With ``--ops``, it counts instead the ops one whole decode executes, by
type, with their time (one thread, TensorFlow's full trace of one run):
what the decode costs per op rather than per arithmetic.

    python benchmarks/profile_gif_graph.py [--ops]
"""

from __future__ import annotations

import argparse
import collections
import time

import tensorflow as tf
from bench_inference import make_gifs

from kavan_tf.export import gif_graph, gif_palette
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
            indices = tf.gather(gif_palette.palettes(parsed, i[None])[0], tf.minimum(indices, 256))
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


def count_ops(gif: bytes, num_samples: int = 8, top: int = 15) -> None:
    """Prints the ops one :func:`~kavan_tf.export.gif_graph.decode_gif_sampled`
    of ``gif`` executes, by type: how many, and their microseconds."""
    graph = tf.Graph()
    with graph.as_default():
        data = tf.compat.v1.placeholder(tf.string, [])
        frames = gif_graph.decode_gif_sampled(data, num_samples, max_total_pixels=2**30,
                                              **LIMITS)["frames"]
        config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1,
                                          intra_op_parallelism_threads=1)
        with tf.compat.v1.Session(config=config) as session:
            session.run(frames, {data: gif})
            metadata = tf.compat.v1.RunMetadata()
            session.run(frames, {data: gif}, run_metadata=metadata,
                        options=tf.compat.v1.RunOptions(
                            trace_level=tf.compat.v1.RunOptions.FULL_TRACE))
    count: collections.Counter = collections.Counter()
    micros: collections.Counter = collections.Counter()
    seen = set()
    for device in metadata.step_stats.dev_stats:
        for node in device.node_stats:
            if (node.node_name, node.all_start_micros) in seen:  # listed per device
                continue
            seen.add((node.node_name, node.all_start_micros))
            label = node.timeline_label
            kind = label.split("=", 1)[1].split("(")[0].strip() if "=" in label else "other"
            count[kind] += 1
            micros[kind] += node.op_end_rel_micros - node.op_start_rel_micros
    print(f"ops executed by one decode (T = {num_samples}): {sum(count.values())}, "
          f"{sum(micros.values()) / 1000:.1f} ms in their kernels (traced)")
    print("| op | executed | ms |")
    print("|---|---|---|")
    for kind, _ in micros.most_common(top):
        print(f"| {kind} | {count[kind]} | {micros[kind] / 1000:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", action="store_true",
                        help="count the ops one decode executes, by type")
    args = parser.parse_args()
    if args.ops:
        count_ops(make_gifs(1)[0])
        return
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
