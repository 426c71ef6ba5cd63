"""Predictors: GIF (and WebP, APNG, video) files in, :class:`GifResult`s out.

The decisions: docs/decisions.md#deployment; the usage: docs/serving.md.

A predictor wraps either an exported SavedModel or a ``.keras`` file:

- SavedModel, ``decoder="graph"`` (default): GIF bytes go to its
  ``serving_default`` signature, which decodes them in the graph, as TF
  Serving does. Files that are not GIFs (WebP, APNG, MP4, WebM) are decoded
  by :func:`kavan_tf.data.media.decode_media` and their frames go to
  ``serving_frames``, as docs/serving.md tells clients to do.
- SavedModel, ``decoder="python"``: every file is decoded by the reference
  decoder and the frames go to ``serving_frames``.
- ``.keras``: the reference decoder and the evaluation sampling
  (:func:`sample_for_model`), then the model as a folded inference graph.

Unreadable files never stop a run: they get a result with ``error`` set.
With ``keep_frames=True`` a result also keeps the sampled frames at the
file's own size (at most :data:`DISPLAY_MAX` pixels on the long side), taken
from the same decoding as the prediction, for overlays and reports.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kavan_tf.config import DataConfig, LabelConfig, PredictConfig
from kavan_tf.data import sampling
from kavan_tf.data.media import MEDIA_SUFFIXES, decode_media, media_format
from kavan_tf.errors import MediaDecodeError
from kavan_tf.export.keras_file import load_kavan_file
from kavan_tf.export.saved_model import EXPORT_INFO_FILE, list_versions
from kavan_tf.export.warmup import WARMUP_DIR
from kavan_tf.inference import for_inference
from kavan_tf.model_card import read_card
from kavan_tf.models.kavan import KavanModel

logger = logging.getLogger(__name__)

DECODERS = ("graph", "python")
#: Longest side of the frames a result keeps (``keep_frames=True``).
DISPLAY_MAX = 480


@dataclass
class GifResult:
    """The prediction for one GIF file, or why there is none.

    Attributes:
        path: The file.
        intensities: Emotion -> intensity in [-1, 1] (model order; a
            TrueSkill-scale score is ``25 * (intensity + 1)``).
        top_emotions: The ``top_k`` highest ``(emotion, intensity)`` pairs.
        category_name: Predicted coarse category.
        category_id: Its index.
        category_probabilities: Category name -> probability.
        valence: Expected valence in [-1, 1] from the category probabilities
            (the model's ``valence`` output, docs/model.md#valence-and-arousal);
            ``None`` for SavedModels exported before models had it.
        arousal: Expected arousal in [-1, 1], likewise.
        error: Why the file has no prediction, else ``None``.
        frames: uint8 ``[T, H, W, 3]``: the sampled frames the model saw, at
            the file's own size, scaled down to at most :data:`DISPLAY_MAX`
            on the long side (only when asked for).
        attention: float32 ``[T, h, w]`` attention masks over the model's
            input frames (only when asked for).
        frame_indices: int ``[T]``: which frames of the file were sampled.
        content_box: ``(left, top, width, height)``, as fractions of the
            model's input frame, where the picture lies in it: ``(0, 0, 1,
            1)`` when frames are stretched, smaller when letterboxed. The
            attention is cropped to it before it is drawn over ``frames``.
        media_format: ``"GIF"``, ``"WebP"``, ``"PNG"``, ``"MP4"`` or ``"WebM"``.
        source_size: ``(height, width)`` of the file's frames.
        model_size: ``(height, width)`` of the model's input frames.
        emotion_categories: Emotion -> the id of its coarse category, where
            the model says (a ``.keras`` file, or a SavedModel with a model
            card or the default labels).
    """

    path: str
    intensities: dict[str, float] = field(default_factory=dict)
    top_emotions: list[tuple[str, float]] = field(default_factory=list)
    category_name: str | None = None
    category_id: int | None = None
    category_probabilities: dict[str, float] = field(default_factory=dict)
    valence: float | None = None
    arousal: float | None = None
    error: str | None = None
    frames: np.ndarray | None = field(default=None, repr=False)
    attention: np.ndarray | None = field(default=None, repr=False)
    frame_indices: np.ndarray | None = field(default=None, repr=False)
    content_box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    media_format: str | None = None
    source_size: tuple[int, int] | None = None
    model_size: tuple[int, int] | None = None
    emotion_categories: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without frames and attention)."""
        return {
            "path": self.path,
            "category": self.category_name,
            "category_id": self.category_id,
            "top_emotions": [
                {"emotion": name, "intensity": value} for name, value in self.top_emotions
            ],
            "intensities": dict(self.intensities),
            "category_probabilities": dict(self.category_probabilities),
            "valence": self.valence,
            "arousal": self.arousal,
            "error": self.error,
        }


