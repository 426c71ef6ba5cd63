"""``kavan keypoints``: a manifest of GIFs -> one keypoint file per GIF + a new manifest.

Every frame of every GIF gets keypoints (training may sample any frame of a
segment), from a face detector feeding dlib's 68-point predictor
(:class:`kavan_tf.keypoints.dlib.FaceEstimator`: ``dlib``, ``dlib-cnn``
or ``mtcnn``) or from OpenPose output (``openpose:DIR``). Short gaps where
the detector missed a face are filled from the neighbouring frames
(:func:`kavan_tf.keypoints.temporal_fill.fill_gaps`).

Output folder ``OUT``:

- ``OUT/<gif_id>.json.gz``: the ``kavan-keypoints-v1`` files;
- ``OUT/manifest.csv``: the input manifest with the ``keypoints`` column
  filled (paths relative to it); GIFs that failed keep an empty one;
- ``OUT/keypoints_report.json``: counts, and every failure with its cause;
- ``OUT/keypoints.json``: the settings; a re-run with other settings is refused;
- ``OUT/parts/``: each task's part of the manifest and report.

Resumable and crash-safe: a keypoint file is written under a temporary name
(``.<gif_id>.tmp-t<task>.json.gz``, never read) and renamed when
complete, so a re-run after a kill redoes only the GIFs without a file.

Several machines: ``task_index``/``num_tasks`` (``--task-index I
--num-tasks N``, e.g. a Slurm array) give task ``I`` the rows ``i`` with
``i % N == I``. Each task writes its files and its part; the task that finds
all ``N`` parts present writes the merged manifest and report (re-running any
finished task merges again).

Example:

```
kavan keypoints --manifest data/manifest.csv --out data/keypoints
kavan prepare --manifest data/keypoints/manifest.csv --out data/shards
```
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import glob
import json
import logging
import multiprocessing
import os
import re
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from kavan_tf.config import DataConfig, LabelConfig
from kavan_tf.data.files import (
    atomic_json,
    check_settings,
    failure_cause,
    temp_files_removed_on_exit,
)
from kavan_tf.data.manifest import write_manifest
from kavan_tf.data.media import decode_media
from kavan_tf.errors import ManifestError
from kavan_tf.keypoints import KeypointSource, load_keypoints, make_keypoint_source, save_keypoints
from kavan_tf.keypoints.dlib import FaceEstimator
from kavan_tf.keypoints.temporal_fill import fill_gaps
from kavan_tf.processes import stopped_pool

logger = logging.getLogger(__name__)

SETTINGS_FILE = "keypoints.json"
REPORT_FILE = "keypoints_report.json"
MANIFEST_FILE = "manifest.csv"
PARTS_DIR = "parts"
DETECTOR_SOURCES = ("dlib", "dlib-cnn", "mtcnn")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class KeypointsReport:
    """What a ``kavan keypoints`` task did (or, merged, all tasks).

    Attributes:
        gifs: GIFs of this task (all tasks when merged).
        gifs_written: Keypoint files written by this run.
        gifs_resumed: Finished files found from an earlier run and kept.
        frames: Frames of the GIFs with a keypoint file.
        frames_detected: Frames where the source found at least one face.
        frames_filled: Frames without a detection that got keypoints from
            their neighbours.
        failures: ``{"gif_id", "path", "error"}`` of every GIF skipped.
        seconds: Wall time of this run.
    """

    gifs: int = 0
    gifs_written: int = 0
    gifs_resumed: int = 0
    frames: int = 0
    frames_detected: int = 0
    frames_filled: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        share = self.frames_detected / max(self.frames, 1)
        filled = (self.frames_detected + self.frames_filled) / max(self.frames, 1)
        lines = [
            f"GIFs: {self.gifs} (written {self.gifs_written}, kept from an earlier run "
            f"{self.gifs_resumed}, failed {len(self.failures)})",
            f"frames with keypoints: {share:.1%} detected, {filled:.1%} after temporal "
            f"filling (of {self.frames} frames)",
        ]
        lines += [f"  {f['path']}: {f['error']}" for f in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more (see {REPORT_FILE})")
        return "\n".join(lines)


def keypoint_file_name(gif_id: str) -> str:
    """The keypoint file of a GIF: ``<gif_id>.json.gz``.

    Raises:
        ManifestError: The id cannot be a file name (a path separator, a
            leading dot, or other characters than letters, digits, ``._-``).
    """
    if not _SAFE_NAME.match(gif_id) or len(gif_id) > 200:
        raise ManifestError(
            f"gif_id {gif_id!r} cannot name a keypoint file (letters, digits and '._-' only, "
            "not starting with '.' or '-')"
        )
    return f"{gif_id}.json.gz"


def parse_source(spec: str) -> tuple[str, str | None]:
    """``"dlib"`` -> ``("dlib", None)``; ``"openpose:DIR"`` -> ``("openpose", DIR)``."""
    if spec in DETECTOR_SOURCES:
        return spec, None
    if spec.startswith("openpose:") and len(spec) > len("openpose:"):
        folder = spec.split(":", 1)[1]
        if not os.path.isdir(folder):
            raise ValueError(f"--source {spec}: {folder}: OpenPose output folder not found")
        return "openpose", folder
    raise ValueError(
        f"`source` must be one of {', '.join(DETECTOR_SOURCES)} or openpose:DIR. "
        f"Received: {spec!r}"
    )


def make_source(spec: str, options: dict[str, Any] | None = None) -> KeypointSource:
    """The :class:`KeypointSource` of a ``--source`` value."""
    kind, folder = parse_source(spec)
    return make_keypoint_source(kind, folder, **({} if kind == "openpose" else options or {}))


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------------ one GIF

_worker: dict[str, Any] = {}


def _init_worker(spec: str, options: dict[str, Any], fill: dict[str, Any],
                 data: DataConfig, in_pool: bool) -> None:
    if in_pool:
        # The parent decides; a worker stops at once (its temp file is removed
        # by `_process_one`'s cleanup), and Ctrl-C reaches only the parent.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _exit_on_signal)
        if spec == "mtcnn":
            # mtcnn (optional extra) runs on TensorFlow; dlib and openpose workers never load it.
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
    source = make_source(spec, options)
    if hasattr(source, "load"):
        source.load()
    _worker.update(source=source, fill=fill, data=data, spec=spec)


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _process_one(gif_id: str, path: str, final: str, temp: str) -> dict[str, Any]:
    """Keypoints of one GIF, written to ``final``; a failure is returned, not raised."""
    source: KeypointSource = _worker["source"]
    start = time.perf_counter()
    try:
        gif = decode_media(path, _worker["data"])
        frames = source.keypoints_for(gif_id, gif.frames)
        detected = sum(len(f) > 0 for f in frames)
        frames, filled = fill_gaps(frames, **_worker["fill"])
        height, width = gif.frames.shape[1:3]
        try:
            save_keypoints(temp, frames, (width, height), source.source_name or "openpose",
                           filled=np.flatnonzero(filled).tolist())
            os.replace(temp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
    except Exception as e:  # noqa: BLE001 - one GIF never stops the run
        return {"gif_id": gif_id, "path": path, "error": failure_cause(e, path)}
    return {
        "gif_id": gif_id,
        "frames": len(frames),
        "detected": int(detected),
        "filled": int(filled.sum()),
        "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------- a task


def _settings(spec: str, options: dict[str, Any], fill: dict[str, Any]) -> dict[str, Any]:
    kind, folder = parse_source(spec)
    if folder is not None:  # openpose:DIR
        described: dict[str, Any] = {"source": "openpose", "folder": os.path.abspath(folder)}
    else:
        described = {"source": kind, **FaceEstimator(kind, **options).settings()}
    return {"format": "kavan-keypoints-run-v1", **described, "fill": fill}


def _stats_of_file(path: str, gif_id: str) -> dict[str, Any]:
    document = load_keypoints(path)
    detected = sum(len(f) > 0 for t, f in enumerate(document.frames) if t not in document.filled)
    return {"gif_id": gif_id, "frames": document.num_frames, "detected": detected,
            "filled": len(document.filled)}


def extract_keypoints(
    rows: pd.DataFrame,
    out_dir: str,
    source: str = "mtcnn",
    *,
    estimator_options: dict[str, Any] | None = None,
    max_gap: int = 3,
    fill_confidence: float = 0.5,
    data: DataConfig | None = None,
    labels: LabelConfig | None = None,
    workers: int | None = None,
    task_index: int = 0,
    num_tasks: int = 1,
    manifest_out: str | None = None,
    progress: bool = True,
) -> KeypointsReport:
    """Writes keypoint files for this task's manifest rows, and merges when all tasks are done.

    Args:
        rows: Manifest rows (``read_manifest`` output: absolute paths).
        out_dir: Output folder (see the module docs for its layout).
        source: ``"dlib"``, ``"dlib-cnn"``, ``"mtcnn"`` or ``"openpose:DIR"``.
        estimator_options: Passed to :class:`FaceEstimator` (``upsample``,
            ``min_face_size``, ``max_faces``, ...).
        max_gap: Longest run of frames without a face that is filled from its
            neighbours (0: no filling).
        fill_confidence: Confidence factor of filled frames.
        data: Decoding limits and background colour (``DataConfig()``).
        labels: The manifest's emotions (to validate the merged manifest).
        workers: Processes (default: the cores this process may use); 1
            runs in this process.
        task_index: This task, ``0 <= task_index < num_tasks``.
        num_tasks: Tasks the rows are split across.
        manifest_out: The merged manifest (default ``OUT/manifest.csv``).
        progress: Show a progress bar.

    Returns:
        This task's :class:`KeypointsReport` (also written to ``OUT/parts/``).
    """
    for name, value, low in (("num_tasks", num_tasks, 1), ("task_index", task_index, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}. Received: {name}={value!r}")
    if task_index >= num_tasks:
        raise ValueError(
            f"`task_index` must be below `num_tasks`. Received: task_index={task_index}, "
            f"num_tasks={num_tasks}"
        )
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"`workers` must be an int >= 1. Received: workers={workers!r}")
    if len(rows) == 0:
        raise ManifestError("The manifest has no rows")
    data = data if data is not None else DataConfig()
    options = dict(estimator_options or {})
    fill: dict[str, Any] = {"max_gap": max_gap, "confidence_factor": fill_confidence}
    fill_gaps([], **fill)  # validates the arguments before any work
    names = [keypoint_file_name(str(g)) for g in rows["gif_id"]]
    settings = _settings(source, options, fill)

    # Every file this run writes goes through a temporary name; the whole run,
    # settings and report included, is inside the block that removes them on a signal.
    with temp_files_removed_on_exit() as temp_files:
        os.makedirs(os.path.join(out_dir, PARTS_DIR), exist_ok=True)
        check_settings(out_dir, SETTINGS_FILE, settings)
        for stale in glob.glob(os.path.join(out_dir, f".*.tmp-t{task_index}.json.gz")):
            os.remove(stale)

        mine = [i for i in range(len(rows)) if i % num_tasks == task_index]
        report = KeypointsReport(gifs=len(mine))
        results: dict[str, dict[str, Any]] = {}
        todo = []
        for i in mine:
            gif_id = str(rows["gif_id"].iloc[i])
            final = os.path.join(out_dir, names[i])
            if os.path.exists(final):
                try:
                    results[gif_id] = _stats_of_file(final, gif_id)
                    report.gifs_resumed += 1
                    continue
                except Exception as e:  # noqa: BLE001 - a damaged file is redone
                    logger.warning("%s: redoing it (%s)", final, e)
            temp = os.path.join(out_dir, f".{names[i][:-8]}.tmp-t{task_index}.json.gz")
            todo.append((gif_id, str(rows["path"].iloc[i]), final, temp))

        start = time.perf_counter()
        bar = tqdm(total=len(mine), initial=report.gifs_resumed, desc=f"keypoints ({source})",
                   unit="gif", disable=not progress)
        frames_done = 0

        def record(result: dict[str, Any]) -> None:
            nonlocal frames_done
            if "error" in result:
                logger.warning("skipping %s: %s", result["path"], result["error"])
                report.failures.append(result)
            else:
                results[result["gif_id"]] = result
                report.gifs_written += 1
                frames_done += result["frames"]
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix_str(f"{frames_done / elapsed:.1f} frames/s", refresh=False)
            bar.update(1)

        # Largest files first, so that no worker is left with a big GIF at the end
        # while the others idle (longest-processing-time-first scheduling).
        todo.sort(key=lambda job: -_file_size(job[1]))
        init = (source, options, fill, data)
        if workers == 1 or len(todo) <= 1:
            _init_worker(*init, in_pool=False)
            for gif_id, path, final, temp in todo:
                temp_files.append(temp)
                record(_process_one(gif_id, path, final, temp))
        else:
            _run_pool(todo, init, min(workers, len(todo)), record, temp_files)
        bar.close()
        report.seconds = time.perf_counter() - start

        for result in results.values():
            report.frames += result["frames"]
            report.frames_detected += result["detected"]
            report.frames_filled += result["filled"]
        part = {
            "report": asdict(report),
            "keypoints": {str(rows["gif_id"].iloc[i]): names[i] for i in mine
                          if str(rows["gif_id"].iloc[i]) in results},
        }
        atomic_json(_part_path(out_dir, task_index, num_tasks), part)
        merge_parts(rows, out_dir, num_tasks, manifest_out=manifest_out, labels=labels)
        return report


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # reported when it is read
        return 0


def _run_pool(todo, init, workers, record, temp_files) -> None:
    """Runs ``_process_one`` over ``todo`` in ``workers`` spawned processes."""
    context = multiprocessing.get_context("spawn")
    executor = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(*init, True)
    )
    # A worker removes its temp file when stopped; the parent removes any left.
    temp_files.extend(temp for *_, temp in todo)
    with stopped_pool(executor):
        futures = [executor.submit(_process_one, *job) for job in todo]
        for future in concurrent.futures.as_completed(futures):
            record(future.result())


def _part_path(out_dir: str, task_index: int, num_tasks: int) -> str:
    return os.path.join(out_dir, PARTS_DIR, f"part-{task_index:05d}-of-{num_tasks:05d}.json")


def merge_parts(
    rows: pd.DataFrame,
    out_dir: str,
    num_tasks: int,
    *,
    manifest_out: str | None = None,
    labels: LabelConfig | None = None,
) -> KeypointsReport | None:
    """Writes the merged manifest and report once every task's part exists.

    Returns:
        The merged report, or ``None`` while parts are missing.
    """
    parts = [_part_path(out_dir, i, num_tasks) for i in range(num_tasks)]
    missing = [p for p in parts if not os.path.exists(p)]
    if missing:
        logger.info("%d of %d task parts still missing; not merging yet", len(missing),
                    num_tasks)
        return None
    merged = KeypointsReport()
    files: dict[str, str] = {}
    for path in parts:
        with open(path, encoding="utf-8") as f:
            part = json.load(f)
        files.update(part["keypoints"])
        for key in ("gifs", "gifs_written", "gifs_resumed", "frames", "frames_detected",
                    "frames_filled"):
            setattr(merged, key, getattr(merged, key) + part["report"][key])
        merged.failures += part["report"]["failures"]
        merged.seconds = max(merged.seconds, part["report"]["seconds"])
    manifest_out = manifest_out or os.path.join(out_dir, MANIFEST_FILE)
    folder = os.path.dirname(os.path.abspath(manifest_out))
    table = rows.copy()
    table["path"] = [os.path.relpath(p, folder) for p in table["path"]]
    table["keypoints"] = [
        os.path.relpath(os.path.join(out_dir, files[str(g)]), folder) if str(g) in files else ""
        for g in table["gif_id"]
    ]
    write_manifest(table, manifest_out, labels)
    atomic_json(os.path.join(out_dir, REPORT_FILE), asdict(merged))
    logger.info("Merged %d task parts into %s", num_tasks, manifest_out)
    return merged
