"""Facial-expression features of a GIF (Jou et al. 2014; paper 4.3, Table 2).

The paper's strongest re-implemented baseline: OpenCV's Haar cascade finds the
largest face in a frame, a facial-expression CNN pretrained on a facial
emotion dataset describes it, and the descriptions are averaged over frames.

The CNN and the cascade are those of the PyPI package ``facex`` (MIT licence,
installs without PyTorch, runs offline; ``pip install kavan_tf[baselines]``):
a MobileNetV2 fine-tuned for 7 expressions (``anger, disgust, fear, happy,
neutral, sadness, surprised``), shipped as ``facex/assets/model_optimized.tflite``
(float model with 8-bit weights; input ``[1, 200, 200, 3]`` in ``[0, 1]``), and
``haarcascade_frontalface_default.xml``. It runs under TensorFlow's own
``tf.lite.Interpreter`` (or ``ai_edge_litert``'s where ``tf.lite`` is gone),
with the built-in kernels and no delegate, so that the intermediate tensors can
be read and the numbers do not depend on the CPU's XNNPACK support.

Per frame, exactly as ``facex`` 1.1 preprocesses: RGB to grey (OpenCV),
``detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4)``, the largest box
(by area) cropped from the grey frame, resized with
``skimage.transform.resize`` to ``200 x 200`` (grey repeated on 3 channels,
values in ``[0, 1]``). The features of a face are, by ``features``:

- ``"probabilities"`` (default): the 7 softmax outputs;
- ``"logits"``: the 7 pre-softmax scores;
- ``"penultimate"``: the last convolutional feature map (``out_relu``,
  ``6 x 6 x 1280``, which the classifier reads flattened) averaged over space,
  1280 values;
- ``"penultimate+probabilities"``: both, 1287 values.

A GIF's vector is the mean over the sampled frames that have a face (frames
without one contribute nothing), followed by one "no face" indicator: 0, or 1
with all other features 0 when no sampled frame has a face.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from kavan_tf.baselines.base import FeatureExtractor, check_max_frames, sample_frame_indices
from kavan_tf.baselines.color_histogram import _check_frames

logger = logging.getLogger(__name__)

EXPRESSIONS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sadness",
    "surprised",
)
"""The facex model's output classes, in output order."""

FEATURE_CHOICES: tuple[str, ...] = (
    "probabilities",
    "logits",
    "penultimate",
    "penultimate+probabilities",
)

_MODEL_ASSET = "model_optimized.tflite"
_CASCADE_ASSET = "haarcascade_frontalface_default.xml"
_INPUT_SIZE = 200
_PENULTIMATE_TENSOR = "mobilenetv2_1.00_224/out_relu/Relu6"
_LOGITS_TENSOR = "predictis/BiasAdd"
_PENULTIMATE_DIM = 1280
_INSTALL_HINT = "install the baseline extras: pip install 'kavan_tf[baselines]'"


