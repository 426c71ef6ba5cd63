"""GIF decoding throughput: decode, and decode + TSN sample + resize.

Measures :func:`kavan_tf.data.gif.decode_gif` on the three test corpora
(``gifs/`` of the ``KAVAN_TESTDATA`` setting, ``tests/corpora.py``) and on larger
GIFs generated here with Pillow, and, for context, Pillow's own decoder
(``seek`` + ``convert("RGB")`` per frame; it composites differently, see
``kavan_tf/data/gif.py``; timed on the files Pillow reads, and "ours/Pil" is
our speed relative to Pillow on those same files). Single process, single
thread. MB are input bytes, Mpx output pixels (frames x height x width).

    python benchmarks/bench_decode.py [--repeats 3] [--frames 8] [--size 224]
"""

from __future__ import annotations

import argparse
import io
import logging
import pathlib
import sys
import time

import numpy as np
from PIL import Image

from kavan_tf.data.gif import decode_gif
from kavan_tf.data.sampling import resize_frames, sample_indices
from kavan_tf.errors import GifDecodeError

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting


def generated_gifs(seed: int = 0) -> dict[str, bytes]:
    """Larger GIFs: photo-like (dithered, 256 colours) and cartoon-like (flat)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (height, width, count, flat) in {
        "photo 240x240x40": (240, 240, 40, False),
        "cartoon 240x240x40": (240, 240, 40, True),
        "photo 480x270x60": (270, 480, 60, False),
    }.items():
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
        frames = []
        for t in range(count):
            if flat:
                cx, cy = width / 2 + width / 4 * np.sin(t / 6), height / 2
                inside = (xx - cx) ** 2 + (yy - cy) ** 2 < (height / 5) ** 2
                rgb = np.stack([np.where(inside, 250, 40), np.where(inside, 200, 120),
                                np.full_like(xx, 90)], -1)
            else:
                rgb = np.stack([
                    np.sin(xx / 17 + t / 5) * 60 + np.cos(yy / 23 - t / 7) * 60 + 128,
                    np.sin((xx + yy) / 31 + t / 3) * 100 + 128,
                    xx * yy / (width * height) * 255,
                ], -1) + rng.normal(0, 8, (height, width, 1))
            image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
            frames.append(image.quantize(256 if not flat else 8))
        buffer = io.BytesIO()
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
        out[name] = buffer.getvalue()
    return out


def corpus(name: str) -> dict[str, bytes]:
    files = {}
    for path in sorted((require_testdata() / "gifs" / name).glob("**/*.gif")):
        data = path.read_bytes()
        try:
            decode_gif(data)
        except GifDecodeError:
            continue  # rejected files are not throughput
        files[path.name] = data
    return files


def pillow_decode(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        count = getattr(image, "n_frames", 1)
        for i in range(count):
            image.seek(i)
            np.asarray(image.convert("RGB"))
    return count


def pillow_readable(files: dict[str, bytes]) -> dict[str, bytes]:
    readable = {}
    for name, data in files.items():
        try:
            pillow_decode(data)
        except Exception:  # noqa: BLE001 -- Pillow rejects a few corpus files
            continue
        readable[name] = data
    return readable


def measure(files: dict[str, bytes], fn, repeats: int) -> float:
    """Best of ``repeats`` passes over all files, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for data in files.values():
            fn(data)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=8, help="T, frames sampled per GIF")
    parser.add_argument("--size", type=int, default=224, help="resized frame side")
    args = parser.parse_args()
    logging.getLogger("kavan_tf.data.gif").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)

    def pipeline(data: bytes) -> None:
        gif = decode_gif(data)
        indices = sample_indices(gif.num_frames, args.frames, training=True, rng=rng)
        resize_frames(gif.frames[indices], (args.size, args.size))

    sets = {name: corpus(name) for name in ("gif-test-suite", "pillow", "image-rs")}
    sets.update({name: {name: data} for name, data in generated_gifs().items()})
    header = (f"{'set':22s} {'GIFs':>4s} {'MB':>6s} {'Mpx':>7s} | {'decode GIF/s':>12s} "
              f"{'MB/s':>6s} {'Mpx/s':>6s} | {'+sample+resize GIF/s':>20s} | "
              f"{'Pillow GIF/s':>12s} {'Mpx/s':>6s} {'ours/Pil':>9s}")
    print(header)
    print("-" * len(header))
    for name, files in sets.items():
        megabytes = sum(len(d) for d in files.values()) / 1e6
        megapixels = sum(decode_gif(d).frames[..., 0].size for d in files.values()) / 1e6
        ours = measure(files, decode_gif, args.repeats)
        full = measure(files, pipeline, args.repeats)
        # Pillow on the files it reads, timed on the same files as ours.
        readable = pillow_readable(files)
        pixels = sum(decode_gif(d).frames[..., 0].size for d in readable.values()) / 1e6
        pillow = measure(readable, pillow_decode, args.repeats)
        ours_same = measure(readable, decode_gif, args.repeats)
        print(f"{name:22s} {len(files):4d} {megabytes:6.2f} {megapixels:7.2f} | "
              f"{len(files) / ours:12.1f} {megabytes / ours:6.2f} {megapixels / ours:6.1f} | "
              f"{len(files) / full:20.1f} | {len(readable) / pillow:12.1f} {pixels / pillow:6.1f}"
              f" {pillow / ours_same:9.2f}x")


if __name__ == "__main__":
    main()
