"""Differential fuzzing of the serving graph's GIF decoder against the reference decoder.

Mutates corpus GIFs under ``--max-bytes`` (64 KB) from the corpora's ``gifs/``
(the ``KAVAN_TESTDATA`` setting, ``tests/corpora.py``; one to three random
byte changes, bit flips, deletions or insertions) and counts, per file,
whether the graph (:func:`kavan_tf.export.gif_graph.decode_gif_sampled`,
T = 8, then the resize to 224 x 224 as ``serving_default`` does) served
the reference decoder's frames (``equal``), both refused it in the same
words (``both_refuse``), or neither: different frames, a refusal where the
reference reads the file, or other words. Those are
printed, and written to ``--keep`` when given. Each graph call is timed:
the slowest inputs and the worst seconds per input are printed (goal: no
input under 64 KB costs more than 0.25 s). Before the clock starts the graph
decodes the export's default warm-up GIFs
(:func:`kavan_tf.export.warmup.warmup_gifs`), as TF Serving replays them
when it loads a model, so that the branches TensorFlow builds on first use
are built. The five slowest are then timed again: a first call that takes a
branch no warm-up GIF takes (the resize of a screen too tall to resize in
one batch) also pays for building it, once per process; the second call is
what the input itself costs, each time it is sent. The seeded test
``tests/test_gif_graph.py::test_randomly_damaged_files_give_the_reference_frames``
is a short run of this.

    python benchmarks/fuzz_gif_graph.py [--seed 1] [--files 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.gif import decode_gif
from kavan_tf.errors import GifDecodeError
from kavan_tf.export.gif_graph import decode_gif_sampled
from kavan_tf.export.serving_graph import resize_sampled
from kavan_tf.export.warmup import warmup_gifs

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting
from helpers import mutated_gif  # noqa: E402 - the damage the seeded test makes

T = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--keep", type=pathlib.Path, default=None)
    parser.add_argument("--max-bytes", type=int, default=64 * 1024)
    args = parser.parse_args()
    config = DataConfig()

    def decode_and_resize(data: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = decode_gif_sampled(
            data, T, background=tuple(config.background),
            max_frame_pixels=config.max_frame_pixels, max_total_pixels=config.max_total_pixels,
            max_frames=config.max_frames)
        # What serving_default does next, so that the time is the graph's.
        resized = resize_sampled(decoded["frames"], decoded["slots"], (224, 224))
        return {**decoded, "resized": resized}

    graph = tf.function(decode_and_resize, input_signature=[tf.TensorSpec([], tf.string)])
    rng = np.random.default_rng(args.seed)
    gifs = require_testdata() / "gifs"
    corpus = [p for p in sorted(gifs.rglob("*.gif")) if p.stat().st_size < args.max_bytes]
    for warmup in warmup_gifs(T):  # traced, and warmed as TF Serving does, before the clock
        graph(tf.constant(warmup))["resized"].numpy()
    counts: collections.Counter = collections.Counter()
    seconds: list[tuple[float, int, str]] = []
    inputs: list[bytes] = []
    for k in range(args.files):
        source = corpus[rng.integers(len(corpus))]
        data = mutated_gif(source.read_bytes(), rng)
        inputs.append(data)
        try:
            gif = decode_gif(data, name="x.gif")
            expected, cause = gif.frames[sampling.sample_indices(gif.num_frames, T,
                                                                 training=False)], None
        except GifDecodeError as e:
            expected, cause = None, e.cause
        began = time.perf_counter()
        decoded = graph(tf.constant(data))
        message = decoded["error"].numpy().decode("utf-8")
        decoded["resized"].numpy()
        seconds.append((time.perf_counter() - began, k, source.name))
        # The samples, for the comparison: distinct frames repeated as the
        # slots say (outside the clock; serving resizes the distinct ones).
        served = decoded["frames"].numpy()[decoded["slots"].numpy()] if not message else None
        if expected is not None and served is not None:
            kind = "equal" if np.array_equal(expected, served) else "DIFFERENT FRAMES"
        elif expected is None and served is None:
            kind = "both_refuse" if cause == message else "OTHER WORDS"
        else:
            kind = "ONLY THE GRAPH REFUSES" if served is None else "ONLY THE REFERENCE REFUSES"
        counts[kind] += 1
        if kind not in ("equal", "both_refuse"):
            print(k, kind, cause, (message or "")[:200])
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"case-{args.seed}-{k}.gif").write_bytes(data)
    print(dict(counts))
    seconds.sort(reverse=True)
    print("slowest inputs (s, case, source): "
          + ", ".join(f"{t:.3f} #{k} {name}" for t, k, name in seconds[:5]))
    print(f"worst seconds per input: {seconds[0][0]:.3f} (goal <= 0.25); "
          f"median {np.median([t for t, _, _ in seconds]):.4f}")
    again = []
    for _, k, name in seconds[:5]:
        began = time.perf_counter()
        graph(tf.constant(inputs[k]))["resized"].numpy()
        again.append((time.perf_counter() - began, k, name))
    again.sort(reverse=True)
    print("the five slowest, again (s, case): "
          + ", ".join(f"{t:.3f} #{k}" for t, k, _ in again))
    print(f"worst seconds per input, called again: {again[0][0]:.3f} (goal <= 0.25)")


if __name__ == "__main__":
    main()
