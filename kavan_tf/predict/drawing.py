"""Overlays and the report of ``kavan predict``, drawn on the frames decoded for the prediction."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from kavan_tf.errors import KavanError
from kavan_tf.predict.overlays import (
    encode_gif,
    find_keypoint_files,
    overlay_names,
    render_overlay,
    supervision_heatmaps,
)
from kavan_tf.predict.predictor import GifResult
from kavan_tf.predict.report import write_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrawnFiles:
    """What :func:`draw_results` wrote.

    Attributes:
        overlays: The overlay files, in the order of the results.
        report: The HTML report, or ``None``.
        heatmaps: Results whose overlays show supervision heatmaps.
    """

    overlays: list[str] = field(default_factory=list)
    report: str | None = None
    heatmaps: int = 0


def draw_results(
    results: Sequence[GifResult],
    overlay_dir: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    keypoints: str | os.PathLike[str] | None = None,
    note: str | None = None,
) -> DrawnFiles:
    """Writes attention overlays to ``overlay_dir`` and/or the HTML ``report``.

    The results must have been predicted with ``keep_frames=True``; no file is
    decoded again. Results without frames (files that failed) are skipped.

    Args:
        results: From :func:`kavan_tf.predict.predict_paths`.
        overlay_dir: Folder for one ``<name>.attention.gif`` per file.
        report: The self-contained HTML page.
        keypoints: Keypoint files (a file, a folder or a manifest, see
            :func:`kavan_tf.predict.overlays.find_keypoint_files`): the
            overlays show the supervision heatmaps beside the attention.
        note: A line for the report's header.
    """
    if keypoints is not None and not os.path.exists(keypoints):
        raise FileNotFoundError(f"{os.fspath(keypoints)}: no such keypoint file or folder")
    files = find_keypoint_files(results, keypoints) if keypoints is not None else {}
    overlays: dict[str, bytes] = {}
    with_heatmaps = 0
    for r in results:
        if r.frames is None or r.attention is None:
            continue
        heatmaps = None
        if r.path in files:
            try:
                heatmaps = supervision_heatmaps(r, files[r.path])
                with_heatmaps += 1
            except (OSError, ValueError, KavanError) as e:
                logger.warning("%s: no supervision heatmaps (%s)", r.path, e)
        overlays[r.path] = encode_gif(render_overlay(r, heatmaps=heatmaps))
    written = []
    if overlay_dir is not None:
        os.makedirs(overlay_dir, exist_ok=True)
        names = overlay_names(results)
        for path, data in overlays.items():
            target = os.path.join(overlay_dir, names[path])
            with open(target, "wb") as f:
                f.write(data)
            written.append(target)
    if report is not None:
        write_report(results, report, overlays, note=note)
    return DrawnFiles(written, os.fspath(report) if report is not None else None, with_heatmaps)


__all__ = ["DrawnFiles", "draw_results"]
