"""Facial keypoints: the layout, files, sources and estimators.

The decisions: docs/decisions.md#keypoints-and-heatmaps.

| module | what |
|---|---|
| `layout.py` | the 70-point layout, one GIF's keypoints (`GifKeypoints`) |
| `io.py` | `kavan-keypoints-v1` files: `save_keypoints`, `load_keypoints` |
| `openpose.py` | raw OpenPose output folders |
| `sources.py` | `KeypointSource`: `FileSource`, `OpenPoseSource` |
| `dlib.py` | `FaceEstimator`: a face detector (HOG, CNN, MTCNN) + the 68-point predictor |
| `temporal_fill.py` | filling short gaps between detections |
| `landmark_files.py` | human annotations (menpo `.pts` / `.ljson`, dlib's imglab XML) |
| `face_gifs.py` | animated GIFs of annotated photos, with per-frame truth (tests, benchmarks) |

:func:`make_keypoint_source` builds a source by name; ``kavan keypoints``
(:mod:`kavan_tf.data.keypoint_extraction`) runs one over a manifest.
"""

from __future__ import annotations

import os
from typing import Any

from kavan_tf.keypoints.dlib import DETECTORS, FaceEstimator
from kavan_tf.keypoints.io import FILE_FORMAT, SOURCES, load_keypoints, save_keypoints
from kavan_tf.keypoints.layout import (
    LEFT_EYE,
    LEFT_PUPIL,
    MOUTH_SLICE,
    NUM_KEYPOINTS,
    RIGHT_EYE,
    RIGHT_PUPIL,
    GifKeypoints,
    check_frame_keypoints,
    empty_frame,
    pad_people,
)
from kavan_tf.keypoints.openpose import load_openpose_dir, load_openpose_file
from kavan_tf.keypoints.sources import FileSource, KeypointSource, OpenPoseSource


def make_keypoint_source(
    kind: str, path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> KeypointSource:
    """Builds a source by name: ``"file"``, ``"openpose"``, or a face detector
    (``"dlib"``, ``"dlib-cnn"``, ``"mtcnn"``) feeding dlib's predictor.

    Args:
        kind: Source name.
        path: The folder of ``"file"`` and ``"openpose"`` sources.
        **kwargs: Passed to the source's constructor.
    """
    if kind in ("dlib", "dlib-cnn", "mtcnn"):
        return FaceEstimator(kind, **kwargs)
    if kind in ("file", "openpose"):
        if path is None:
            raise ValueError(f"A {kind!r} keypoint source needs `path`. Received: path=None")
        return FileSource(path, **kwargs) if kind == "file" else OpenPoseSource(path, **kwargs)
    raise ValueError(
        "`kind` must be one of ('file', 'openpose', 'dlib', 'dlib-cnn', 'mtcnn'). "
        f"Received: kind={kind!r}"
    )


__all__ = [
    "DETECTORS",
    "FILE_FORMAT",
    "LEFT_EYE",
    "LEFT_PUPIL",
    "MOUTH_SLICE",
    "NUM_KEYPOINTS",
    "RIGHT_EYE",
    "RIGHT_PUPIL",
    "SOURCES",
    "FaceEstimator",
    "FileSource",
    "GifKeypoints",
    "KeypointSource",
    "OpenPoseSource",
    "check_frame_keypoints",
    "empty_frame",
    "load_keypoints",
    "load_openpose_dir",
    "load_openpose_file",
    "make_keypoint_source",
    "pad_people",
    "save_keypoints",
]
