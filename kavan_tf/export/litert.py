"""LiteRT (TensorFlow Lite) export of the frames model (``kavan export --format litert``).

The ``serving_frames`` computation (:mod:`kavan_tf.export.frames_graph`) at a
fixed batch size, its variables frozen into constants, converted with
LiteRT's built-in operators only (no Flex/``SELECT_TF_OPS``, which the
``ai-edge-litert`` interpreter cannot run). The file has one signature,
``serving_default``, with input ``frames`` and the ``serving_frames``
outputs, label names (string tensors) included. Both temporal modules
convert: HS-LSTM (unrolled) and LSTM (a while loop, kept as a LiteRT
``WHILE``).

Why frozen: converting the SavedModel, or the concrete function together
with its module, keeps the Keras 3 variables as resource variables
(``VAR_HANDLE``/``READ_VARIABLE``) that nothing initialises, and the
interpreter then fails with ``read_variable.cc: variable != nullptr was not
true ... (READ_VARIABLE) failed to invoke`` (TensorFlow 2.21, ai-edge-litert
2.3.0; docs/serving.md).

Example:

```python
from ai_edge_litert.interpreter import Interpreter

path = export_litert(for_inference(model), "exports/kavan-litert", batch=1)
run = Interpreter(model_path=path).get_signature_runner()
run(frames=frames)["ranked_emotions"]
```
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from kavan_tf.export.frames_graph import (
    ExportFormatError,
    frames_function,
    short_message,
    temporal_name,
    write_format_folder,
)
from kavan_tf.models.kavan import KavanModel

FILE_NAME = "model.tflite"
SIGNATURE = "serving_default"


def litert_bytes(model: KavanModel, batch: int = 1) -> bytes:
    """The ``.tflite`` flatbuffer of ``model``'s ``serving_frames`` at batch ``batch``.

    Raises:
        ExportFormatError: The converter failed, or the converted model does
            not run in the LiteRT interpreter.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"`batch` must be a positive int. Received: batch={batch!r}")
    function = frames_function(model, batch).get_concrete_function()
    keys = sorted(function.structured_outputs)
    spec = function.structured_input_signature[0][0]
    try:
        frozen = convert_variables_to_constants_v2(function)

        @tf.function(input_signature=[spec])
        def serve(frames: tf.Tensor) -> dict[str, tf.Tensor]:
            # The frozen function returns the outputs flat, in sorted key order.
            return dict(zip(keys, tf.nest.flatten(frozen(frames)), strict=True))

        # A trackable object gives the file its signature.
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [serve.get_concrete_function()], tf.Module()
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content = bytes(converter.convert())
    except Exception as error:  # the converter raises many types
        raise ExportFormatError(
            "litert", f"{temporal_name(model)}: the TFLite converter failed: "
            f"{type(error).__name__}: {short_message(error)}"
        ) from error
    _smoke_test(content, model, batch)
    return content


def export_litert(
    model: KavanModel,
    folder: str | os.PathLike[str],
    batch: int = 1,
    model_card: dict[str, Any] | None = None,
) -> str:
    """Writes ``<folder>/model.tflite`` with ``kavan_export.json`` and ``model_card.json``.

    Args:
        model: A frames-input KavanModel, float32 (e.g. ``for_inference(model)``).
        folder: The format's folder (created).
        batch: The fixed batch size of the ``frames`` input.
        model_card: Written to ``model_card.json``; none when ``None``.

    Returns:
        The path of the ``.tflite`` file.

    Raises:
        ExportFormatError: The model could not be converted.
    """
    content = litert_bytes(model, batch)
    return write_format_folder(folder, FILE_NAME, content, model, {
        "runtime": "LiteRT (ai-edge-litert), built-in operators only",
        "batch": batch,
    }, model_card)


def _smoke_test(content: bytes, model: KavanModel, batch: int) -> None:
    """Runs the converted model once on zeros when ai-edge-litert is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # the optional `export` extra
    except ImportError:
        return
    config = model.model_config
    frames = np.zeros((batch, config.num_frames, *config.image_size, 3), np.float32)
    try:
        Interpreter(model_content=content).get_signature_runner(SIGNATURE)(frames=frames)
    except Exception as error:
        raise ExportFormatError(
            "litert", f"{temporal_name(model)}: the converted model does not run in the LiteRT "
            f"interpreter: {type(error).__name__}: {short_message(error)}"
        ) from error


__all__ = ["FILE_NAME", "SIGNATURE", "export_litert", "litert_bytes"]