# ----------------------------------------------------------------- predictors


class Predictor(abc.ABC):
    """Turns encoded GIFs into :class:`GifResult`s.

    Attributes:
        image_size: ``(height, width)`` of the model's input frames, where known.
        emotion_categories: Emotion -> category id, where known.
    """

    image_size: tuple[int, int] | None = None
    emotion_categories: dict[str, int] = {}  # noqa: RUF012  (read-only default)

    @abc.abstractmethod
    def predict(
        self,
        items: Sequence[tuple[str, bytes]],
        *,
        top_k: int = PredictConfig.top_k,
        keep_frames: bool = False,
    ) -> list[GifResult]:
        """Predicts a batch of ``(path, bytes)``; failures become error results.

        Args:
            items: The files' names and contents.
            top_k: Emotions listed in ``top_emotions``.
            keep_frames: Keep the model's input frames and the attention masks
                in the results (for :func:`write_overlays`).

        Returns:
            One result per item, in order.
        """


@dataclass
class SampledInput:
    """One file through the reference input pipeline (:func:`sample_for_model`).

    Attributes:
        frames: uint8 ``[T, height, width, 3]``, the model's input.
        indices: ``[T]`` sampled frame indices.
        num_source_frames: Frames in the file.
        source_size: ``(height, width)`` of the file's frames.
        content_box: Where the picture lies in ``frames``, as fractions.
        media_format: The file's container.
        display: uint8 ``[T, H, W, 3]`` sampled frames at the file's size
            (at most :data:`DISPLAY_MAX` on the long side), when asked for.
    """

    frames: np.ndarray
    indices: np.ndarray
    num_source_frames: int
    source_size: tuple[int, int]
    content_box: tuple[float, float, float, float]
    media_format: str
    display: np.ndarray | None = None


def display_frames(frames: np.ndarray, longest: int = DISPLAY_MAX) -> np.ndarray:
    """Frames scaled down (bilinear, antialiased) to at most ``longest`` on the long side."""
    height, width = frames.shape[1:3]
    scale = longest / max(height, width)
    if scale >= 1.0:
        return np.asarray(frames, np.uint8)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return sampling.resize_frames(np.asarray(frames, np.uint8), size)[0]


def sample_for_model(
    data: bytes,
    path: str,
    num_frames: int,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
    *,
    keep_display: bool = False,
) -> SampledInput:
    """The reference input pipeline for one file: decode, TSN-evaluation sample, resize.

    Uses :func:`kavan_tf.data.media.decode_media` and
    :mod:`kavan_tf.data.sampling`, as evaluation does (non-GIF files are
    sampled by display time, :func:`kavan_tf.data.sampling.sampling_mode`).

    Args:
        data: The encoded file.
        path: Its name, for errors.
        num_frames: ``T``.
        image_size: ``(height, width)``.
        data_config: Background colour, size limits, sampling and resize mode.
        keep_display: Also keep the sampled frames at the file's own size.

    Raises:
        MediaDecodeError: The file cannot be decoded.
    """
    data_config = data_config if data_config is not None else DataConfig()
    media = decode_media(data, data_config, name=path)
    indices = sampling.sample_indices(
        media.num_frames, num_frames, training=False, delays_ms=media.delays_ms,
        by=sampling.sampling_mode(media.format, data_config.sampling),
    )
    sampled = media.frames[indices]
    model_h, model_w = image_size
    frames, _ = sampling.resize_frames(
        sampled, (model_h, model_w), mode=data_config.resize, background=data_config.background,
    )
    _, (left, top, width, height) = sampling.resize_transform(
        sampled.shape[1:3], (model_h, model_w), data_config.resize
    )
    return SampledInput(
        frames=np.asarray(frames, np.uint8),
        indices=np.asarray(indices),
        num_source_frames=media.num_frames,
        source_size=(media.height, media.width),
        content_box=(left / model_w, top / model_h, width / model_w, height / model_h),
        media_format=media.format,
        display=display_frames(sampled) if keep_display else None,
    )