@dataclass
class FaceExpression(FeatureExtractor):
    """Expression-CNN features of the largest Haar-cascade face, averaged over frames.

    Args:
        features: Which CNN outputs describe a face; one of
            :data:`FEATURE_CHOICES` (see the module docstring).
        max_frames: Look at most at this many evenly spread frames
            (:func:`~kavan_tf.baselines.base.sample_frame_indices`); ``None``
            looks at all. Default 16 keeps the cascade's cost per GIF bounded.
        scale_factor: Haar cascade ``scaleFactor`` (facex: 1.1).
        min_neighbors: Haar cascade ``minNeighbors`` (facex: 4).
        min_face_size: Smallest face side, in pixels, the cascade looks for.
        model_path: A TFLite expression model; ``None`` uses facex's.
        cascade_path: A Haar cascade XML file; ``None`` uses facex's (the same
            file as OpenCV's ``cv2.data.haarcascades``).
        num_threads: TFLite interpreter threads; ``None`` lets TFLite choose.
    """

    kind: ClassVar[str] = "face_expression"

    features: str = "probabilities"
    max_frames: int | None = 16
    scale_factor: float = 1.1
    min_neighbors: int = 4
    min_face_size: int = 24
    model_path: str | None = None
    cascade_path: str | None = None
    num_threads: int | None = None
    _runtime: _Runtime | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.features not in FEATURE_CHOICES:
            raise ValueError(
                f"`features` must be one of {FEATURE_CHOICES}. Received: features={self.features!r}"
            )
        check_max_frames(self.max_frames)
        if not isinstance(self.scale_factor, (int, float)) or self.scale_factor <= 1.0:
            raise ValueError(
                f"`scale_factor` must be a number > 1. Received: scale_factor={self.scale_factor!r}"
            )
        for name in ("min_neighbors", "min_face_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
        if self.num_threads is not None and (
            isinstance(self.num_threads, bool)
            or not isinstance(self.num_threads, int)
            or self.num_threads < 1
        ):
            raise ValueError(
                "`num_threads` must be a positive int or None. "
                f"Received: num_threads={self.num_threads!r}"
            )

    @property
    def feature_dim(self) -> int:
        return self.face_feature_dim + 1

    @property
    def face_feature_dim(self) -> int:
        """Length of one face's description (without the no-face indicator)."""
        return {
            "probabilities": len(EXPRESSIONS),
            "logits": len(EXPRESSIONS),
            "penultimate": _PENULTIMATE_DIM,
            "penultimate+probabilities": _PENULTIMATE_DIM + len(EXPRESSIONS),
        }[self.features]

    def extract(self, frames: np.ndarray) -> np.ndarray:
        frames = _check_frames(frames)
        described = []
        for index in sample_frame_indices(frames.shape[0], self.max_frames):
            face = self.largest_face(frames[index])
            if face is not None:
                described.append(self.describe_face(face))
        out = np.zeros(self.feature_dim, dtype=np.float32)
        if described:
            out[:-1] = np.mean(described, axis=0)
        else:
            out[-1] = 1.0
        return out

    def detect_faces(self, frame: np.ndarray) -> np.ndarray:
        """Haar-cascade face boxes of one RGB frame, ``int [num_faces, 4]`` as ``(x, y, w, h)``."""
        return self._detect(self._grey(frame))

    def largest_face(self, frame: np.ndarray) -> np.ndarray | None:
        """The grey crop of the largest face in an RGB frame, or ``None``."""
        grey = self._grey(frame)
        boxes = self._detect(grey)
        if not len(boxes):
            return None
        x, y, w, h = boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]
        return grey[y : y + h, x : x + w]

    def describe_face(self, face: np.ndarray) -> np.ndarray:
        """CNN features (``[face_feature_dim]`` float32) of one grey face crop."""
        runtime = self._load()
        from skimage.transform import resize  # optional extra: scikit-image (baselines)

        # facex feeds the grey crop resized to (200, 200, 3): grey on all channels, in [0, 1].
        image = resize(face, (_INPUT_SIZE, _INPUT_SIZE, 3))[None].astype(np.float32)
        interpreter = runtime.interpreter
        interpreter.set_tensor(runtime.input_index, image)
        interpreter.invoke()
        parts = []
        if self.features.startswith("penultimate"):
            feature_map = interpreter.get_tensor(runtime.penultimate_index)
            parts.append(feature_map.mean(axis=(0, 1, 2)))
        if self.features.endswith("probabilities"):
            parts.append(interpreter.get_tensor(runtime.output_index)[0])
        if self.features == "logits":
            parts.append(interpreter.get_tensor(runtime.logits_index)[0])
        return np.concatenate(parts).astype(np.float32)

    def _grey(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self._load().cv2
        return cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2GRAY)

    def _detect(self, grey: np.ndarray) -> np.ndarray:
        boxes = self._load().cascade.detectMultiScale(
            grey,
            scaleFactor=float(self.scale_factor),
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face_size, self.min_face_size),
        )
        return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)

    def _load(self) -> _Runtime:
        if self._runtime is None:
            self._runtime = _Runtime.load(self)
        return self._runtime


