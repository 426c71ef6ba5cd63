"""``kavan train``: train one model."""

from __future__ import annotations

import argparse
import json
import os

from kavan_tf.cli.common import add_set_argument, load_config, read_rows
from kavan_tf.config import with_overrides
from kavan_tf.model_card import describe_data


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train one model")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    p.add_argument("--manifest", help="dataset manifest (.csv/.parquet)")
    add_set_argument(p)
    p.add_argument("--out", help="output folder (default: train.output_dir)")
    p.add_argument("--train-split", default=None, help="train on rows of this split")
    p.add_argument("--val-split", default=None, help="validate on rows of this split")
    p.add_argument("--shards", help="train on a `kavan prepare` folder instead (frame "
                   "shards; the feature cache when model.input_mode='features')")
    p.add_argument("--val-shards", help="validate on another prepared folder")
    p.add_argument("--votes", help="train on a GIFGIF vote dump (the `kavan votes` format) "
                   "over the GIFs of --manifest (needs loss.w_vote > 0; docs/gifgif.md)")
    p.add_argument("--votes-per-epoch", type=int, default=None,
                   help="with --votes: an epoch is this many votes, drawn afresh each epoch "
                   "(default: every vote)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.set)
    if args.out:
        config = with_overrides(config, train={"output_dir": args.out})
    if args.shards:
        # keeps TensorFlow out of kavan --help
        from kavan_tf.training.trainer import shard_dataset, train

        ignored = [flag for flag, value in (("--manifest", args.manifest),
                                            ("--train-split", args.train_split),
                                            ("--val-split", args.val_split)) if value]
        if ignored:
            raise ValueError(
                f"--shards {args.shards} already holds the training data; drop "
                f"{', '.join(ignored)} (validate on a prepared folder with --val-shards)"
            )

        val = shard_dataset(args.val_shards, config, training=False) if args.val_shards else None
        result = train(config, None, train_dataset=shard_dataset(args.shards, config,
                                                                 training=True),
                       val_dataset=val, data_description=describe_shards(args.shards))
        print(f"Trained model written to {os.path.join(result.output_dir, 'model.keras')}")
        return 0
    if not args.manifest:
        raise ValueError("kavan train needs --manifest or --shards")
    if args.votes:
        return run_votes(args, config)
    if args.val_shards:
        raise ValueError(
            f"--val-shards {args.val_shards} needs --shards (with --manifest, "
            "validate with --val-split)"
        )
    rows = read_rows(config, args.manifest)  # errors before TensorFlow is imported
    from kavan_tf.training.trainer import split_frame, train  # keeps TensorFlow out of kavan --help

    train_rows = split_frame(rows, args.train_split, args.manifest) if args.train_split else rows
    val_rows = split_frame(rows, args.val_split, args.manifest) if args.val_split else None
    result = train(config, train_rows, val_rows,
                   data_description=describe_data(train_rows, args.manifest, val_rows))
    print(f"Trained model written to {os.path.join(result.output_dir, 'model.keras')}")
    return 0


def run_votes(args: argparse.Namespace, config) -> int:
    """``kavan train --votes``: the votes over the GIFs of the manifest (its
    ``--train-split`` rows), validated on ``--val-split`` rows."""
    if args.val_shards:
        raise ValueError(f"--val-shards {args.val_shards} cannot be combined with --votes "
                         "(validate with --val-split)")
    rows = read_rows(config, args.manifest)
    from kavan_tf.training.trainer import split_frame, train, vote_data

    train_rows = split_frame(rows, args.train_split, args.manifest) if args.train_split else rows
    val_rows = split_frame(rows, args.val_split, args.manifest) if args.val_split else None
    data, index = vote_data(args.votes, train_rows, config,
                            votes_per_epoch=args.votes_per_epoch)
    print(index.summary())
    description = describe_data(train_rows, args.manifest, val_rows)
    description.update({"votes": os.path.abspath(args.votes), "train_votes": index.num_votes,
                        "votes_not_in_manifest": index.not_in_manifest,
                        "votes_per_epoch": data.num_examples})
    result = train(config, None, val_rows, train_dataset=data, data_description=description)
    print(f"Trained model written to {os.path.join(result.output_dir, 'model.keras')}")
    return 0


def describe_shards(folder: str) -> dict:
    """The model card's ``data`` entry for a ``kavan prepare`` folder."""
    from kavan_tf.data.prepare import SETTINGS_FILE  # keeps TensorFlow out of kavan --help

    path = os.path.join(folder, SETTINGS_FILE)
    settings = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    return {"manifest": None, "prepared": os.path.abspath(folder),
            "sha256": settings.get("gif_ids_hash"), "train_gifs": settings.get("num_rows"),
            "val_gifs": None, "synthetic": bool(settings.get("synthetic")),
            "label_mode": settings.get("label_mode")}
