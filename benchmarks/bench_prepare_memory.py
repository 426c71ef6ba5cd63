"""Peak memory of ``kavan prepare`` over 1,000 GIFs stays flat (issue 6, goal 5).

Generates 1,000 synthetic GIFs, runs :func:`kavan_tf.data.prepare.prepare`
over them (shards of 100) while a thread samples the process's RSS, and
reports the peak RSS when the first 500 GIFs are in shards against the peak
at the end. Goal: the last 500 GIFs raise the peak by less than 10 %.

    python benchmarks/bench_prepare_memory.py [--gifs 1000] [--features]
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import threading
import time

import psutil

from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.prepare import prepare
from kavan_tf.synthetic import SyntheticConfig, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(f"{tmp}/data", SyntheticConfig(num_gifs=args.gifs))
        config = KavanConfig.from_dict({"model": {"backbone": "small", "backbone_weights": None,
                                                  "image_size": [112, 112]}})
        rows = read_manifest(manifest, config.labels)
        out = f"{tmp}/shards"
        process = psutil.Process(os.getpid())
        half_shards = args.gifs // 2 // args.shard_size
        peaks = {"half": 0, "all": 0}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss = process.memory_info().rss
                peaks["all"] = max(peaks["all"], rss)
                if len(glob.glob(f"{out}/frames-*.tfrecord")) < half_shards:
                    peaks["half"] = max(peaks["half"], rss)
                time.sleep(0.02)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        began = time.perf_counter()
        report = prepare(rows, out, config, shard_size=args.shard_size, progress=False)
        elapsed = time.perf_counter() - began
        done.set()
        thread.join()

    growth = peaks["all"] / peaks["half"] - 1
    print(f"prepared {report.gifs_written} GIFs in {elapsed:.1f} s "
          f"({report.gifs_written / elapsed:.1f} GIFs/s)")
    print("| peak RSS after the first half | peak RSS at the end | growth | goal |")
    print("|---|---|---|---|")
    print(f"| {peaks['half'] / 2**20:.0f} MiB | {peaks['all'] / 2**20:.0f} MiB "
          f"| {100 * growth:+.1f} % | < +10 % |")


if __name__ == "__main__":
    main()
