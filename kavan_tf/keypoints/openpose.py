"""Raw OpenPose output: ``<name>_<12-digit frame>_keypoints.json`` per frame."""

from __future__ import annotations

import logging
import os
import re

import numpy as np

from kavan_tf.errors import KeypointFileError
from kavan_tf.keypoints.io import parse_person, read_json
from kavan_tf.keypoints.layout import empty_frame

logger = logging.getLogger(__name__)

_OPENPOSE_FRAME_RE = re.compile(r"^(?P<name>.*)_(?P<frame>\d{12})_keypoints\.json$")


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
    document = read_json(path)
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
        array = parse_person(values, path, f"people[{p}]")
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
