"""Benchmark: a GIFGIF-sized vote dump through TrueSkill into a manifest.

Generates a synthetic dump (by default 2.7 M votes over 6,170 GIFs x 17
emotions, gzipped, like the public release), then times parsing alone, the
full :func:`kavan_tf.data.gifgif.rate_votes` (parse + TrueSkill) with the
vectorised wave method and, with ``--sequential``, the plain loop, and the
whole :func:`votes_to_manifest`.

Usage::

    python benchmarks/bench_trueskill.py [--votes 2700000] [--gifs 6170] [--sequential]
"""

from __future__ import annotations

import argparse
import os
import string
import tempfile
import time

import numpy as np
import pandas as pd

from kavan_tf.config import LabelConfig
from kavan_tf.data.gifgif import apply_vote_chunk, rate_votes, votes_to_manifest
from kavan_tf.data.trueskill import TrueSkillRatings
from kavan_tf.data.vote_dump import VoteReport, iter_vote_chunks, open_votes


def make_dump(path: str, num_votes: int, num_gifs: int, seed: int = 0) -> None:
    """Writes a gzipped dump whose votes follow hidden per-(GIF, emotion) qualities."""
    rng = np.random.default_rng(seed)
    emotions = np.array(LabelConfig().emotions)
    alphabet = np.array(list(string.ascii_letters + string.digits))
    ids = np.array(["".join(rng.choice(alphabet, 13)) for _ in range(num_gifs)])
    quality = rng.normal(0.0, 1.5, size=(num_gifs, len(emotions)))
    emotion = rng.integers(0, len(emotions), num_votes)
    left = rng.integers(0, num_gifs, num_votes)
    right = (left + rng.integers(1, num_gifs, num_votes)) % num_gifs
    p_left = 1.0 / (1.0 + np.exp(quality[right, emotion] - quality[left, emotion]))
    u = rng.random(num_votes)
    choice = np.where(
        u < 0.13, "neither", np.where(rng.random(num_votes) < p_left, "left", "right")
    )
    frame = pd.DataFrame(
        {"metric": emotions[emotion], "left": ids[left], "right": ids[right], "choice": choice}
    )
    frame.to_csv(path, index=False, compression={"method": "gzip", "compresslevel": 1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=2_700_000)
    parser.add_argument("--gifs", type=int, default=6_170)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequential", action="store_true", help="also time the plain loop")
    parser.add_argument("--dump", help="reuse or keep the generated dump at this path")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dump = args.dump or os.path.join(tmp, "votes.csv.gz")
        if not os.path.exists(dump):
            start = time.perf_counter()
            make_dump(dump, args.votes, args.gifs, args.seed)
            print(f"generated {dump} in {time.perf_counter() - start:.1f} s")
        print(f"dump: {os.path.getsize(dump) / 2**20:.1f} MiB")

        start = time.perf_counter()
        report = VoteReport(path=dump)
        gif_ids: list[str] = []
        with open_votes(dump) as (_, text):
            chunks = list(iter_vote_chunks(text, dump, LabelConfig(), gif_ids, report))
        _print("parse only", report.total_rows, time.perf_counter() - start)
        for method in ("waves", "sequential") if args.sequential else ("waves",):
            ratings = TrueSkillRatings(len(gif_ids) * len(LabelConfig().emotions))
            start = time.perf_counter()
            for chunk in chunks:
                apply_vote_chunk(ratings, chunk, len(LabelConfig().emotions), method)
            _print(
                f"TrueSkill only ({method})",
                sum(len(c) for c in chunks),
                time.perf_counter() - start,
            )

        start = time.perf_counter()
        waves = rate_votes(dump, method="waves")
        elapsed = time.perf_counter() - start
        _print("parse + TrueSkill (waves)", waves.report.votes_applied, elapsed)
        print(f"  {waves.report.num_waves} waves, {len(waves.gif_ids)} GIFs")

        if args.sequential:
            start = time.perf_counter()
            seq = rate_votes(dump, method="sequential")
            _print(
                "parse + TrueSkill (sequential)",
                seq.report.votes_applied,
                time.perf_counter() - start,
            )
            print(f"  max |mu_waves - mu_sequential| = {np.abs(waves.mu - seq.mu).max():.2e}")

        start = time.perf_counter()
        out = os.path.join(tmp, "manifest.csv")
        report = votes_to_manifest(dump, out, progress=False)
        _print("votes_to_manifest (CSV)", report.votes_applied, time.perf_counter() - start)


def _print(what: str, votes: int, seconds: float) -> None:
    print(f"{what:32s} {votes:>9d} votes {seconds:7.2f} s {votes / seconds:>11,.0f} votes/s")


if __name__ == "__main__":
    main()
