"""ONNX export of the frames model (``kavan export --format onnx``).

The ``serving_frames`` computation (:mod:`kavan_tf.export.frames_graph`),
any batch size, converted by ``tf2onnx`` (opset 17). The graph has input
``frames`` and the ``serving_frames`` outputs by name, label names (string
tensors) included; ``onnxruntime`` runs it on CPU. Both temporal modules
convert: HS-LSTM (unrolled) and LSTM (a while loop, kept as an ONNX ``Loop``).

Needs the ``export`` extra (``pip install "kavan_tf[export]"``: tf2onnx, onnx,
onnxruntime).

Example:

```python
import onnxruntime as ort

path = export_onnx(for_inference(model), "exports/kavan-onnx")
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
dict(zip([o.name for o in session.get_outputs()], session.run(None, {"frames": frames})))
```
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kavan_tf.export.frames_graph import (
    ExportFormatError,
    frames_function,
    short_message,
    temporal_name,
    write_format_folder,
)
from kavan_tf.models.kavan import KavanModel

FILE_NAME = "model.onnx"
OPSET = 17


def onnx_bytes(model: KavanModel, opset: int = OPSET) -> bytes:
    """The serialised ONNX model of ``model``'s ``serving_frames`` (any batch size).

    Raises:
        ExportFormatError: tf2onnx is missing or failed, or onnxruntime (when
            installed) cannot run the result.
    """
    try:
        import tf2onnx  # the optional `export` extra; slow to import
    except ImportError as error:
        raise ExportFormatError(
            "onnx", f"tf2onnx is not installed ({error}); pip install \"kavan_tf[export]\""
        ) from error
    function = frames_function(model, None)
    try:
        proto, _ = tf2onnx.convert.from_function(
            function, input_signature=function.input_signature, opset=opset
        )
        content = proto.SerializeToString()
    except Exception as error:  # the converter raises many types
        raise ExportFormatError(
            "onnx", f"{temporal_name(model)}: tf2onnx failed: {type(error).__name__}: "
            f"{short_message(error)}"
        ) from error
    _smoke_test(content, model)
    return content


def export_onnx(
    model: KavanModel,
    folder: str | os.PathLike[str],
    model_card: dict[str, Any] | None = None,
    opset: int = OPSET,
) -> str:
    """Writes ``<folder>/model.onnx`` with ``kavan_export.json`` and ``model_card.json``.

    Args:
        model: A frames-input KavanModel, float32 (e.g. ``for_inference(model)``).
        folder: The format's folder (created).
        model_card: Written to ``model_card.json``; none when ``None``.
        opset: The ONNX opset.

    Returns:
        The path of the ``.onnx`` file.

    Raises:
        ExportFormatError: The model could not be converted.
    """
    content = onnx_bytes(model, opset)
    return write_format_folder(folder, FILE_NAME, content, model, {
        "runtime": f"ONNX opset {opset} (onnxruntime)",
        "batch": None,
    }, model_card)


def _smoke_test(content: bytes, model: KavanModel) -> None:
    """Runs the converted model once on zeros when onnxruntime is installed."""
    try:
        import onnxruntime  # the optional `export` extra
    except ImportError:
        return
    config = model.model_config
    frames = np.zeros((1, config.num_frames, *config.image_size, 3), np.float32)
    try:
        session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
        session.run(None, {"frames": frames})
    except Exception as error:
        raise ExportFormatError(
            "onnx", f"{temporal_name(model)}: the converted model does not run in onnxruntime: "
            f"{type(error).__name__}: {short_message(error)}"
        ) from error


__all__ = ["FILE_NAME", "OPSET", "export_onnx", "onnx_bytes"]
