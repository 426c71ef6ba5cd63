"""The ``serving_frames`` graph as one function, for the LiteRT and ONNX exports.

:mod:`kavan_tf.export.litert` and :mod:`kavan_tf.export.onnx` convert the
same computation as the SavedModel's ``serving_frames`` signature
(:class:`kavan_tf.export.serving_module.KavanServingModule`): raw RGB frames
``float32 [B, T, H, W, 3]`` (0-255) in, preprocessing inside, the same
named outputs. GIF-byte decoding stays in the SavedModel (docs/serving.md).

Each format's folder holds the model file, ``model_card.json`` (the card of
the ``.keras`` file with an ``export`` entry, :mod:`kavan_tf.model_card`)
and ``kavan_export.json`` (input shape, outputs, label names).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from typing import Any

import tensorflow as tf

from kavan_tf.export.serving_module import FRAMES_SIGNATURE, KavanServingModule
from kavan_tf.model_card import CARD_FILE, write_card
from kavan_tf.models.kavan import KavanModel

EXPORT_INFO_FILE = "kavan_export.json"


class ExportFormatError(RuntimeError):
    """A model could not be written in (or run by) one export format.

    The message is ``cannot export to <format>: <cause>``.

    Attributes:
        format: ``"litert"`` or ``"onnx"``.
        cause: What failed, with the converter's own message.
    """

    def __init__(self, format: str, cause: str) -> None:  # noqa: A002
        self.format = format
        self.cause = cause
        super().__init__(f"cannot export to {format}: {cause}")


def frames_function(model: KavanModel, batch: int | None = None) -> Any:
    """``serving_frames`` as a ``tf.function`` with a fixed (or any) batch size.

    Args:
        model: A frames-input KavanModel (e.g. ``for_inference(model)``).
        batch: The batch size of the input; ``None`` for any.

    Returns:
        A ``tf.function`` ``frames -> dict`` of the ``serving_frames`` outputs,
        with its input signature.
    """
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"`batch` must be a positive int or None. Received: batch={batch!r}")
    module = KavanServingModule(model)
    config = model.model_config
    height, width = config.image_size
    spec = tf.TensorSpec([batch, config.num_frames, height, width, 3], tf.float32, name="frames")
    return tf.function(module.serve_frames.python_function, input_signature=[spec])


def temporal_name(model: KavanModel) -> str:
    """``"HS-LSTM"`` or ``"LSTM"``: the temporal module, as error messages name it."""
    temporal = model.model_config.temporal
    return {"hslstm": "HS-LSTM", "lstm": "LSTM"}.get(temporal, temporal)


def short_message(error: BaseException, limit: int = 600) -> str:
    """A converter's error message on one line, cut to ``limit`` characters."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_format_folder(
    folder: str | os.PathLike[str],
    file_name: str,
    content: bytes,
    model: KavanModel,
    info: dict[str, Any],
    model_card: dict[str, Any] | None,
) -> str:
    """Writes ``<folder>/<file_name>``, ``kavan_export.json`` and ``model_card.json``.

    The model file is written through a temporary file and a rename, so a
    reader never sees half of it.

    Returns:
        The path of the model file.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, file_name)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    config = model.model_config
    height, width = config.image_size
    full = {
        "format": "kavan-export-v1",
        "file": file_name,
        "signature": FRAMES_SIGNATURE,
        "inputs": {"frames": f"float32 [{info.get('batch') or 'None'}, {config.num_frames}, "
                             f"{height}, {width}, 3], RGB 0-255"},
        "model_config": dataclasses.asdict(config),
        "label_config": dataclasses.asdict(model.label_config),
        **info,
    }
    with open(os.path.join(folder, EXPORT_INFO_FILE), "w", encoding="utf-8") as f:
        json.dump(full, f, indent=2)
    if model_card is not None:
        write_card(model_card, os.path.join(folder, CARD_FILE))
    return path


__all__ = [
    "EXPORT_INFO_FILE",
    "ExportFormatError",
    "frames_function",
    "short_message",
    "temporal_name",
    "write_format_folder",
]
