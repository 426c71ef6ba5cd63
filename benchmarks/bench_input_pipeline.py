"""Input pipeline against the ResNet-50 model's consumption (issue 6, goal 3).

In one process: GIFs/s of the training tf.data pipeline
(:func:`kavan_tf.data.pipeline.build_dataset`: decode + TSN sample + resize to
224 x 224 + 7 x 7 heatmaps, parallel map over all cores, batch 8) on
synthetic GIFs with keypoints, against GIFs/s the ResNet-50 KAVAN model
consumes (forward pass, T = 8, batch 8, float32). Goal: >= 10x.

``--workers 1,2`` measures the sharded input of several workers instead
(issue 33): each worker is a process building the input pipeline of its
``tf.distribute.InputContext`` (as ``distribute_datasets_from_function``
does under ``MultiWorkerMirroredStrategy``), all of them running one epoch
at once on the same machine; it prints the GIFs each worker decoded, the
GIFs/s per worker and the epoch's GIFs/s. Before issue 33 every worker
decoded every GIF.

    python benchmarks/bench_input_pipeline.py [--gifs 200] [--size 160]
    python benchmarks/bench_input_pipeline.py --workers 1,2 [--gifs 200]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time

import numpy as np
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import build_dataset
from kavan_tf.models import KavanModel
from kavan_tf.synthetic import SyntheticConfig, generate_dataset


def _worker_epoch(manifest: str, workers: int, index: int, threads: int, start, out) -> None:
    """One worker's share of one epoch: ``(GIFs decoded, seconds)`` into ``out``."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    config = KavanConfig.from_dict({"model": {"backbone_weights": None},
                                    "data": {"num_parallel_calls": threads}})
    rows = read_manifest(manifest, config.labels)
    context = tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=index,
                                         num_replicas_in_sync=workers)
    dataset = build_dataset(rows, config, training=True, feature_grid=(7, 7), epoch=0,
                            input_context=context)
    start.wait()
    began = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in dataset)
    out.put((index, count, time.perf_counter() - began))


def sharded_rates(manifest: str, workers: int, cores: int) -> list[tuple[int, int, float]]:
    """``(worker, GIFs decoded, seconds)`` of ``workers`` processes sharing one epoch."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    threads = max(1, cores // workers)
    processes = [context.Process(target=_worker_epoch,
                                 args=(manifest, workers, i, threads, start, out))
                 for i in range(workers)]
    for p in processes:
        p.start()
    time.sleep(1.0)
    start.set()
    results = sorted(out.get(timeout=600) for _ in processes)
    for p in processes:
        p.join(timeout=60)
    return results


def print_sharded(manifest: str, gifs: int, counts: list[int]) -> None:
    cores = multiprocessing.cpu_count()
    print(f"| workers | GIFs decoded per worker | GIFs/s per worker | epoch GIFs/s "
          f"({cores} cores shared) |")
    print("|---|---|---|---|")
    for workers in counts:
        results = sharded_rates(manifest, workers, cores)
        decoded = [c for _, c, _ in results]
        assert sum(decoded) == gifs, decoded
        per_worker = " / ".join(f"{c / s:.1f}" for _, c, s in results)
        epoch = gifs / max(s for _, _, s in results)
        print(f"| {workers} | {' / '.join(map(str, decoded))} | {per_worker} | {epoch:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=200)
    parser.add_argument("--size", type=int, default=160, help="synthetic GIF side")
    parser.add_argument("--model-batches", type=int, default=3)
    parser.add_argument("--workers", help="comma-separated worker counts: the sharded input")
    args = parser.parse_args()

    if args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = generate_dataset(
                tmp, SyntheticConfig(num_gifs=args.gifs, frame_size=(args.size, args.size))
            )
            print_sharded(manifest, args.gifs, [int(w) for w in args.workers.split(",")])
        return

    config = KavanConfig.from_dict({"model": {"backbone_weights": None}})  # ResNet-50, T=8
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(
            tmp, SyntheticConfig(num_gifs=args.gifs, frame_size=(args.size, args.size))
        )
        rows = read_manifest(manifest, config.labels)
        dataset = build_dataset(rows, config, training=True, feature_grid=(7, 7))
        for _ in dataset.take(1):
            pass
        began = time.perf_counter()
        count = sum(int(x.shape[0]) for x, _ in dataset)
        input_rate = count / (time.perf_counter() - began)

    model = KavanModel.from_kavan_config(config)
    frames = np.random.default_rng(0).uniform(0, 255, (8, 8, 224, 224, 3)).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False))
    forward(frames)
    began = time.perf_counter()
    for _ in range(args.model_batches):
        forward(frames)["intensities"].numpy()
    model_rate = 8 * args.model_batches / (time.perf_counter() - began)

    print("| stage | GIFs/s | ratio | goal |")
    print("|---|---|---|---|")
    print(f"| ResNet-50 KAVAN forward (T = 8, batch 8) | {model_rate:.2f} | | |")
    print(f"| input pipeline ({args.size}x{args.size} synthetic GIFs -> 224x224, "
          f"parallel map) | {input_rate:.1f} "
          f"| {input_rate / model_rate:.0f}x the model | >= 10x |")


if __name__ == "__main__":
    main()
