"""Training on votes: the input pipeline's votes/s and peak RSS at GIFGIF's size.

A gzipped GIFGIF-format dump of ``--votes`` random votes (default 2.7 M, the
public dump's size; 17 emotions, 10 % draws) over the GIFs of a small
synthetic manifest (``--gifs``, 48 x 48, 4-6 frames) is written once. Each
part then runs in a fresh process, which reads its own peak RSS from /proc
(``VmHWM``):

- ``index``: the dump streamed into the vote index (``kavan train --votes``'
  one pass over the CSV): votes/s and peak RSS;
- ``pipeline``: the index, then ``--batches`` batches of ``--batch-size``
  votes from :func:`kavan_tf.data.vote_pipeline.build_vote_dataset` (one
  epoch's permutation of every vote, each vote's two GIFs decoded at the
  tiny test model's 32 x 32, T = 4): votes/s after the first batch, the
  seconds to the first batch (the permutation), and peak RSS.

    python benchmarks/bench_votes.py [--votes 2700000] [--gifs 64] [--batches 50]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
part, work, batches, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.vote_pipeline import build_vote_dataset, index_votes
config = KavanConfig.from_dict({
    "model": {"backbone": "small", "backbone_weights": None, "image_size": [32, 32],
              "num_frames": 4, "node_size": 2, "hidden_size": 8, "attention_size": 4},
    "data": {"batch_size": batch_size}, "loss": {"w_vote": 1.0}})
rows = read_manifest(os.path.join(work, "data", "manifest.csv"))
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key)) / 1024
imported = status("VmRSS")
start = time.perf_counter()
index = index_votes(os.path.join(work, "votes.csv.gz"), rows, config, os.path.join(work, part))
result = {"index_s": time.perf_counter() - start, "votes": index.num_votes}
if part == "pipeline":
    dataset = build_vote_dataset(index, rows, config, feature_grid=(1, 1), epoch=0)
    start = time.perf_counter()
    it = iter(dataset)
    next(it)
    result["first_batch_s"] = time.perf_counter() - start
    start, seen = time.perf_counter(), 0
    for _ in range(batches):
        frames, _ = next(it)
        seen += frames.shape[0] // 2
    result["pipeline_s"] = time.perf_counter() - start
    result["pipeline_votes"] = seen
result["peak_rss_mb"], result["imports_rss_mb"] = status("VmHWM"), imported
print(json.dumps(result), flush=True)
# Threads of the unfinished iterator may be inside numpy_function: skip their teardown.
os._exit(0)
"""


def write_dump(path: str, gif_ids: list[str], count: int, seed: int = 0) -> float:
    """A random GIFGIF-format dump; returns the seconds it took."""
    import numpy as np

    from kavan_tf.labels import EMOTIONS

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    left = rng.integers(len(gif_ids), size=count)
    right = (left + rng.integers(1, len(gif_ids), size=count)) % len(gif_ids)
    emotion = rng.integers(len(EMOTIONS), size=count)
    choice = rng.choice(3, size=count, p=[0.45, 0.45, 0.1])
    ids = np.asarray(gif_ids)
    names = np.asarray([e.lower() for e in EMOTIONS])
    words = np.asarray(["left", "right", "neither"])
    with gzip.open(path, "wt", compresslevel=1, encoding="utf-8", newline="") as f:
        f.write("metric,left,right,choice\n")
        for lo in range(0, count, 500_000):
            hi = min(count, lo + 500_000)
            lines = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(
                names[emotion[lo:hi]], ","), ids[left[lo:hi]]), ","), ids[right[lo:hi]]), ","),
                words[choice[lo:hi]])
            f.write("\n".join(lines.tolist()) + "\n")
    return time.perf_counter() - start


def run_part(part: str, work: str, batches: int, batch_size: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, part, work, str(batches),
                          str(batch_size)], capture_output=True, text=True, check=False,
                         timeout=1800)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=2_700_000)
    parser.add_argument("--gifs", type=int, default=64)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--part", choices=("index", "pipeline", "all"), default="all")
    args = parser.parse_args()

    from kavan_tf.synthetic import SyntheticConfig, generate_dataset

    with tempfile.TemporaryDirectory() as work:
        manifest = generate_dataset(os.path.join(work, "data"), SyntheticConfig(
            num_gifs=args.gifs, frame_size=(48, 48), num_frames=(4, 6)))
        import pandas as pd

        ids = pd.read_csv(manifest, dtype={"gif_id": str})["gif_id"].tolist()
        dump = os.path.join(work, "votes.csv.gz")
        made = write_dump(dump, ids, args.votes)
        print(f"dump: {args.votes:,} votes over {len(ids)} GIFs, "
              f"{os.path.getsize(dump) / 1e6:.1f} MB gzipped, written in {made:.1f} s")
        for part in (("index", "pipeline") if args.part == "all" else (args.part,)):
            r = run_part(part, work, args.batches, args.batch_size)
            line = (f"{part}: index {r['votes']:,} votes in {r['index_s']:.1f} s "
                    f"({r['votes'] / r['index_s']:,.0f} votes/s)")
            if part == "pipeline":
                line += (f"; first batch after {r['first_batch_s']:.2f} s; "
                         f"{r['pipeline_votes']} votes in {r['pipeline_s']:.1f} s "
                         f"({r['pipeline_votes'] / r['pipeline_s']:,.0f} votes/s, "
                         f"batch {args.batch_size}, each vote's two GIFs decoded)")
            print(line + f"; peak RSS {r['peak_rss_mb']:.0f} MB ({r['imports_rss_mb']:.0f} MB "
                  "after importing TensorFlow, before the dump is read)")


if __name__ == "__main__":
    main()