def decode_for_model(
    data: bytes,
    path: str,
    num_frames: int,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
) -> np.ndarray:
    """The model's uint8 ``[T, height, width, 3]`` input for one file (:func:`sample_for_model`)."""
    return sample_for_model(data, path, num_frames, image_size, data_config).frames


class _FramesPredictor(Predictor):
    """Decodes with the Python pipeline and runs a frames model (``_run``)."""

    num_frames: int
    image_size: tuple[int, int]
    data_config: DataConfig

    @abc.abstractmethod
    def _run(self, frames: np.ndarray) -> tuple[dict[str, np.ndarray], Sequence[str],
                                                Sequence[str]]:
        """``(outputs, emotion names, category names)`` for float32 frames."""

    def run_frames(self, frames: np.ndarray) -> tuple[dict[str, np.ndarray], Sequence[str],
                                                      Sequence[str]]:
        """The model on float32 frames ``[B, T, height, width, 3]`` (raw RGB 0-255).

        Returns:
            ``(outputs by name, emotion names, category names)``.
        """
        return self._run(frames)

    def predict(
        self,
        items: Sequence[tuple[str, bytes]],
        *,
        top_k: int = PredictConfig.top_k,
        keep_frames: bool = False,
    ) -> list[GifResult]:
        return self._predict_decoded(items, top_k=top_k, keep_frames=keep_frames)

    def _predict_decoded(
        self, items: Sequence[tuple[str, bytes]], *, top_k: int, keep_frames: bool
    ) -> list[GifResult]:
        results: list[GifResult | None] = [None] * len(items)
        good: list[int] = []
        batch: list[SampledInput] = []
        for position, (path, data) in enumerate(items):
            try:
                batch.append(sample_for_model(
                    data, path, self.num_frames, self.image_size, self.data_config,
                    keep_display=keep_frames,
                ))
                good.append(position)
            except MediaDecodeError as e:
                results[position] = GifResult(path=path, error=str(e))
        if batch:
            frames = np.stack([b.frames for b in batch]).astype(np.float32)
            outputs, emotions, categories = self._run(frames)
            for row, (position, sampled) in enumerate(zip(good, batch, strict=True)):
                result = _result(items[position][0], outputs, row, emotions, categories, top_k,
                                 sampled.display)
                result.frame_indices = sampled.indices
                result.content_box = sampled.content_box
                result.media_format = sampled.media_format
                result.source_size = sampled.source_size
                results[position] = result
        return [r for r in results if r is not None]


class KerasPredictor(_FramesPredictor):
    """Runs a :class:`KavanModel` on frames from the Python decoder and sampler.

    Args:
        model: A frames-input KavanModel.
        data_config: Decoder background colour, size limits, sampling and resize mode.
    """

    def __init__(self, model: KavanModel, data_config: DataConfig | None = None) -> None:
        if model.model_config.input_mode != "frames":
            raise ValueError(
                "Prediction on GIF files needs a frames-input model. Received: a model with "
                f"input_mode={model.model_config.input_mode!r}"
            )
        self.model = model
        self._forward: Any = None  # a tf.function, made on first use
        self.data_config = data_config if data_config is not None else DataConfig()
        self.num_frames = model.model_config.num_frames
        height, width = model.model_config.image_size
        self.image_size = (height, width)
        self.emotions = tuple(model.label_config.emotions)
        self.category_names = tuple(model.label_config.category_names)
        self.emotion_categories = _emotion_categories(model.label_config)

    def _run(self, frames: np.ndarray):
        if self._forward is None:  # a graph: faster, and Grappler fuses the folded convolutions
            model = self.model
            self._forward = tf.function(
                lambda x: model(x, training=False), reduce_retracing=True
            )
        outputs = self._forward(frames)
        outputs = {name: np.asarray(value) for name, value in outputs.items()}
        outputs["category_id"] = np.argmax(outputs["category"], axis=-1)
        return outputs, self.emotions, self.category_names


