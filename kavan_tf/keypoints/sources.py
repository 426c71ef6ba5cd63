"""Where a GIF's keypoints come from.

Three sources sit behind one interface, :class:`KeypointSource`:

1. :class:`OpenPoseSource` reads raw OpenPose output
   (``<name>_<12-digit frame>_keypoints.json`` per frame);
2. :class:`kavan_tf.keypoints.dlib.FaceEstimator` estimates points on
   the frames themselves (a face detector, ``"dlib"``, ``"dlib-cnn"`` or
   ``"mtcnn"``, + dlib's 68-point predictor);
3. :class:`FileSource` reads ``kavan-keypoints-v1`` files, the format that
   ``kavan prepare`` stores and the synthetic generator writes.
"""

from __future__ import annotations

import abc
import os

import numpy as np

from kavan_tf.errors import KeypointFileError
from kavan_tf.keypoints.io import load_keypoints
from kavan_tf.keypoints.layout import GifKeypoints
from kavan_tf.keypoints.openpose import load_openpose_dir


class KeypointSource(abc.ABC):
    """Where a GIF's facial keypoints come from (docs/decisions.md#keypoints-and-heatmaps).

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
