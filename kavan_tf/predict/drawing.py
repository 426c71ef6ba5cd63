"""Overlays and the report of ``kavan predict``, drawn on the frames decoded for the prediction.

:class:`Drawing` draws each result as it comes: its overlay file is written
and its report images are set aside at once, and only the small result
(:meth:`GifResult.without_frames`) is kept for the page, which is built at
the end. Memory holds one batch of frames however many files there are
(docs/serving.md, "Predicting on files").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from kavan_tf.errors import KavanError
from kavan_tf.predict.overlays import (
    KeypointFiles,
    OverlayNames,
    encode_gif,
    render_overlay,
    supervision_heatmaps,
)
from kavan_tf.predict.report import ReportWriter
from kavan_tf.predict.results import GifResult

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


class Drawing:
    """Writes attention overlays to ``overlay_dir`` and/or the HTML ``report``, one result
    at a time.

    Results must have been predicted with ``keep_frames=True``; no file is
    decoded again. Results without frames (files that failed) get no overlay.

    Args:
        overlay_dir: Folder for one ``<name>.attention.gif`` per file.
        report: The self-contained HTML page.
        keypoints: Keypoint files (a file, a folder or a manifest, see
            :class:`kavan_tf.predict.overlays.KeypointFiles`): the overlays
            show the supervision heatmaps beside the attention.
        note: A line for the report's header.

    Raises:
        FileNotFoundError: ``keypoints`` does not exist.

    Example:

    ```python
    with Drawing("overlays/", "report.html") as drawing:
        kept = [drawing.add(r) for r in iter_predictions(predictor, ["gifs/"],
                                                         keep_frames=True)]
        files = drawing.close()
    ```
    """

    def __init__(
        self,
        overlay_dir: str | os.PathLike[str] | None = None,
        report: str | os.PathLike[str] | None = None,
        keypoints: str | os.PathLike[str] | None = None,
        note: str | None = None,
    ) -> None:
        self._keypoints = KeypointFiles(keypoints) if keypoints is not None else None
        self.overlay_dir = os.fspath(overlay_dir) if overlay_dir is not None else None
        if self.overlay_dir is not None:
            os.makedirs(self.overlay_dir, exist_ok=True)
        self._report = ReportWriter(report, note=note) if report is not None else None
        self._names = OverlayNames()
        self._written: list[str] = []
        self._heatmaps = 0

    def add(self, result: GifResult) -> GifResult:
        """Draws one result; returns it without its frames (what the page keeps)."""
        name = self._names.name(result.path)
        keypoint_file = self._keypoints.find(result.path) if self._keypoints else None
        overlay = None
        if result.frames is not None and result.attention is not None:
            overlay = encode_gif(render_overlay(result, heatmaps=self._heatmaps_of(
                result, keypoint_file)))
            if self.overlay_dir is not None:
                target = os.path.join(self.overlay_dir, name)
                with open(target, "wb") as f:
                    f.write(overlay)
                self._written.append(target)
        if self._report is not None:
            self._report.add(result, overlay)
        return result.without_frames()

    def _heatmaps_of(self, result: GifResult, keypoint_file: str | None):
        if keypoint_file is None:
            return None
        try:
            heatmaps = supervision_heatmaps(result, keypoint_file)
        except (OSError, ValueError, KavanError) as e:
            logger.warning("%s: no supervision heatmaps (%s)", result.path, e)
            return None
        self._heatmaps += 1
        return heatmaps

    def close(self) -> DrawnFiles:
        """Writes the report's page; returns what was written."""
        report = self._report.close() if self._report is not None else None
        return DrawnFiles(list(self._written), report, self._heatmaps)

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._report is not None:
            self._report.discard()


def draw_results(
    results: Iterable[GifResult],
    overlay_dir: str | os.PathLike[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    keypoints: str | os.PathLike[str] | None = None,
    note: str | None = None,
) -> DrawnFiles:
    """Writes attention overlays to ``overlay_dir`` and/or the HTML ``report`` (:class:`Drawing`).

    Args:
        results: From :func:`kavan_tf.predict.predict_paths` or
            :func:`kavan_tf.predict.iter_predictions` with ``keep_frames=True``.
        overlay_dir: Folder for one ``<name>.attention.gif`` per file.
        report: The self-contained HTML page.
        keypoints: Keypoint files: the overlays show the supervision heatmaps
            beside the attention.
        note: A line for the report's header.
    """
    with Drawing(overlay_dir, report, keypoints, note) as drawing:
        for r in results:
            drawing.add(r)
        return drawing.close()


__all__ = ["DrawnFiles", "Drawing", "draw_results"]
