"""Work bombs and structure bombs against both GIF decoders (issue 12, goals 3-4).

Builds hostile but valid GIFs and prints, for each, how long the reference
decoder (:func:`kavan_tf.data.gif.decode_gif`) and the serving graph
(:func:`kavan_tf.export.serving_graph.decode_gif` and ``resize_sampled``: decode, sample,
resize to 224 x 224) take to decode or refuse it, and the peak memory the
reference decoder allocates (``tracemalloc``, numpy buffers included).
Before the timings the graph decodes the export's default warm-up GIFs
(:func:`kavan_tf.export.warmup.warmup_gifs`), as TF Serving replays them.
The graph is then called twice per file: the second call is what the file
costs; the first also builds a branch no earlier file took (the resizes of
very tall screens, which the warm-up leaves out; once per process). Goal:
every file decoded or refused within 2 s and 1 GiB.

    python benchmarks/bench_gif_bombs.py
"""

from __future__ import annotations

import pathlib
import struct
import sys
import time
import tracemalloc

import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.data.gif import decode_gif
from kavan_tf.errors import GifDecodeError
from kavan_tf.export.serving_graph import decode_gif as decode_in_graph
from kavan_tf.export.serving_graph import resize_sampled
from kavan_tf.export.warmup import warmup_gifs

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from helpers import pack_codes, sub_blocks  # noqa: E402 - the tests' GIF builders


def _gif(width: int, height: int, min_code_size: int, codes, frame=None, lengths=(255,),
         before=b"") -> bytes:
    colours = 1 << max(min_code_size, 1)
    size_field = max(min_code_size, 1) - 1
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | size_field, 0, 0)
    head += bytes(range(256))[: 3 * colours].ljust(3 * colours, b"\0")
    fw, fh = frame or (width, height)
    image = struct.pack("<BHHHHB", 0x2C, 0, 0, fw, fh, 0)
    return (head + before + image + bytes([min_code_size]) + sub_blocks(pack_codes(codes), lengths)
            + b";")


def _dots(width: int, height: int, frames: int) -> bytes:
    """``frames`` one-pixel frames down the left edge of a ``width`` x
    ``height`` screen: every sampled frame is a whole screen to resize."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(3) + b"\xff" * 3
    body = b""
    for k in range(frames):
        body += struct.pack("<BHHHHB", 0x2C, 0, k % height, 1, 1, 0)
        body += bytes([2]) + sub_blocks(pack_codes([(4, 3), (1, 3), (5, 3)]), (255,))
    return head + body + b";"


def bombs() -> dict[str, bytes]:
    longest = [(256, 9), (0, 9)]
    entry = 258
    while len(longest) < 2_000_000:  # every code names the newest entry
        width = min(12, max(9, entry.bit_length())) if entry < 4096 else 12
        longest.append((min(entry, 4095), width))
        entry = min(entry + 1, 4096)
    return {
        "1 MB of clear codes (2.8 M), 100x100": _gif(100, 100, 2, [(4, 3)] * 2_800_000
                                                     + [(0, 3), (5, 3)]),
        "clear + one pixel, 1.4 M times, 2048x2048": _gif(2048, 2048, 2, [(4, 3), (1, 3)]
                                                          * 1_400_000 + [(5, 3)]),
        "3 MB of 12-bit codes (longest strings), 2048x2048": _gif(2048, 2048, 8, longest),
        "1x1 screen, 65535x65535 frame descriptor": _gif(1, 1, 2, [(4, 3), (0, 3), (5, 3)],
                                                         frame=(65535, 65535)),
        "1x65535 (pygif's max-height)": _gif(1, 65535, 2, [(4, 3), (1, 3)] * 65_535
                                             + [(5, 3)]),
        "8 one-pixel frames on a 1x65535 screen": _dots(1, 65535, 8),
        "0.8 MB of data in sub-blocks of 1, 2 and 3 bytes, 1024x1024": _gif(
            1024, 1024, 2, [(4, 3), (1, 3)] * 1024**2 + [(5, 3)], lengths=(1, 2, 3)),
        # Dictionary segments just longer than clear - 2 codes: read one per
        # step unless they repeat (kavan_tf.data.lzw.max_long_segments bounds them).
        "300 k segments of 3 codes, 2048x2048": _gif(
            2048, 2048, 2, [(4, 3)] + [(0, 3), (1, 3), (2, 3), (4, 4)] * 300_000 + [(5, 3)]),
        "150 k segments of 3 and 4 codes in turn, 2048x2048": _gif(
            2048, 2048, 2, [(4, 3)] + ([(0, 3), (1, 3), (2, 3), (4, 4)]
                                       + [(0, 3), (1, 3), (2, 3), (3, 4), (4, 4)]) * 150_000
            + [(5, 3)]),
        "20,000 empty comment extensions, 16x16": _gif(
            16, 16, 2, [(4, 3), (1, 3)] * 256 + [(5, 3)], before=b"\x21\xfe\x00" * 20_000),
    }


def main() -> None:
    limits = DataConfig()

    def model_frames(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        decoded = decode_in_graph(data, 8, limits)
        return resize_sampled(decoded["frames"], decoded["slots"], (224, 224)), \
            decoded["error"]

    graph = tf.function(model_frames, input_signature=[tf.TensorSpec([], tf.string)])
    # Traced, optimised and warmed as TF Serving does, outside the timings.
    for warmup in warmup_gifs(8):
        graph(tf.constant(warmup))[0].numpy()
    print("| file | size | reference decoder | its peak memory | serving graph |")
    print("|---|---|---|---|---|")
    for name, data in bombs().items():
        tracemalloc.start()
        began = time.perf_counter()
        try:
            gif = decode_gif(data, name="bomb.gif")
            outcome = f"decoded {gif.num_frames} frame(s)"
        except GifDecodeError as e:
            outcome = f"refused ({e.cause[:40]})"
        seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # The first call of a branch no earlier file took also builds it (once
        # per process: docs/serving.md); the second is what the file costs.
        calls = []
        for _ in range(2):
            began = time.perf_counter()
            _, error = graph(tf.constant(data))
            served = "refused" if error.numpy() else "served"
            calls.append(time.perf_counter() - began)
        print(f"| {name} | {len(data) / 1e6:.2f} MB | {seconds:.2f} s, {outcome} | "
              f"{peak / 2**20:.0f} MiB | {calls[1]:.2f} s, {served} (first call "
              f"{calls[0]:.2f} s) |")


if __name__ == "__main__":
    main()
