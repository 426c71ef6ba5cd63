"""TF Serving warm-up requests (``assets.extra/tf_serving_warmup_requests``).

TF Serving replays these ``PredictionLog`` records when it loads a version, so
that the first real request does not pay for graph initialisation. The
records are built with the ``tensorflow-serving-api`` protos (the ``serving``
extra of this package).

Example:

```python
from kavan_tf.export.warmup import read_warmup_requests, warmup_gifs, write_warmup_requests

path = write_warmup_requests("savedmodels/kavan/1", warmup_gifs(8), model_name="kavan")
logs = read_warmup_requests(path)   # [PredictionLog(predict_log=...)]
```
"""

from __future__ import annotations

import io
import logging
import os
import struct

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from kavan_tf.config import DataConfig
from kavan_tf.data.gif_format import (
    DISPOSE_PREVIOUS,
    EXTENSION,
    GRAPHIC_CONTROL,
    IMAGE,
    TRAILER,
    parse_gif,
)
from kavan_tf.data.lzw import lzw_decode

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


def warmup_gifs(num_frames: int) -> list[bytes]:
    """The default warm-up GIFs of an export: between them they take the
    branches of the serving graph's decoder that TensorFlow builds on first
    use (docs/serving.md, "Serving with TF Serving").

    - :func:`tiny_gif`: a plain GIF, decoded by one giflib call;
    - :func:`rare_branches_gif`: drawn frame by frame, with irregular LZW
      streams and a run of extensions.

    The resizes of screens too tall to resize in one batch are left out: a
    GIF that takes them costs 0.1-0.7 s itself (docs/performance.md, "Hostile files").

    Args:
        num_frames: Frames per GIF (the model's ``T``).
    """
    return [tiny_gif(num_frames), rare_branches_gif(num_frames)]


def rare_branches_gif(num_frames: int = 4, size: tuple[int, int] = (32, 32)) -> bytes:
    """:func:`tiny_gif` rewritten so that the serving graph's decoder takes
    the branches it builds on first use: the same frames, disposed with 3
    (drawn frame by frame), after ten comment extensions in a row (the
    parser's extension runs). Each frame's LZW stream holds literal codes
    only, with a clear code after 1, 2, 3, ... of them (not the layout
    encoders write: the reader of irregular streams), in sub-blocks of 1, 2,
    3, ... bytes (the sub-block chain tables).

    Args:
        num_frames: Frames in the GIF.
        size: ``(height, width)``.

    Returns:
        The encoded GIF.
    """
    parsed = parse_gif(tiny_gif(num_frames, size), "tiny_gif", DataConfig())
    flags, table = (0, b"") if parsed.global_palette is None else _colour_table(
        parsed.global_palette)
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", parsed.width, parsed.height, flags, 0, 0))
    out += table
    for k in range(10):
        out += bytes([EXTENSION, 0xFE, 1, ord("a") + k, 0])
    for frame in parsed.frames:
        out += bytes([EXTENSION, GRAPHIC_CONTROL, 4, DISPOSE_PREVIOUS << 2, 10, 0, 0, 0])
        flags, table = (0, b"") if frame.palette is None else _colour_table(frame.palette)
        out += bytes([IMAGE]) + struct.pack("<HHHHB", frame.left, frame.top, frame.width,
                                            frame.height, flags) + table
        out.append(frame.min_code_size)
        indices, _ = lzw_decode(frame.data, frame.min_code_size, frame.width * frame.height)
        data = _literal_codes(indices, frame.min_code_size)
        pos, length = 0, 1
        while pos < len(data):
            chunk = data[pos:pos + length]
            out += bytes([len(chunk)]) + chunk
            pos, length = pos + len(chunk), length % 254 + 1
        out.append(0)
    out.append(TRAILER)
    return bytes(out)


def _literal_codes(indices: np.ndarray, code_size: int) -> bytes:
    """An LZW stream of ``indices`` as literal codes, with a clear code
    before runs of 1, 2, 3, ... of them, and the end code. Every run adds
    fewer dictionary entries than widen the codes, so each code is
    ``code_size + 1`` bits."""
    clear = 1 << code_size
    longest = max(1, clear - 3)
    codes: list[int] = []
    start, run = 0, 1
    while start < len(indices):
        codes.append(clear)
        codes += [int(i) for i in indices[start:start + run]]
        start, run = start + run, run % longest + 1
    codes.append(clear + 1)
    bits = (np.array(codes)[:, None] >> np.arange(code_size + 1)) & 1
    return np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes()


def _colour_table(palette: np.ndarray) -> tuple[int, bytes]:
    """A palette as a GIF colour table: the flags byte's table bits, and the
    table, padded to a power of two with black."""
    bits = max(1, int(np.ceil(np.log2(len(palette)))))
    table = np.zeros((1 << bits, 3), np.uint8)
    table[:len(palette)] = palette
    return 0x80 | (bits - 1), table.tobytes()


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