class SavedModelPredictor(_FramesPredictor):
    """Runs an exported SavedModel.

    With ``decoder="graph"`` (default) GIF bytes go to the ``serving_default``
    signature, exactly as a TF Serving client would send them, and other
    formats (WebP, APNG, video) are decoded here and go to ``serving_frames``;
    with ``decoder="python"`` the reference decoder decodes every file and the
    frames go to ``serving_frames``.

    Args:
        path: A SavedModel version folder.
        decoder: ``"graph"`` or ``"python"``.
        data_config: Settings of the Python decoder.
    """

    def __init__(
        self, path: str, decoder: str = "graph", data_config: DataConfig | None = None
    ) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"`decoder` must be one of {DECODERS}. Received: decoder={decoder!r}")
        self.path = path
        self.decoder = decoder
        self.data_config = data_config if data_config is not None else DataConfig()
        self.loaded = tf.saved_model.load(path)
        wanted = "serving_default" if decoder == "graph" else "serving_frames"
        if wanted not in self.loaded.signatures:
            raise ValueError(f"{path}: the SavedModel has no {wanted} signature")
        self.signature = self.loaded.signatures[wanted]
        self.frames_signature = self.loaded.signatures.get("serving_frames")
        if self.frames_signature is not None:
            spec = self.frames_signature.structured_input_signature[1]["frames"]
            self.num_frames = int(spec.shape[1])
            self.image_size = (int(spec.shape[2]), int(spec.shape[3]))
        labels = _saved_model_labels(path)
        # Labels from the model card or the export's info file; without
        # either, the default labels colour the emotions they name and the
        # category names come from the outputs only.
        self.emotion_categories = _emotion_categories(labels or LabelConfig())
        self._category_names = tuple(labels.category_names) if labels else ()

    def predict(
        self,
        items: Sequence[tuple[str, bytes]],
        *,
        top_k: int = PredictConfig.top_k,
        keep_frames: bool = False,
    ) -> list[GifResult]:
        if self.decoder == "python":
            return self._predict_decoded(items, top_k=top_k, keep_frames=keep_frames)
        # serving_default takes GIFs; everything else is decoded here.
        others = [i for i, (path, data) in enumerate(items) if media_format(data, path) != "GIF"]
        if others and self.frames_signature is not None:
            results: list[GifResult | None] = [None] * len(items)
            for i, result in zip(others, self._predict_decoded(
                    [items[i] for i in others], top_k=top_k, keep_frames=keep_frames),
                    strict=True):
                results[i] = result
            gifs = [i for i in range(len(items)) if results[i] is None]
            for i, result in zip(gifs, self._predict_graph(
                    [items[i] for i in gifs], top_k, keep_frames), strict=True):
                results[i] = result
            return [r for r in results if r is not None]
        return self._predict_graph(items, top_k, keep_frames)

    def _predict_graph(
        self, items: Sequence[tuple[str, bytes]], top_k: int, keep_frames: bool
    ) -> list[GifResult]:
        if not items:
            return []
        try:
            if keep_frames and hasattr(self.loaded, "predict_gif"):
                return [self._predict_one_with_frames(path, data, top_k) for path, data in items]
            return self._predict_gifs(items, top_k, keep_frames)
        except tf.errors.OpError as e:
            if len(items) == 1:
                return [GifResult(path=items[0][0], error=f"{items[0][0]}: {_op_error_text(e)}")]
        # One bad file fails the whole batch call: retry one by one to find it.
        return [
            result
            for item in items
            for result in self._predict_graph([item], top_k, keep_frames)
        ]

    def _run(self, frames: np.ndarray):
        signature = self.frames_signature
        outputs = {k: v.numpy() for k, v in signature(frames=tf.constant(frames)).items()}
        return outputs, *_names_of(outputs, self._category_names)

    def _predict_one_with_frames(self, path: str, data: bytes, top_k: int) -> GifResult:
        """One decoding gives the prediction and the full-size sampled frames."""
        outputs = {k: v.numpy() for k, v in self.loaded.predict_gif(tf.constant(data)).items()}
        sampled = outputs.pop("sampled_frames")
        indices = outputs.pop("frame_indices")
        emotions, categories = _names_of(outputs, self._category_names)
        result = _result(path, outputs, 0, emotions, categories, top_k, display_frames(sampled))
        result.frame_indices = np.asarray(indices)
        result.media_format = "GIF"
        result.source_size = (int(sampled.shape[1]), int(sampled.shape[2]))
        return result

    def _predict_gifs(
        self, items: Sequence[tuple[str, bytes]], top_k: int, keep_frames: bool
    ) -> list[GifResult]:
        gifs = tf.constant([data for _, data in items], dtype=tf.string)
        outputs = {name: value.numpy() for name, value in self.signature(gifs=gifs).items()}
        frames = None
        if keep_frames:
            if hasattr(self.loaded, "decode_gifs"):  # exported before predict_gif existed
                logger.warning("%s: exported by an older kavan_tf; overlays are drawn at the "
                               "model's input size", self.path)
                frames = self.loaded.decode_gifs(gifs).numpy().astype(np.uint8)
            else:
                logger.warning("%s: the SavedModel has no decode_gifs function; no overlays",
                               self.path)
        emotions, categories = _names_of(outputs, self._category_names)
        results = []
        for row, (path, _) in enumerate(items):
            result = _result(path, outputs, row, emotions, categories, top_k,
                             frames[row] if frames is not None else None)
            result.media_format = "GIF"
            results.append(result)
        return results


