"""The cost of training on GIFGIF's votes (docs/gifgif.md), projected from a measured run.

Usage:

    python benchmarks/project_vote_training.py [--steps 6] [--batch-size 2]
        [--backbone resnet50] [--votes 2700000] [--gifs 6170]

Trains the paper's model (``KavanConfig()``'s model: frozen ResNet-50 at
224 x 224, T = 8, HS-LSTM; ``backbone_weights=None``, the same shapes and
time as ImageNet weights) with ``kavan train --votes``' code path
(:func:`kavan_tf.training.trainer.vote_data`, Thurstone votes plus the score
regression) on 16 synthetic GIFs (240 x 240, 24 frames, the GIF decoder
included) and their simulated votes, for ``--steps`` steps of
``--batch-size`` votes. The first step (tracing) is left out of the timing.

It then scales the measured GIFs/s to GIFGIF: an epoch over every vote is
``2 x --votes`` GIFs through the model, against ``--gifs`` for an epoch of
score regression. Every figure is for this machine (CPU unless a GPU is
visible), and says so.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2, help="votes per step")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--votes", type=int, default=2_700_000, help="GIFGIF's votes")
    parser.add_argument("--gifs", type=int, default=6170, help="GIFGIF's GIFs")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from kavan_tf.config import KavanConfig
    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.synthetic import SyntheticConfig, generate_dataset
    from kavan_tf.training.trainer import train, vote_data

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as work:
        manifest = generate_dataset(os.path.join(work, "data"), SyntheticConfig(
            num_gifs=16, frame_size=(240, 240), num_frames=(24, 24), votes_per_gif=2.0))
        config = KavanConfig.from_dict({
            "model": {"backbone": args.backbone, "backbone_weights": None},
            "data": {"batch_size": args.batch_size},
            "loss": {"w_vote": 1.0},
            "train": {"epochs": 1, "distribute": "none", "output_dir": os.path.join(work, "run")},
        })
        rows = read_manifest(manifest, config.labels)
        data, index = vote_data(os.path.join(work, "data", "votes.csv.gz"), rows, config,
                                votes_per_epoch=(args.steps + 1) * args.batch_size)
        times = StepTimes()
        train(config, None, train_dataset=data, verbose=0, extra_callbacks=[times])
    steps = len(times.ends) - 1
    seconds = times.ends[-1] - times.ends[0]
    gifs_per_s = steps * 2 * args.batch_size / seconds
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"measured: {steps} steps of {args.batch_size} votes ({2 * args.batch_size} GIFs, "
          f"T = {config.model.num_frames}, {args.backbone} frozen, "
          f"{config.model.image_size[0]} x {config.model.image_size[1]}) in {seconds:.1f} s "
          f"on {device}: {gifs_per_s:.2f} GIFs/s, {gifs_per_s / 2:.2f} votes/s "
          f"({index.num_votes} votes indexed)")
    vote_epoch = 2 * args.votes / gifs_per_s
    score_epoch = args.gifs / gifs_per_s
    print(f"GIFGIF on this machine: an epoch over all {args.votes:,} votes = "
          f"{2 * args.votes:,} GIFs through the model = {vote_epoch / 3600:,.0f} h "
          f"({vote_epoch / 86400:,.1f} days); an epoch of score regression "
          f"({args.gifs:,} GIFs) = {score_epoch / 3600:.2f} h; ratio "
          f"{2 * args.votes / args.gifs:,.0f}x")


if __name__ == "__main__":
    main()
