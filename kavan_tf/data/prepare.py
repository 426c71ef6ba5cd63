"""``kavan prepare``: a manifest of GIFs -> TFRecord frame shards (+ a feature cache).

Resumable and crash-safe: each shard is written to a temporary file and
renamed into place only when complete, so a killed run leaves no half-written
shard under a name the readers take; re-running skips finished shards.
Unreadable GIFs are skipped and listed in ``prepare_report.json``.

Example:

```
kavan prepare --manifest data/manifest.csv --out data/shards --features
kavan train --manifest data/manifest.csv --shards data/shards
```
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from kavan_tf.config import KavanConfig
from kavan_tf.data import sampling
from kavan_tf.data.files import (
    atomic_json,
    check_settings,
    failure_cause,
    temp_files_removed_on_exit,
)
from kavan_tf.data.media import decode_media
from kavan_tf.data.pipeline import targets_of
from kavan_tf.data.shards import (
    FRAME_PATTERN,
    frame_example,
)
from kavan_tf.errors import ManifestError
from kavan_tf.keypoints import load_keypoints, pad_people
from kavan_tf.synthetic import data_origin

logger = logging.getLogger(__name__)

SETTINGS_FILE = "prepare.json"
REPORT_FILE = "prepare_report.json"


@dataclass
class PrepareReport:
    """What a ``prepare`` run did.

    Attributes:
        shards_written: Shards written by this run.
        shards_resumed: Finished shards found from an earlier run and kept.
        gifs_written: GIFs stored in the shards this run wrote.
        failures: ``{"gif_id", "path", "error"}`` of every GIF skipped (all runs).
        warnings: ``{"gif_id", "path", "warning"}`` of every GIF written whose
            decoding warned (a truncated or damaged file, kept up to the damage).
        feature_shards_written: Feature-cache shards written by this run.
    """

    shards_written: int = 0
    shards_resumed: int = 0
    gifs_written: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    feature_shards_written: int = 0

    def summary(self) -> str:
        lines = [
            f"shards written: {self.shards_written}, kept from an earlier run: "
            f"{self.shards_resumed}, GIFs written: {self.gifs_written}",
            f"feature shards written: {self.feature_shards_written}",
            f"unreadable GIFs skipped: {len(self.failures)}",
        ]
        lines += [f"  {f['path']}: {f['error']}" for f in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more (see {REPORT_FILE})")
        if self.warnings:
            lines.append(f"GIFs written with a decoding warning: {len(self.warnings)}")
            lines += [f"  {w['path']}: {w['warning']}" for w in self.warnings[:20]]
            if len(self.warnings) > 20:
                lines.append(f"  ... and {len(self.warnings) - 20} more (see {REPORT_FILE})")
        return "\n".join(lines)


def _settings(rows: pd.DataFrame, config: KavanConfig, shard_size: int, encoding: str):
    data = config.data
    return {
        "num_rows": len(rows),
        "gif_ids_hash": _hash(rows["gif_id"].astype(str).tolist()),
        "shard_size": shard_size,
        "encoding": encoding,
        "image_size": list(config.model.image_size),
        "resize": data.resize,
        "background": list(data.background),
        "num_frames": config.model.num_frames,
        "backbone": config.model.backbone,
        "backbone_weights": config.model.backbone_weights,
        "feature_frames_per_segment": config.data.feature_frames_per_segment,
        **data_origin(rows),
    }


def _hash(items: list[str]) -> str:
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()[:16]


def encode_gif_record(
    row: pd.Series,
    config: KavanConfig,
    intensities,
    category,
    encoding: str,
    warnings: list[str] | None = None,
) -> bytes:
    """Decodes one GIF, resizes all its frames and serialises it for a frame shard.

    The decoder's warnings (a truncated or damaged file read up to the damage)
    are appended to ``warnings`` when it is given.
    """
    gif = decode_media(str(row["path"]), config.data)
    if warnings is not None:
        warnings.extend(gif.warnings)
    frames, transform = sampling.resize_frames(
        gif.frames,
        config.model.image_size,
        mode=config.data.resize,
        background=config.data.background,
    )
    keypoints = np.zeros((gif.num_frames, 0, 70, 3), np.float32)
    path = row.get("keypoints")
    if isinstance(path, str) and path:
        document = load_keypoints(path)
        if document.num_frames != gif.num_frames:
            raise ManifestError(
                f"{path}: keypoints for {document.num_frames} frames, GIF has {gif.num_frames}"
            )
        keypoints = sampling.transform_keypoints(pad_people(document.frames), transform)
    return frame_example(
        str(row["gif_id"]), frames, gif.delays_ms, keypoints, intensities, category, encoding,
        media_format=gif.format,
    )


def prepare(
    rows: pd.DataFrame,
    out_dir: str,
    config: KavanConfig,
    *,
    shard_size: int = 256,
    encoding: str = "jpeg",
    feature_cache: Callable[[], int] | None = None,
    progress: bool = True,
    task_index: int = 0,
    num_tasks: int = 1,
) -> PrepareReport:
    """Writes frame shards (and optionally the backbone-feature cache) for manifest rows.

    Several machines: task ``task_index`` of ``num_tasks`` writes the shards
    ``s`` with ``s % num_tasks == task_index`` (and their features). Shard
    names are global, so the tasks write one set of shards into one folder
    without conflicts; each writes its report to ``parts/``, and the task that
    finds all parts present writes the merged ``prepare_report.json``.

    Args:
        rows: Manifest rows (``read_manifest`` output).
        out_dir: Output folder.
        config: Supplies image size, resize mode, decode limits, backbone.
        shard_size: GIFs per shard.
        encoding: Frame encoding in the shards, ``"jpeg"`` or ``"png"``.
        feature_cache: Called once the frame shards are written, to write the
            feature shards (frozen backbone, float16); returns how many it
            wrote. :func:`kavan_tf.training.feature_cache.feature_cache_writer`
            makes one (``kavan prepare --features``); the backbone lives
            above the data layer, so it is passed in.
        progress: Show progress bars.
        task_index: This task, ``0 <= task_index < num_tasks``.
        num_tasks: Tasks the shards are split across.

    Returns:
        This task's :class:`PrepareReport` (also written to
        ``prepare_report.json`` once all tasks are done).
    """
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"`num_tasks` must be an int >= 1. Received: num_tasks={num_tasks!r}")
    if not isinstance(task_index, int) or not 0 <= task_index < num_tasks:
        raise ValueError(
            f"`task_index` must be in [0, num_tasks). Received: task_index={task_index!r}, "
            f"num_tasks={num_tasks}"
        )
    if shard_size <= 0:
        raise ValueError(f"`shard_size` must be positive. Received: shard_size={shard_size}")
    if len(rows) == 0:
        raise ManifestError("The manifest has no rows to prepare")
    # Every file this run writes goes through a temporary name; the whole run,
    # settings and report included, is inside the block that removes them on a signal.
    with temp_files_removed_on_exit() as temp_files:
        os.makedirs(out_dir, exist_ok=True)
        check_settings(out_dir, SETTINGS_FILE, _settings(rows, config, shard_size, encoding))
        # Only this task's leftovers: other tasks may be writing into the folder now.
        for stale in glob.glob(os.path.join(out_dir, f"*.tmp-t{task_index}-*")):
            os.remove(stale)

        intensities, categories = targets_of(rows, config)
        report = PrepareReport()
        num_shards = (len(rows) + shard_size - 1) // shard_size
        mine = [s for s in range(num_shards) if s % num_tasks == task_index]
        total = sum(min(len(rows), (s + 1) * shard_size) - s * shard_size for s in mine)
        bar = tqdm(total=total, desc="prepare", unit="gif", disable=not progress)
        for shard in mine:
            final = os.path.join(out_dir, FRAME_PATTERN.format(index=shard))
            sidecar = final + ".json"
            start, stop = shard * shard_size, min(len(rows), (shard + 1) * shard_size)
            if os.path.exists(final):
                report.shards_resumed += 1
                failures, warned = _read_sidecar(sidecar)
                report.failures += failures
                report.warnings += warned
                bar.update(stop - start)
                continue
            tmp = f"{final}.tmp-t{task_index}-{os.getpid()}"
            temp_files.append(tmp)
            failures, warned, written = [], [], []
            with tf.io.TFRecordWriter(tmp) as writer:
                for i in range(start, stop):
                    row = rows.iloc[i]
                    ids = {"gif_id": str(row["gif_id"]), "path": str(row["path"])}
                    file_warnings: list[str] = []
                    try:
                        record = encode_gif_record(row, config, intensities[i], categories[i],
                                                   encoding, file_warnings)
                    except Exception as e:  # noqa: BLE001 - one file never stops the run
                        cause = failure_cause(e, ids["path"])
                        logger.warning("skipping %s: %s", ids["path"], cause)
                        failures.append({**ids, "error": cause})
                    else:
                        writer.write(record)
                        written.append(ids["gif_id"])
                        warned += [{**ids, "warning": w} for w in file_warnings]
                    bar.update(1)
            # The sidecar first, the shard last: the shard's name marks a finished shard.
            atomic_json(sidecar, {"gif_ids": written, "failures": failures, "warnings": warned})
            os.replace(tmp, final)
            temp_files.remove(tmp)
            report.shards_written += 1
            report.gifs_written += len(written)
            report.failures += failures
            report.warnings += warned
        bar.close()
        if feature_cache is not None:
            report.feature_shards_written = feature_cache()
        if num_tasks == 1:
            atomic_json(os.path.join(out_dir, REPORT_FILE), asdict(report))
        else:
            _merge_reports(out_dir, report, task_index, num_tasks)
        return report


def _merge_reports(out_dir: str, report: PrepareReport, task_index: int, num_tasks: int) -> None:
    parts = os.path.join(out_dir, "parts")
    os.makedirs(parts, exist_ok=True)

    def part(i: int) -> str:
        return os.path.join(parts, f"prepare-report-{i:05d}-of-{num_tasks:05d}.json")

    atomic_json(part(task_index), asdict(report))
    if not all(os.path.exists(part(i)) for i in range(num_tasks)):
        return
    merged = PrepareReport()
    for i in range(num_tasks):
        with open(part(i), encoding="utf-8") as f:
            values = json.load(f)
        for key in ("shards_written", "shards_resumed", "gifs_written", "feature_shards_written"):
            setattr(merged, key, getattr(merged, key) + values[key])
        merged.failures += values["failures"]
        merged.warnings += values["warnings"]
    atomic_json(os.path.join(out_dir, REPORT_FILE), asdict(merged))


def _read_sidecar(sidecar: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    if not os.path.exists(sidecar):
        return [], []
    with open(sidecar, encoding="utf-8") as f:
        values = json.load(f)
    return list(values.get("failures", [])), list(values.get("warnings", []))