def _emotion_categories(labels: Any) -> dict[str, int]:
    return {e: int(c) for e, c in zip(labels.emotions, labels.emotion_to_category(), strict=True)}


def _saved_model_labels(path: str) -> Any:
    """The SavedModel's labels: from its model card, else from the export's
    ``assets.extra/kavan_export.json``; ``None`` when neither has them."""
    candidates = [((read_card(path) or {}).get("config") or {}).get("labels")]
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(path, WARMUP_DIR, EXPORT_INFO_FILE), encoding="utf-8") as f:
            candidates.append(json.load(f).get("label_config"))
    for values in candidates:
        if isinstance(values, dict):
            with contextlib.suppress(TypeError, ValueError):
                return LabelConfig(**values)
    return None


def _names_of(
    outputs: dict[str, np.ndarray], known: Sequence[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Emotion names, and category names by id.

    The outputs name the categories the batch fell into; the others come from
    ``known`` (the model card's labels) when it has one name per category,
    else they are named ``category_<id>`` (only ``category_probabilities``
    uses them).
    """
    emotions = tuple(v.decode("utf-8") for v in outputs["emotion_names"][0])
    count = outputs["category"].shape[-1]
    categories = list(known) if len(known) == count else [f"category_{i}" for i in range(count)]
    for cid, name in zip(outputs["category_id"], outputs["category_name"], strict=True):
        categories[int(cid)] = name.decode("utf-8")
    return emotions, tuple(categories)


def _result(
    path: str,
    outputs: dict[str, np.ndarray],
    row: int,
    emotions: Sequence[str],
    category_names: Sequence[str],
    top_k: int,
    frames: np.ndarray | None,
) -> GifResult:
    intensities = outputs["intensities"][row]
    category = outputs["category"][row]
    order = np.argsort(-intensities, kind="stable")
    category_id = int(outputs["category_id"][row])
    return GifResult(
        path=path,
        intensities={name: float(v) for name, v in zip(emotions, intensities, strict=True)},
        top_emotions=[(emotions[k], float(intensities[k])) for k in order[:top_k]],
        category_name=category_names[category_id],
        category_id=category_id,
        category_probabilities={
            name: float(p) for name, p in zip(category_names, category, strict=True)
        },
        valence=float(outputs["valence"][row]) if "valence" in outputs else None,
        arousal=float(outputs["arousal"][row]) if "arousal" in outputs else None,
        frames=None if frames is None else np.asarray(frames, dtype=np.uint8),
        attention=None if frames is None else np.asarray(outputs["attention"][row], np.float32),
    )


def _op_error_text(error: tf.errors.OpError) -> str:
    """The informative part of a TF runtime error: for the graph decoder's
    refusals, the reference decoder's ``cannot decode GIF: <cause>``, without
    TensorFlow's ``assertion failed: [...]`` wrapper and node names."""
    for line in error.message.splitlines():
        line = line.strip()
        if (
            not line
            or line.startswith(("Graph execution error", "Detected at node", "<stack", "[["))
        ):
            continue
        line = line.split("\t[[")[0].strip()
        if "assertion failed: [" in line:
            line = line.split("assertion failed: [", 1)[1]
            line = line[:-1] if line.endswith("]") else line
            line = re.sub(r"^(gifs\[\d+\]|gif): ", "", line)
        return line
    return error.message.strip()


def load_predictor(
    path: str | os.PathLike[str],
    *,
    decoder: str = "graph",
    data_config: DataConfig | None = None,
) -> Predictor:
    """Loads a SavedModel (version folder, or model folder: highest version) or a ``.keras``.

    Args:
        path: ``savedmodels/<name>/<version>``, ``savedmodels/<name>`` or a
            ``.keras`` file.
        decoder: For SavedModels: ``"graph"`` (GIF bytes to ``serving_default``)
            or ``"python"`` (reference decoder, frames to ``serving_frames``).
            ``.keras`` models always use the Python decoder, and run as
            :func:`kavan_tf.inference.for_inference` graphs.
        data_config: Settings of the Python decoder.

    Returns:
        A :class:`Predictor`.

    Raises:
        FileNotFoundError: Nothing loadable at ``path``.
        ValueError: The file is not a KavanModel, or a bad ``decoder``.
    """
    path = os.fspath(path)
    if decoder not in DECODERS:
        raise ValueError(f"`decoder` must be one of {DECODERS}. Received: decoder={decoder!r}")
    if os.path.isfile(path):
        if not path.endswith(".keras"):
            raise ValueError(f"{path}: expected a .keras file or a SavedModel folder")
        model = load_kavan_file(path)
        # Batch norm folded: same predictions, faster (kavan export serves the same graph).
        return KerasPredictor(for_inference(model) if model.model_config.input_mode == "frames"
                              else model, data_config)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such model file or folder")
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return SavedModelPredictor(path, decoder, data_config)
    for version in reversed(list_versions(path)):
        candidate = os.path.join(path, str(version))
        if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
            logger.info("Loading version %d of %s", version, path)
            return SavedModelPredictor(candidate, decoder, data_config)
        logger.warning("%s: no saved_model.pb in it; trying an older version", candidate)
    raise FileNotFoundError(
        f"{path}: no saved_model.pb in it or in a numbered version folder under it"
    )


# ----------------------------------------------------------------- prediction


def expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files as given, and the animations under directories (recursive, sorted).

    Folders are searched for :data:`kavan_tf.data.media.MEDIA_SUFFIXES`
    (``.gif``, ``.webp``, ``.png``, ``.apng``, ``.mp4``, ``.webm``, ...).
    """
    files = []
    for entry in paths:
        entry = os.fspath(entry)
        if os.path.isdir(entry):
            found = []
            for root, dirs, names in os.walk(entry):
                dirs.sort()
                found += [
                    os.path.join(root, n) for n in names if n.lower().endswith(MEDIA_SUFFIXES)
                ]
            if not found:
                logger.warning("%s: no GIF, WebP, PNG or video files in this folder", entry)
            files += sorted(found)
        else:
            files.append(entry)
    return files


def predict_paths(
    predictor: Predictor,
    paths: Sequence[str | os.PathLike[str]],
    batch_size: int = PredictConfig.batch_size,
    progress: bool = True,
    *,
    top_k: int = PredictConfig.top_k,
    keep_frames: bool = False,
) -> list[GifResult]:
    """Predicts every GIF file in ``paths`` (files or directories).

    Unreadable or undecodable files are logged and reported as results with
    ``error`` set; they never stop the run.

    Args:
        predictor: From :func:`load_predictor`.
        paths: GIF files and/or directories (searched recursively for ``.gif``).
        batch_size: GIFs per model call.
        progress: Show a progress bar on stderr.
        top_k: Emotions listed per GIF.
        keep_frames: Keep frames and attention for :func:`write_overlays`.

    Returns:
        One result per file, in order.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive int. Received: batch_size={batch_size!r}"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive int. Received: top_k={top_k!r}")
    files = expand_paths(paths)
    results: list[GifResult] = []
    with tqdm(total=len(files), disable=not progress, unit="gif", file=sys.stderr) as bar:
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            items: list[tuple[str, bytes]] = []
            chunk_results: dict[str, GifResult] = {}
            for path in chunk:
                try:
                    with open(path, "rb") as f:
                        items.append((path, f.read()))
                except OSError as e:
                    chunk_results[path] = GifResult(
                        path=path, error=f"{path}: cannot read the file ({e.strerror or e})"
                    )
            predicted = iter(predictor.predict(items, top_k=top_k, keep_frames=keep_frames))
            for path in chunk:
                result = chunk_results.get(path) or next(predicted)
                if result.ok:
                    result.model_size = predictor.image_size
                    result.emotion_categories = dict(predictor.emotion_categories)
                if result.error:
                    logger.warning("Skipped %s", result.error)
                results.append(result)
            bar.update(len(chunk))
    return results


__all__ = [
    "GifResult",
    "KerasPredictor",
    "Predictor",
    "SampledInput",
    "SavedModelPredictor",
    "decode_for_model",
    "display_frames",
    "expand_paths",
    "load_predictor",
    "predict_paths",
    "sample_for_model",
]
