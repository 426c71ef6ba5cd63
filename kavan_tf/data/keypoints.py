"""Facial keypoints: the 70-point layout, keypoint files and keypoint sources (SPEC 4).

Layout: OpenPose's 70-point face model, i.e. the iBUG 68 points followed by
the two pupils (index 68 = the subject's right pupil, 69 = the left pupil, as
OpenPose numbers them). Every point is ``(x, y, confidence)`` in pixel
coordinates of the original GIF frame, with pixel centres at integer
coordinates (OpenPose's and dlib's convention: the image spans
``[-0.5, width - 0.5]``). Points 48-67 are the mouth. One frame's keypoints
are a float32 array ``[P, 70, 3]`` (``P`` people, possibly 0); a GIF's are a
list of such arrays, one per decoded frame.

Three sources sit behind one interface, :class:`KeypointSource`:

1. :class:`OpenPoseSource` reads raw OpenPose output
   (``<name>_<12-digit frame>_keypoints.json`` per frame);
2. :class:`kavan_tf.data.face_estimator.FaceEstimator` estimates points on
   the frames themselves (a face detector, ``"dlib"``, ``"dlib-cnn"`` or
   ``"mtcnn"``, + dlib's 68-point predictor);
3. :class:`FileSource` reads ``kavan-keypoints-v1`` files, the format that
   ``kavan prepare`` stores and the synthetic generator writes.

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

import abc
import gzip
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kavan_tf.errors import KeypointFileError

logger = logging.getLogger(__name__)

NUM_KEYPOINTS = 70
"""Points per face: iBUG 68 + 2 pupils (OpenPose face layout)."""
MOUTH_SLICE = slice(48, 68)
"""Indices of the 20 mouth points."""
RIGHT_EYE = tuple(range(36, 42))
"""iBUG indices of the subject's right eye (on the image's left)."""
LEFT_EYE = tuple(range(42, 48))
"""iBUG indices of the subject's left eye."""
RIGHT_PUPIL = 68
LEFT_PUPIL = 69
FILE_FORMAT = "kavan-keypoints-v1"
SOURCES = ("openpose", "dlib", "dlib-cnn", "mtcnn", "synthetic")

_OPENPOSE_FRAME_RE = re.compile(r"^(?P<name>.*)_(?P<frame>\d{12})_keypoints\.json$")


def empty_frame() -> np.ndarray:
    """Keypoints of a frame without people: float32 ``[0, 70, 3]``."""
    return np.zeros((0, NUM_KEYPOINTS, 3), np.float32)


def check_frame_keypoints(points: Any, where: str = "keypoints", finite: bool = True) -> np.ndarray:
    """Validates one frame's keypoints and returns them as float32 ``[P, 70, 3]``.

    Args:
        points: Array-like ``[P, 70, 3]``.
        where: Names the value in the error message.
        finite: Also reject NaN and infinite values.

    Raises:
        ValueError: On a wrong shape or (with ``finite``) non-finite values.
    """
    array = np.asarray(points, dtype=np.float32)
    if array.ndim != 3 or array.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(
            f"`{where}` must have shape [P, {NUM_KEYPOINTS}, 3]. Received: shape={array.shape}"
        )
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"`{where}` contains non-finite values")
    return array


def pad_people(frames: Sequence[np.ndarray], num_people: int | None = None) -> np.ndarray:
    """Stacks per-frame keypoints into one float32 array ``[T, P, 70, 3]``.

    Frames with fewer people are padded with all-zero people (confidence 0,
    which the heatmaps ignore).

    Args:
        frames: ``T`` arrays ``[P_t, 70, 3]``.
        num_people: ``P``; defaults to the largest ``P_t`` (at least 1). Frames
            with more people keep the first ``num_people``.
    """
    arrays = [check_frame_keypoints(f, f"frames[{i}]", finite=False) for i, f in enumerate(frames)]
    if num_people is None:
        num_people = max([a.shape[0] for a in arrays] + [1])
    if num_people < 0:
        raise ValueError(f"`num_people` must be >= 0. Received: num_people={num_people}")
    out = np.zeros((len(arrays), num_people, NUM_KEYPOINTS, 3), np.float32)
    for t, array in enumerate(arrays):
        n = min(array.shape[0], num_people)
        out[t, :n] = array[:n]
    return out


