"""Input pipeline against the ResNet-50 model's consumption (issue 6, goal 3).

In one process: GIFs/s of the training tf.data pipeline
(:func:`kavan_tf.data.pipeline.build_dataset`: decode + TSN sample + resize to
224 x 224 + 7 x 7 heatmaps, parallel map over all cores, batch 8) on
synthetic GIFs with keypoints, against GIFs/s the ResNet-50 KAVAN model
consumes (forward pass, T = 8, batch 8, float32). Goal: >= 10x.

    python benchmarks/bench_input_pipeline.py [--gifs 200] [--size 160]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import build_dataset
from kavan_tf.models import KavanModel
from kavan_tf.synthetic import SyntheticConfig, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=200)
    parser.add_argument("--size", type=int, default=160, help="synthetic GIF side")
    parser.add_argument("--model-batches", type=int, default=3)
    args = parser.parse_args()

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