@dataclass
class _Runtime:
    """The loaded cascade and interpreter (not part of the configuration)."""

    cv2: Any
    cascade: Any
    interpreter: Any
    input_index: int
    output_index: int
    logits_index: int
    penultimate_index: int

    @classmethod
    def load(cls, config: FaceExpression) -> _Runtime:
        try:
            import cv2  # optional extra: opencv (baselines)
            import skimage.transform  # noqa: F401  optional extra, checked here: the error is early
        except ImportError as e:
            raise ImportError(
                f"The face-expression baseline needs OpenCV and scikit-image; {_INSTALL_HINT}"
            ) from e
        model_path = config.model_path or _facex_asset(_MODEL_ASSET)
        cascade_path = config.cascade_path or _cascade_default(cv2)
        cascade = cv2.CascadeClassifier(cascade_path)
        if cascade.empty():
            raise FileNotFoundError(f"Cannot load the Haar cascade {cascade_path}")
        interpreter = _make_interpreter(model_path, config.num_threads)
        names = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
        needed = (_LOGITS_TENSOR, _PENULTIMATE_TENSOR)
        missing = [n for n in needed if n not in names]
        if missing and config.features != "probabilities":
            raise ValueError(
                f"{model_path}: tensors {missing} not found; only features='probabilities' "
                f"works with this model. Received: features={config.features!r}"
            )
        logger.info("Face-expression baseline: model %s, cascade %s", model_path, cascade_path)
        return cls(
            cv2=cv2,
            cascade=cascade,
            interpreter=interpreter,
            input_index=interpreter.get_input_details()[0]["index"],
            output_index=interpreter.get_output_details()[0]["index"],
            logits_index=names.get(_LOGITS_TENSOR, -1),
            penultimate_index=names.get(_PENULTIMATE_TENSOR, -1),
        )


def _facex_asset(name: str) -> str:
    try:
        path = importlib.resources.files("facex") / "assets" / name
    except ModuleNotFoundError as e:
        raise ImportError(
            f"The face-expression baseline needs the `facex` package; {_INSTALL_HINT}"
        ) from e
    if not path.is_file():
        raise FileNotFoundError(f"facex does not ship {name} (looked at {path})")
    return str(path)  # a folder on disk: facex is installed unzipped


def _cascade_default(cv2: Any) -> str:
    try:
        return _facex_asset(_CASCADE_ASSET)
    except (ImportError, FileNotFoundError):
        return os.path.join(cv2.data.haarcascades, _CASCADE_ASSET)


def _make_interpreter(model_path: str, num_threads: int | None) -> Any:
    """A TFLite interpreter with built-in kernels that keeps every tensor readable."""
    lite = getattr(tf, "lite", None)
    if lite is not None and hasattr(lite, "Interpreter"):
        interpreter_class = lite.Interpreter
        resolver = lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    else:  # pragma: no cover - TensorFlow without tf.lite.
        try:
            from ai_edge_litert import interpreter as litert  # optional: ai-edge-litert
        except ImportError as e:
            raise ImportError(
                "This TensorFlow has no tf.lite.Interpreter; pip install ai-edge-litert"
            ) from e
        interpreter_class = litert.Interpreter
        resolver = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it moves to ai_edge_litert; it still works.
        warnings.filterwarnings("ignore", message=r"(?s).*LiteRT.*")
        interpreter = interpreter_class(
            model_path=model_path,
            num_threads=num_threads,
            experimental_op_resolver_type=resolver,
            experimental_preserve_all_tensors=True,
        )
    interpreter.allocate_tensors()
    return interpreter
