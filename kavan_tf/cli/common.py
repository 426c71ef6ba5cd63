"""What the ``kavan`` subcommands share: configs, manifests, path checks."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kavan_tf.config import KavanConfig, with_overrides

if TYPE_CHECKING:
    import pandas as pd


def load_config(path: str | None, sets: Sequence[str] = ()) -> KavanConfig:
    config = KavanConfig.from_file(path) if path else KavanConfig()
    if sets:
        config = apply_sets(config, sets)
    return config


def apply_sets(config: KavanConfig, sets: Sequence[str]) -> KavanConfig:
    """Applies ``section.key=value`` overrides (values parsed as JSON, else
    strings) through :func:`kavan_tf.config.with_overrides`."""
    sections: dict[str, dict[str, object]] = {}
    for item in sets:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--set expects section.key=value. Received: {item!r}")
        dotted, raw = item.split("=", 1)
        section, key = dotted.split(".", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        sections.setdefault(section, {})[key] = value
    try:
        return with_overrides(config, **sections)
    except ValueError as e:
        raise ValueError(f"--set: {e}") from e


def read_rows(config: KavanConfig, manifest: str) -> pd.DataFrame:
    from kavan_tf.data.manifest import read_manifest  # keeps pandas out of kavan --help

    return read_manifest(manifest, config.labels)


def check_task(args: argparse.Namespace) -> None:
    if args.num_tasks < 1:
        raise ValueError(f"--num-tasks must be >= 1. Received: {args.num_tasks}")
    if not 0 <= args.task_index < args.num_tasks:
        raise ValueError(
            f"--task-index must be in [0, --num-tasks). Received: --task-index "
            f"{args.task_index} with --num-tasks {args.num_tasks}"
        )


def require_path(path: str, what: str) -> None:
    """Fails fast, before TensorFlow is imported, on a path that is not there."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: {what} not found")


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task-index", type=int, default=0,
                   help="this task's index when the work is split across machines "
                        "(e.g. $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--num-tasks", type=int, default=1, help="tasks the work is split across")


def add_set_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (repeatable)",
    )


def positive_int(text: str) -> int:
    """An argparse type: an int of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_jobs_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jobs", type=positive_int, default=1, metavar="N",
        help="training runs at once, each in its own process (default 1; 2 on a 2-core "
             "machine finishes the small synthetic runs about 1.6x sooner)",
    )
