"""The entry points of ``kavan predict`` and ``kavan export``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from kavan_tf.config import TOP_K
from kavan_tf.errors import KavanError
from kavan_tf.models.kavan import KavanModel
from kavan_tf.predict.formats import OUTPUT_FORMATS, write_results
from kavan_tf.predict.predictor import load_predictor, predict_paths

logger = logging.getLogger(__name__)


def run_predict(
    inputs: Sequence[str | os.PathLike[str]],
    model_path: str | os.PathLike[str],
    output_format: str = "table",
    output: str | os.PathLike[str] | None = None,
    overlay_dir: str | os.PathLike[str] | None = None,
    top_k: int = TOP_K,
    batch_size: int = 8,
    progress: bool = True,
    decoder: str = "graph",
    *,
    report: str | os.PathLike[str] | None = None,
    keypoints: str | os.PathLike[str] | None = None,
    note: str | None = None,
) -> int:
    """``kavan predict``: predicts files and prints or writes the results.

    Overlays and the report are drawn on the frames decoded for the
    prediction; no file is decoded twice.

    Args:
        inputs: GIF, WebP, APNG or video files, and/or folders of them.
        model_path: SavedModel folder (version or model folder) or ``.keras`` file.
        output_format: ``"table"``, ``"jsonl"`` or ``"csv"``.
        output: File to write; stdout when ``None``.
        overlay_dir: Write attention overlays here when set.
        top_k: Emotions listed per file.
        batch_size: Files per model call.
        progress: Progress bar on stderr.
        decoder: For SavedModels, ``"graph"`` (in-graph decoding, as TF
            Serving does) or ``"python"`` (the reference decoder); see
            :func:`load_predictor`.
        report: Write the HTML report here when set.
        keypoints: Keypoint files (a file, a folder or a manifest, see
            :func:`kavan_tf.predict.overlays.find_keypoint_files`): the
            overlays show the supervision heatmaps beside the attention.
        note: A line for the report's header.

    Returns:
        Exit status: 0 when every file was predicted, 1 when any failed.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"`output_format` must be one of {OUTPUT_FORMATS}. "
            f"Received: output_format={output_format!r}"
        )
    if keypoints is not None and not os.path.exists(keypoints):
        raise FileNotFoundError(f"{os.fspath(keypoints)}: no such keypoint file or folder")
    predictor = load_predictor(model_path, decoder=decoder)
    drawn = overlay_dir is not None or report is not None
    results = predict_paths(
        predictor, inputs, batch_size=batch_size, progress=progress, top_k=top_k,
        keep_frames=drawn,
    )
    target: str | os.PathLike[str] | TextIO = output if output is not None else sys.stdout
    write_results(results, output_format, target)
    if drawn:
        _draw(results, overlay_dir, report, keypoints, note)
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{failed} of {len(results)} file(s) could not be predicted", file=sys.stderr)
    if not results:
        print("No GIF, WebP, PNG or video files found", file=sys.stderr)
        return 1
    return 1 if failed else 0


def _draw(results, overlay_dir, report, keypoints, note) -> None:
    from kavan_tf.predict.overlays import (
        encode_gif,
        find_keypoint_files,
        overlay_names,
        render_overlay,
        supervision_heatmaps,
    )
    from kavan_tf.predict.report import write_report

    files = find_keypoint_files(results, keypoints) if keypoints is not None else {}
    overlays: dict[str, bytes] = {}
    for r in results:
        if r.frames is None or r.attention is None:
            continue
        heatmaps = None
        if r.path in files:
            try:
                heatmaps = supervision_heatmaps(r, files[r.path])
            except (OSError, ValueError, KavanError) as e:
                logger.warning("%s: no supervision heatmaps (%s)", r.path, e)
        overlays[r.path] = encode_gif(render_overlay(r, heatmaps=heatmaps))
    if keypoints is not None:
        logger.info("Supervision heatmaps for %d of %d file(s)", len(files), len(results))
    if overlay_dir is not None:
        os.makedirs(overlay_dir, exist_ok=True)
        names = overlay_names(results)
        for path, data in overlays.items():
            with open(os.path.join(overlay_dir, names[path]), "wb") as f:
                f.write(data)
        print(f"Wrote {len(overlays)} attention overlay(s) to {os.fspath(overlay_dir)}",
              file=sys.stderr)
    if report is not None:
        write_report(results, report, overlays, note=note)
        print(f"Wrote the report to {os.fspath(report)}", file=sys.stderr)


def run_export(
    model_path: str | os.PathLike[str],
    export_dir: str | os.PathLike[str] = "savedmodels",
    name: str = "kavan",
    version: int | None = None,
    warmup_gifs: Sequence[str | os.PathLike[str]] | None = None,
    precision: str = "float32",
    fold_batch_norm: bool = True,
) -> str:
    """``kavan export``: a ``.keras`` KavanModel -> ``<export_dir>/<name>/<version>/``.

    Args:
        model_path: The ``.keras`` file.
        export_dir: Root of the exported models.
        name: Served model name.
        version: Version number; the next one when ``None``.
        warmup_gifs: GIF files for the warm-up requests; a generated GIF when
            ``None``.
        precision: ``"float32"`` or ``"bfloat16"`` (see
            :func:`kavan_tf.inference.for_inference`).
        fold_batch_norm: Serve the backbone with its batch normalisations
            folded into the convolutions (same results, faster; see
            :func:`kavan_tf.inference.for_inference`).

    Returns:
        The version folder.
    """
    import keras

    from kavan_tf.export.saved_model import export_saved_model
    from kavan_tf.inference import for_inference, with_precision  # registers InferenceModel

    model_path = os.fspath(model_path)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    model = keras.saving.load_model(model_path, compile=False)
    if not isinstance(model, KavanModel):
        raise ValueError(f"{model_path}: holds a {type(model).__name__}, not a KavanModel")
    if precision not in ("float32", "bfloat16"):
        raise ValueError(
            f"`precision` must be 'float32' or 'bfloat16'. Received: precision={precision!r}"
        )
    if fold_batch_norm:
        model = for_inference(model, precision)
    elif precision == "bfloat16":
        model = with_precision(model, "bfloat16")
    gifs = None
    if warmup_gifs:
        gifs = []
        for path in warmup_gifs:
            with open(path, "rb") as f:
                gifs.append(f.read())
    from kavan_tf.model_card import read_card

    card = read_card(model_path)
    if card is not None:
        card = {**card, "export": {"precision": precision, "fold_batch_norm": fold_batch_norm,
                                   "from": os.path.abspath(model_path)}}
    return export_saved_model(model, export_dir, name, version, warmup_gifs=gifs,
                              model_card=card)


__all__ = ["run_export", "run_predict"]
