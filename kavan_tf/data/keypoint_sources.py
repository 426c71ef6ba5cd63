"""Keypoint sources by name: ``kavan keypoints --source`` and ``make_keypoint_source``.

Sits above both :mod:`kavan_tf.data.keypoints` (files, OpenPose) and
:mod:`kavan_tf.data.face_estimator` (detectors + dlib's predictor), which
imports the former, so neither imports the other back.
"""

from __future__ import annotations

import os
from typing import Any

from kavan_tf.data.face_estimator import FaceEstimator
from kavan_tf.data.keypoints import FileSource, KeypointSource, OpenPoseSource


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



__all__ = ["make_keypoint_source"]
