"""A trained ``.keras`` file in LiteRT and ONNX: what ``kavan export --format`` does.

Each format gets its own folder under the export root, ``<name>-litert/`` or
``<name>-onnx/``, holding the model file, ``kavan_export.json`` and
``model_card.json``. The model exported is the float32 inference copy
(:func:`kavan_tf.inference.for_inference`, batch normalisations folded), the
one ``kavan export`` serves as a SavedModel. A format that fails does not
stop the others: :func:`export_formats` returns its error instead of a path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kavan_tf.export.frames_graph import ExportFormatError
from kavan_tf.export.keras_file import load_kavan_file
from kavan_tf.export.litert import export_litert
from kavan_tf.export.onnx import export_onnx
from kavan_tf.inference import for_inference  # registers InferenceModel
from kavan_tf.model_card import read_card

FORMATS = ("litert", "onnx")


def format_folder(export_dir: str | os.PathLike[str], name: str, format: str) -> str:  # noqa: A002
    """``<export_dir>/<name>-<format>``: where :func:`export_formats` writes a format."""
    return os.path.join(os.fspath(export_dir), f"{name}-{format}")


def export_formats(
    model_path: str | os.PathLike[str],
    formats: Sequence[str],
    export_dir: str | os.PathLike[str] = "exports",
    name: str = "kavan",
    batch: int = 1,
) -> dict[str, str | ExportFormatError]:
    """Writes a ``.keras`` KavanModel in each of ``formats`` (``kavan export --format``).

    Args:
        model_path: The ``.keras`` file.
        formats: Some of ``"litert"``, ``"onnx"``.
        export_dir: Root of the format folders.
        name: Prefix of the folder names.
        batch: The fixed batch size of the LiteRT model (ONNX takes any).

    Returns:
        For each format, the path of its model file, or the
        :class:`ExportFormatError` that says why it could not be written.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"`formats` must be some of {FORMATS}. Received: formats={formats!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"`batch` must be a positive int. Received: batch={batch!r}")
    model_path = os.fspath(model_path)
    model = load_kavan_file(model_path)
    if model.model_config.input_mode != "frames":
        raise ValueError(f"{model_path}: only frames-input models can be exported (input_mode="
                         f"{model.model_config.input_mode!r})")
    model = for_inference(model, "float32")
    card = read_card(model_path)
    results: dict[str, str | ExportFormatError] = {}
    for format in dict.fromkeys(formats):  # noqa: A001
        folder = format_folder(export_dir, name, format)
        format_card = None if card is None else {**card, "export": {
            "format": format, "precision": "float32", "fold_batch_norm": True,
            "gate_major_lstm": bool(getattr(model, "gate_major_lstm", False)),
            "batch": batch if format == "litert" else None,
            "from": os.path.abspath(model_path)}}
        try:
            if format == "litert":
                results[format] = export_litert(model, folder, batch, model_card=format_card)
            else:
                results[format] = export_onnx(model, folder, model_card=format_card)
        except ExportFormatError as error:
            results[format] = error
    return results


__all__ = ["FORMATS", "export_formats", "format_folder"]
