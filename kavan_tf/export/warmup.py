"""TF Serving warm-up requests (``assets.extra/tf_serving_warmup_requests``).

TF Serving replays these ``PredictionLog`` records when it loads a version, so
that the first real request does not pay for graph initialisation. The
records are built with the ``tensorflow-serving-api`` protos (the ``serving``
extra of this package).

Example:

```python
from kavan_tf.export.warmup import read_warmup_requests, tiny_gif, write_warmup_requests

path = write_warmup_requests("savedmodels/kavan/1", [tiny_gif()], model_name="kavan")
logs = read_warmup_requests(path)   # [PredictionLog(predict_log=...)]
```
"""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

logger = logging.getLogger(__name__)

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def tiny_gif(num_frames: int = 4, size: tuple[int, int] = (32, 32), disposal: int = 0) -> bytes:
    """A small animated GIF (moving colour gradient) for warm-up and smoke tests.

    Args:
        num_frames: Frames in the GIF.
        size: ``(height, width)``.
        disposal: Every frame's disposal method. With 3 (restore what was
            under the frame) the serving graph draws the GIF frame by frame
            (docs/serving.md, "What happens inside `serving_default`"); with
            0 it decodes it with one giflib call.

    Returns:
        The encoded GIF.
    """
    height, width = size
    y, x = np.mgrid[0:height, 0:width]
    images = []
    for t in range(num_frames):
        red = (x * 255 // max(width - 1, 1) + 40 * t) % 256
        green = (y * 255 // max(height - 1, 1)) % 256
        blue = np.full_like(x, (60 * t) % 256)
        rgb = np.stack([red, green, blue], axis=-1).astype(np.uint8)
        images.append(Image.fromarray(rgb, "RGB"))
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0,
        disposal=disposal,
    )
    return buffer.getvalue()


def write_warmup_requests(
    version_dir: str | os.PathLike[str],
    gifs: list[bytes],
    *,
    model_name: str,
    signature_name: str = "serving_default",
    input_name: str = "gifs",
) -> str:
    """Writes one ``PredictionLog`` per GIF to ``<version_dir>/assets.extra/``.

    Args:
        version_dir: The SavedModel version folder.
        gifs: Encoded GIFs; each becomes a batch-of-one ``PredictRequest``.
        model_name: ``ModelSpec.name`` (the name TF Serving serves the model as).
        signature_name: The signature the requests call.
        input_name: The signature's input.

    Returns:
        The path of the warm-up file.

    Raises:
        ValueError: ``gifs`` is empty or holds something other than bytes.
    """
    if not gifs:
        raise ValueError("`gifs` must hold at least one encoded GIF. Received: gifs=[]")
    for i, gif in enumerate(gifs):
        if not isinstance(gif, (bytes, bytearray)):
            raise ValueError(
                f"`gifs` must be encoded GIF bytes. Received: gifs[{i}] of type "
                f"{type(gif).__name__}"
            )
    folder = os.path.join(os.fspath(version_dir), WARMUP_DIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for gif in gifs:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            request.inputs[input_name].CopyFrom(
                tf.make_tensor_proto([bytes(gif)], dtype=tf.string)
            )
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    logger.info("Wrote %d warm-up request(s) to %s", len(gifs), path)
    return path


def read_warmup_requests(path: str | os.PathLike[str]) -> list:
    """Parses a warm-up file back into ``PredictionLog`` protos."""
    logs = []
    for record in tf.data.TFRecordDataset(os.fspath(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record)
        logs.append(log)
    return logs
