"""Input pipeline throughput: decode + TSN sample + resize + Eq. 8 heatmaps, and TrueSkill.

Prints the Markdown table of docs/data.md. One process, one thread, the real
per-GIF path of training (:func:`kavan_tf.data.pipeline.load_example`) at the
paper's sizes (T = 8, 224 x 224, 7 x 7 heatmaps), on:

- the three test corpora (``gifs/`` of the ``KAVAN_TESTDATA`` setting; files our decoder
  rejects are left out),
- synthetic GIFs with keypoint files (``kavan_tf.synthetic``),
- and votes/s of TrueSkill on a generated GIFGIF-sized dump (2.7 M votes).

    python benchmarks/bench_data.py [--synthetic 100] [--votes 2700000]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

from kavan_tf.config import KavanConfig
from kavan_tf.data.pipeline import load_example
from kavan_tf.errors import GifDecodeError

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting


def time_examples(items, config: KavanConfig, repeats: int = 2) -> tuple[float, int]:
    """GIFs/s of ``load_example`` (training sampling) over ``(gif, keypoints)`` pairs."""
    usable = []
    for gif, keypoints in items:
        try:
            load_example(gif, keypoints, config, training=True, feature_grid=(7, 7),
                         rng=np.random.default_rng(0))
            usable.append((gif, keypoints))
        except GifDecodeError:
            continue
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for _ in range(repeats):
        for gif, keypoints in usable:
            load_example(gif, keypoints, config, training=True, feature_grid=(7, 7), rng=rng)
    return repeats * len(usable) / (time.perf_counter() - began), len(usable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=100, help="synthetic GIFs")
    parser.add_argument("--votes", type=int, default=2_700_000)
    args = parser.parse_args()

    import logging

    logging.getLogger("kavan_tf").setLevel(logging.ERROR)
    config = KavanConfig()  # T = 8, 224 x 224, softmax heatmaps on 7 x 7
    corpora = require_testdata() / "gifs"
    rows = []
    for corpus in ("gif-test-suite", "pillow", "image-rs"):
        files = sorted((corpora / corpus).rglob("*.gif"))
        rate, count = time_examples([(str(f), None) for f in files], config)
        rows.append((f"{corpus} corpus ({count} GIFs)", rate))

    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.synthetic import SyntheticConfig, generate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(tmp, SyntheticConfig(num_gifs=args.synthetic))
        frame = read_manifest(manifest)
        items = list(zip(frame["path"], frame["keypoints"], strict=True))
        rate, count = time_examples(items, config)
        rows.append((f"synthetic 96x96, 8-12 frames, keypoints ({count} GIFs)", rate))

        from bench_trueskill import make_dump

        from kavan_tf.data.gifgif import rate_votes

        dump = f"{tmp}/votes.csv.gz"
        make_dump(dump, args.votes, 6_170)
        began = time.perf_counter()
        applied = rate_votes(dump).report.votes_applied
        votes_rate = applied / (time.perf_counter() - began)

    print("| input (decode + sample + resize to 224x224 + 7x7 heatmaps) | GIFs/s, 1 thread |")
    print("|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} |")
    print()
    print(f"TrueSkill over {args.votes:,} generated votes (parse + rate): "
          f"{votes_rate:,.0f} votes/s")


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    main()
