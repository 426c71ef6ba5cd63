"""Readers of human-annotated 68-point face landmarks, to check estimated keypoints.

Three formats, all returned as float64 ``[68, 2]`` ``(x, y)`` arrays in
0-based pixel coordinates with pixel centres at integers (the keypoint
convention of :mod:`kavan_tf.keypoints`):

- iBUG / menpo ``.pts`` files (1-based, Matlab style, as menpo's importer assumes);
- menpo ``.ljson`` files (points stored as ``(y, x)``, 0-based);
- dlib's imglab XML (``*_with_face_landmarks.xml``): ``<image file=...>``
  elements with one ``<box>`` per face and 68 ``<part>`` children.

Example:

```python
truth = read_landmarks("einstein.pts")                    # [68, 2]
faces = read_dlib_landmarks("testing_with_face_landmarks.xml")
faces["2008_002470.jpg"]                                  # list of [68, 2]
```
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from kavan_tf.errors import KeypointFileError


def read_landmarks(path: str | os.PathLike[str]) -> np.ndarray:
    """One face's 68 points from a ``.pts`` or ``.ljson`` file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".pts"):
            body = text.split("{", 1)[1].split("}", 1)[0]
            points = np.array(body.split(), dtype=np.float64).reshape(-1, 2) - 1.0
        elif path.endswith(".ljson"):
            document = json.loads(text)
            raw = document["groups"]["LJSON"]["landmarks"]["points"]
            points = np.array(raw, np.float64)[:, ::-1]
        else:
            raise KeypointFileError(f"{path}: not a .pts or .ljson landmark file")
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise KeypointFileError(f"{path}: cannot read landmarks: {e}") from e
    if points.shape != (68, 2):
        raise KeypointFileError(f"{path}: expected 68 points, got {points.shape[0]}")
    return points


def read_dlib_landmarks(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """Per image file name, the faces of a dlib imglab XML file that have 68 parts."""
    path = os.fspath(path)
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as e:
        raise KeypointFileError(f"{path}: cannot read dlib landmarks: {e}") from e
    faces: dict[str, list[np.ndarray]] = {}
    for image in root.iter("image"):
        for box in image.iter("box"):
            parts = sorted(box.iter("part"), key=lambda part: int(part.get("name", "0")))
            if len(parts) != 68:
                continue
            points = np.array([(float(p.attrib["x"]), float(p.attrib["y"])) for p in parts])
            faces.setdefault(image.get("file", ""), []).append(points)
    return faces


def normalised_error(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean point error divided by the inter-ocular distance (outer eye corners 36, 45)."""
    points = np.asarray(points, np.float64)[:68, :2]
    inter_ocular = float(np.linalg.norm(truth[36] - truth[45]))
    return float(np.linalg.norm(points - truth, axis=1).mean() / inter_ocular)
