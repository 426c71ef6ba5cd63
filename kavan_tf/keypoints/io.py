"""Reading and writing keypoint files.

The ``kavan-keypoints-v1`` file format (JSON, optionally gzipped when the
name ends in ``.gz``):

```json
{"format": "kavan-keypoints-v1",
 "source": "openpose" | "dlib" | "dlib-cnn" | "mtcnn" | "synthetic",
 "frame_size": [width, height],
 "frames": [{"people": [{"face_keypoints_2d": [210 floats]}]}, ...],
 "filled": [3, 4]}
```

with one entry per GIF frame; an empty ``people`` list means the frame has no
keypoints. The optional ``filled`` lists the frames whose keypoints were
interpolated from their neighbours (``kavan keypoints``' temporal filling).

Example:

```python
frames = [np.zeros((0, 70, 3), np.float32), points]    # 2 frames
save_keypoints("abc.json", frames, frame_size=(320, 240), source="synthetic")
gif = load_keypoints("abc.json")
gif.frames[1].shape          # (P, 70, 3)
```
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kavan_tf.errors import KeypointFileError
from kavan_tf.keypoints.layout import (
    NUM_KEYPOINTS,
    GifKeypoints,
    check_frame_keypoints,
    empty_frame,
)

logger = logging.getLogger(__name__)

FILE_FORMAT = "kavan-keypoints-v1"
SOURCES = ("openpose", "dlib", "dlib-cnn", "mtcnn", "synthetic")


def _open_text(path: str, mode: str) -> Any:
    if path.endswith(".gz"):
        # Level 6: within a few % of 9's size, several times faster to write.
        return gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6)
    return open(path, mode, encoding="utf-8")


def _compact_floats(array: np.ndarray) -> list[float]:
    # The shortest decimal that round-trips the float32 value: files stay
    # small and load back bit-exactly.
    return [float(str(v)) for v in array.astype(np.float32).ravel()]


def save_keypoints(
    path: str | os.PathLike[str],
    frames: Sequence[np.ndarray],
    frame_size: tuple[int, int],
    source: str,
    filled: Sequence[int] = (),
) -> None:
    """Writes a ``kavan-keypoints-v1`` file (gzipped when the name ends in ``.gz``).

    Args:
        path: Output file.
        frames: One array ``[P, 70, 3]`` per decoded GIF frame, in original
            GIF pixel coordinates.
        frame_size: ``(width, height)`` of the GIF frames.
        source: One of :data:`SOURCES`.
        filled: Indices of frames whose keypoints were filled in from
            neighbouring frames (stored as the optional ``filled`` list).

    Raises:
        ValueError: On bad arguments (the file is not written).
    """
    path = os.fspath(path)
    if source not in SOURCES:
        raise ValueError(f"`source` must be one of {SOURCES}. Received: source={source!r}")
    size = tuple(int(v) for v in frame_size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(
            f"`frame_size` must be two positive ints (width, height). Received: {frame_size!r}"
        )
    entries = []
    for t, frame in enumerate(frames):
        array = check_frame_keypoints(frame, f"frames[{t}]")
        entries.append(
            {"people": [{"face_keypoints_2d": _compact_floats(person)} for person in array]}
        )
    document = {
        "format": FILE_FORMAT,
        "source": source,
        "frame_size": list(size),
        "frames": entries,
    }
    if len(filled):
        document["filled"] = sorted(int(t) for t in filled)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    text = json.dumps(document, separators=(",", ":"))  # one write, not one per token
    with _open_text(path, "w") as f:
        f.write(text)
    logger.debug("Wrote %d frames of keypoints to %s", len(entries), path)


def parse_person(values: Any, path: str, where: str) -> np.ndarray:
    """One person's ``face_keypoints_2d`` (210 numbers) as float32 ``[70, 3]``."""
    if not isinstance(values, list) or len(values) != 3 * NUM_KEYPOINTS:
        if values is None:
            got = "nothing"
        elif isinstance(values, list):
            got = f"{len(values)} values"
        else:
            got = type(values).__name__
        raise KeypointFileError(
            f"{path}: {where}.face_keypoints_2d must be a list of {3 * NUM_KEYPOINTS} numbers, "
            f"got {got}"
        )
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise KeypointFileError(
            f"{path}: {where}.face_keypoints_2d has non-numeric or non-finite values"
        )
    return np.asarray(values, dtype=np.float32).reshape(NUM_KEYPOINTS, 3)


def read_json(path: str) -> Any:
    """A JSON (or gzipped JSON) file; a ``KeypointFileError`` naming it when unreadable."""
    if not os.path.isfile(path):
        raise KeypointFileError(f"{path}: keypoint file not found")
    try:
        with _open_text(path, "r") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as e:
        raise KeypointFileError(f"{path}: not valid JSON: {e}") from e


def load_keypoints(path: str | os.PathLike[str]) -> GifKeypoints:
    """Reads a ``kavan-keypoints-v1`` file.

    Args:
        path: The file (``.json`` or ``.json.gz``).

    Returns:
        The GIF's keypoints.

    Raises:
        KeypointFileError: The file is missing or malformed; the message names
            the file and the cause.
    """
    path = os.fspath(path)
    document = read_json(path)
    if not isinstance(document, dict):
        raise KeypointFileError(f"{path}: expected a JSON object, got {type(document).__name__}")
    if document.get("format") != FILE_FORMAT:
        raise KeypointFileError(
            f"{path}: `format` must be {FILE_FORMAT!r}, got {document.get('format')!r}"
        )
    source = document.get("source")
    if source not in SOURCES:
        raise KeypointFileError(f"{path}: `source` must be one of {SOURCES}, got {source!r}")
    size = document.get("frame_size")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise KeypointFileError(
            f"{path}: `frame_size` must be two positive ints [width, height], got {size!r}"
        )
    entries = document.get("frames")
    if not isinstance(entries, list):
        raise KeypointFileError(f"{path}: `frames` must be a list, got {type(entries).__name__}")
    frames = []
    for t, entry in enumerate(entries):
        people = entry.get("people") if isinstance(entry, dict) else None
        if not isinstance(people, list):
            raise KeypointFileError(f"{path}: frames[{t}] must be an object with a `people` list")
        persons = []
        for p, person in enumerate(people):
            if not isinstance(person, dict):
                raise KeypointFileError(f"{path}: frames[{t}].people[{p}] must be an object")
            persons.append(
                parse_person(person.get("face_keypoints_2d"), path, f"frames[{t}].people[{p}]")
            )
        frames.append(np.stack(persons) if persons else empty_frame())
    filled = document.get("filled", [])
    if not isinstance(filled, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) and 0 <= t < len(frames) for t in filled
    ):
        raise KeypointFileError(f"{path}: `filled` must be a list of frame indices")
    return GifKeypoints(
        frames=frames, frame_size=(size[0], size[1]), source=source, filled=tuple(filled)
    )