@dataclass
class GifKeypoints:
    """The keypoints of one GIF, as stored in a ``kavan-keypoints-v1`` file.

    Attributes:
        frames: One float32 array ``[P, 70, 3]`` per decoded GIF frame.
        frame_size: ``(width, height)`` of the original GIF frames.
        source: ``"openpose"``, ``"dlib"`` or ``"synthetic"``.
    """

    frames: list[np.ndarray]
    frame_size: tuple[int, int]
    source: str
    filled: tuple[int, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.frames)


# ----------------------------------------------------------------------------- files


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


def _parse_person(values: Any, path: str, where: str) -> np.ndarray:
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


def _read_json(path: str) -> Any:
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
    document = _read_json(path)
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
                _parse_person(person.get("face_keypoints_2d"), path, f"frames[{t}].people[{p}]")
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


def load_openpose_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads one OpenPose output file (one frame) into ``[P, 70, 3]``.

    Reads ``people[].face_keypoints_2d`` (OpenPose >= 1.3) or
    ``people[].face_keypoints`` (older releases). People whose face array is
    absent or empty are skipped, as are all-zero arrays (OpenPose's "no face
    found for this body").

    Raises:
        KeypointFileError: The file is missing or malformed.
    """
    path = os.fspath(path)
    document = _read_json(path)
    people = document.get("people") if isinstance(document, dict) else None
    if not isinstance(people, list):
        raise KeypointFileError(f"{path}: not an OpenPose file (no `people` list)")
    persons = []
    for p, person in enumerate(people):
        if not isinstance(person, dict):
            raise KeypointFileError(f"{path}: people[{p}] must be an object")
        values = person.get("face_keypoints_2d", person.get("face_keypoints"))
        if values is None or (isinstance(values, list) and not values):
            continue
        array = _parse_person(values, path, f"people[{p}]")
        if np.any(array):
            persons.append(array)
    return np.stack(persons) if persons else empty_frame()


def load_openpose_dir(
    directory: str | os.PathLike[str], name: str | None = None
) -> list[np.ndarray]:
    """Reads OpenPose's per-frame output for one video/GIF.

    OpenPose writes ``<name>_<12-digit frame>_keypoints.json`` per frame.
    Frames are ordered by number; a frame number without a file (a gap) gets
    no keypoints and a warning.

    Args:
        directory: The folder OpenPose wrote to (``--write_json``).
        name: The ``<name>`` part to read; required when the folder holds the
            output of several inputs.

    Returns:
        One array ``[P, 70, 3]`` per frame, frame 0 first.

    Raises:
        KeypointFileError: No matching files, several names without ``name``,
            or a malformed file.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise KeypointFileError(f"{directory}: OpenPose output folder not found")
    found: dict[str, dict[int, str]] = {}
    for entry in os.listdir(directory):
        match = _OPENPOSE_FRAME_RE.match(entry)
        if match:
            found.setdefault(match["name"], {})[int(match["frame"])] = entry
    if name is not None:
        found = {name: found[name]} if name in found else {}
    if not found:
        wanted = f"{name}_<12-digit frame>" if name is not None else "<name>_<12-digit frame>"
        raise KeypointFileError(f"{directory}: no OpenPose files named {wanted}_keypoints.json")
    if len(found) > 1:
        raise KeypointFileError(
            f"{directory}: OpenPose output of several inputs {sorted(found)}; pass `name`"
        )
    files = next(iter(found.values()))
    count = max(files) + 1
    missing = [t for t in range(count) if t not in files]
    if missing:
        logger.warning(
            "%s: OpenPose files missing for %d of %d frames (first: %d); they get no keypoints",
            directory,
            len(missing),
            count,
            missing[0],
        )
    return [
        load_openpose_file(os.path.join(directory, files[t])) if t in files else empty_frame()
        for t in range(count)
    ]


# --------------------------------------------------------------------------- sources


class KeypointSource(abc.ABC):
    """Where a GIF's facial keypoints come from (SPEC 4).

    Implementations return keypoints in original GIF pixel coordinates, one
    array ``[P, 70, 3]`` per frame given.
    """

    #: The ``source`` recorded in keypoint files written from this source's
    #: output; ``None`` for :class:`FileSource`, whose files carry their own.
    source_name: str | None = None

    @abc.abstractmethod
    def keypoints_for(self, gif_id: str, frames: np.ndarray | None) -> list[np.ndarray]:
        """Returns one float32 array ``[P, 70, 3]`` per frame.

        Args:
            gif_id: The GIF's id (names the stored keypoints of file sources).
            frames: The decoded GIF, uint8 ``[N, H, W, 3]``. File sources use it
                only to check the frame count and size, and accept ``None``.

        Raises:
            KeypointFileError: Stored keypoints are missing, malformed or do
                not match ``frames``.
        """


def _check_count(frames_kp: list[np.ndarray], frames: np.ndarray | None, where: str) -> None:
    if frames is not None and len(frames_kp) != len(frames):
        raise KeypointFileError(
            f"{where}: keypoints for {len(frames_kp)} frames, but the GIF has {len(frames)}"
        )


class FileSource(KeypointSource):
    """Reads ``kavan-keypoints-v1`` files, one per GIF.

    Args:
        root: Folder holding the files.
        pattern: File name of a GIF's keypoints; ``{gif_id}`` is replaced.
        check_size: Raise when the file's ``frame_size`` differs from the
            frames passed to :meth:`keypoints_for`.

    Example:

    ```python
    source = FileSource("data/keypoints")
    points = source.keypoints_for("abc123", frames)   # reads abc123.json
    ```
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        pattern: str = "{gif_id}.json",
        check_size: bool = True,
    ) -> None:
        if "{gif_id}" not in pattern:
            raise ValueError(f"`pattern` must contain '{{gif_id}}'. Received: pattern={pattern!r}")
        self.root = os.fspath(root)
        self.pattern = pattern
        self.check_size = check_size

    def path_for(self, gif_id: str) -> str:
        return os.path.join(self.root, self.pattern.format(gif_id=gif_id))

    def load(self, gif_id: str) -> GifKeypoints:
        return load_keypoints(self.path_for(gif_id))

    def keypoints_for(self, gif_id: str, frames: np.ndarray | None) -> list[np.ndarray]:
        path = self.path_for(gif_id)
        gif = load_keypoints(path)
        _check_count(gif.frames, frames, path)
        if self.check_size and frames is not None and len(frames):
            height, width = np.shape(frames)[1:3]
            if tuple(gif.frame_size) != (width, height):
                raise KeypointFileError(
                    f"{path}: frame_size {list(gif.frame_size)} differs from the GIF's "
                    f"[{width}, {height}]"
                )
        return gif.frames


class OpenPoseSource(KeypointSource):
    """Reads raw OpenPose output.

    A GIF's files are looked up in ``root/<gif_id>/`` first (one OpenPose run
    per GIF), then as ``root/<gif_id>_<12-digit frame>_keypoints.json``.

    Args:
        root: Folder holding the OpenPose output.
    """

    source_name = "openpose"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    def keypoints_for(self, gif_id: str, frames: np.ndarray | None) -> list[np.ndarray]:
        folder = os.path.join(self.root, gif_id)
        if os.path.isdir(folder):
            result = load_openpose_dir(folder)
            where = folder
        else:
            result = load_openpose_dir(self.root, name=gif_id)
            where = os.path.join(self.root, f"{gif_id}_*_keypoints.json")
        _check_count(result, frames, where)
        return result
