"""``kavan prepare``: decode GIFs once into TFRecord shards (+ feature cache)."""

from __future__ import annotations

import argparse

from kavan_tf.cli.common import (
    add_set_argument,
    add_task_arguments,
    check_task,
    load_config,
    read_rows,
)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("prepare", help="decode GIFs once into TFRecord shards (+ feature cache)")
    p.add_argument("--manifest", required=True, help="dataset manifest (.csv/.parquet)")
    p.add_argument("--out", required=True, help="output folder for the shards")
    p.add_argument("--config", help="experiment config (.toml or .json)")
    add_set_argument(p)
    p.add_argument("--shard-size", type=int, default=256, help="GIFs per shard")
    p.add_argument("--encoding", choices=["jpeg", "png"], default="jpeg")
    p.add_argument("--features", action="store_true",
                   help="also cache the frozen backbone's features (float16; "
                        "data.feature_frames_per_segment frames per TSN segment, default 3)")
    add_task_arguments(p)

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    check_task(args)
    config = load_config(args.config, args.set)
    rows = read_rows(config, args.manifest)  # errors before TensorFlow is imported
    from kavan_tf.data.prepare import prepare  # keeps TensorFlow out of kavan --help

    features = None
    if args.features:
        # Keras and the backbone load only for --features (and never for --help).
        from kavan_tf.training.feature_cache import feature_cache_writer

        features = feature_cache_writer(args.out, config, task_index=args.task_index,
                                        num_tasks=args.num_tasks)
    report = prepare(rows, args.out, config, shard_size=args.shard_size,
                     encoding=args.encoding, feature_cache=features, progress=True,
                     task_index=args.task_index, num_tasks=args.num_tasks)
    print(report.summary())
    return 1 if report.failures else 0
