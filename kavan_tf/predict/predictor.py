"""Predictors: GIF (and WebP, APNG, video) files in, :class:`GifResult`s out.

The decisions: docs/decisions.md#deployment; the usage: docs/serving.md.

Every file takes one path, in three steps:

1. decode (:meth:`Predictor.decode`, the one entry point for every format):
   every file goes through the reference pipeline
   (:func:`~kavan_tf.predict.inputs.sample_for_model`), except GIFs for a
   SavedModel loaded with ``decoder="graph"``, whose bytes go to the model as
   they are and are decoded in the graph, as TF Serving does (the same
   frames: docs/serving.md);
2. run: a ``.keras`` model as a folded inference graph, or the SavedModel's
   ``serving_frames`` signature on frames, or its ``serving_default``
   signature on GIF bytes (``predict_with_frames`` when frames are kept),
   which answers for each GIF separately;
3. build each result once (:func:`~kavan_tf.predict.results.build_result`).

Unreadable and undecodable files never stop a run: their result carries the
error as a value (``<path>: cannot decode GIF: <cause>``, the same words from
either decoder). With ``keep_frames=True`` a result also keeps the sampled
frames at the file's own size (at most ``DISPLAY_MAX`` pixels on the long
side), from the same decoding as the prediction, for overlays and reports.
"""

from __future__ import annotations

import abc
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kavan_tf.config import DataConfig, PredictConfig
from kavan_tf.data.media import MEDIA_SUFFIXES, media_format
from kavan_tf.errors import GifDecodeError, MediaDecodeError
from kavan_tf.export.keras_file import load_kavan_file
from kavan_tf.export.saved_model import list_versions
from kavan_tf.export.serving_module import FRAMES_SIGNATURE, GIFS_SIGNATURE
from kavan_tf.inference import for_inference
from kavan_tf.models.kavan import KavanModel
from kavan_tf.predict.inputs import SampledInput, sample_for_model
from kavan_tf.predict.results import GifResult, Labels, build_result

logger = logging.getLogger(__name__)

DECODERS = ("graph", "python")
#: The outputs a result is built from.
_RESULT_OUTPUTS = ("intensities", "category", "attention", "valence", "arousal")


class Predictor(abc.ABC):
    """Turns encoded files into :class:`GifResult`s: decode, run, build.

    Attributes:
        num_frames: ``T``, the frames the model takes per file.
        image_size: ``(height, width)`` of the model's input frames.
        labels: The names of the model's outputs.
        data_config: Settings of the reference decoder.
    """

    num_frames: int
    image_size: tuple[int, int]
    labels: Labels
    data_config: DataConfig
    #: Whether GIF bytes go to the model as they are (:meth:`run_gifs`).
    decodes_gifs = False

    @property
    def emotions(self) -> tuple[str, ...]:
        return self.labels.emotions

    @property
    def emotion_categories(self) -> dict[str, int]:
        return self.labels.category_of()

    def decode(self, path: str, data: bytes, *, keep_frames: bool = False
               ) -> SampledInput | bytes:
        """One file, ready for the model: the entry point for every format.

        Returns:
            The bytes of a GIF the model decodes itself (:attr:`decodes_gifs`),
            else the reference pipeline's sampled frames.

        Raises:
            MediaDecodeError: The reference decoder cannot decode the file.
        """
        if self.decodes_gifs and media_format(data, path) == "GIF":
            return data
        return sample_for_model(data, path, self.num_frames, self.image_size, self.data_config,
                                keep_display=keep_frames)

    @abc.abstractmethod
    def run_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs by name for float32 frames ``[B, T, height, width, 3]``
        (raw RGB 0-255)."""

    def run_gifs(self, gifs: Sequence[bytes], *, keep_frames: bool = False
                 ) -> dict[str, np.ndarray]:
        """The model's outputs by name for GIF bytes, with ``error`` and ``ok`` per GIF."""
        raise NotImplementedError(f"{type(self).__name__} decodes no GIFs in its graph")

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
            keep_frames: Keep the sampled frames and the attention masks in
                the results (for overlays and the report).

        Returns:
            One result per item, in order.
        """
        _check_positive("top_k", top_k)
        decoded: list[SampledInput | bytes | MediaDecodeError] = []
        for path, data in items:
            try:
                decoded.append(self.decode(path, data, keep_frames=keep_frames))
            except MediaDecodeError as e:
                decoded.append(e)
        results = {
            i: GifResult(path=items[i][0], error=str(d))
            for i, d in enumerate(decoded) if isinstance(d, MediaDecodeError)
        }
        sampled = [(i, d) for i, d in enumerate(decoded) if isinstance(d, SampledInput)]
        if sampled:
            outputs = self.run_frames(np.stack([s.frames for _, s in sampled]).astype(np.float32))
            for row, (i, s) in enumerate(sampled):
                results[i] = build_result(
                    items[i][0], _row(outputs, row), self.labels, top_k=top_k,
                    media_format=s.media_format, model_size=self.image_size, frames=s.display,
                    frame_indices=s.indices, source_size=s.source_size,
                    content_box=s.content_box)
        gifs = [(i, d) for i, d in enumerate(decoded) if isinstance(d, bytes)]
        if gifs:
            outputs = self.run_gifs([g for _, g in gifs], keep_frames=keep_frames)
            for row, (i, _) in enumerate(gifs):
                results[i] = self._gif_result(items[i][0], outputs, row, top_k, keep_frames)
        return [results[i] for i in range(len(items))]

    def _gif_result(self, path: str, outputs: dict[str, np.ndarray], row: int, top_k: int,
                    keep_frames: bool) -> GifResult:
        """One row of :meth:`run_gifs` as a result."""
        if not outputs["ok"][row]:
            return GifResult(path=path, error=str(GifDecodeError(
                path, outputs["error"][row].decode("utf-8", "replace"))))
        frames = indices = source = None
        if keep_frames:
            height, width = outputs["display_size"][row]
            # A copy: the batch's padded frames are freed with the batch.
            frames = np.array(outputs["display_frames"][row, :, :height, :width])
            indices, source = outputs["frame_indices"][row], outputs["source_size"][row]
        return build_result(path, _row(outputs, row), self.labels, top_k=top_k,
                            media_format="GIF", model_size=self.image_size, frames=frames,
                            frame_indices=indices, source_size=source)


def _row(outputs: dict[str, np.ndarray], row: int) -> dict[str, np.ndarray]:
    return {name: outputs[name][row] for name in _RESULT_OUTPUTS}


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


class KerasPredictor(Predictor):
    """Runs a :class:`KavanModel` on frames from the reference decoder and sampler.

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
        self.labels = Labels.of(model.label_config)

    def run_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        if self._forward is None:  # a graph: faster, and Grappler fuses the folded convolutions
            model = self.model
            self._forward = tf.function(
                lambda x: model(x, training=False), reduce_retracing=True
            )
        return {name: np.asarray(value) for name, value in self._forward(frames).items()}


class SavedModelPredictor(Predictor):
    """Runs an exported SavedModel.

    With ``decoder="python"`` (default) the reference decoder decodes every
    file here and the frames go to ``serving_frames``: it starts faster and
    holds less memory than the graph's decoder (docs/performance.md). With
    ``decoder="graph"`` GIF bytes go to the ``serving_default`` signature,
    exactly as a TF Serving client would send them (other formats still go
    to ``serving_frames``); a batch's GIFs then decode in parallel, which
    gives more GIFs per second on many files. The labels are the
    SavedModel's own (``emotion_names``, ``category_names``,
    ``emotion_categories``).

    Args:
        path: A SavedModel version folder.
        decoder: ``"graph"`` or ``"python"``.
        data_config: Settings of the reference decoder.

    Raises:
        ValueError: A bad ``decoder``, or a SavedModel without the signatures
            or the labels of a ``kavan export``.
    """

    def __init__(
        self, path: str, decoder: str = "python", data_config: DataConfig | None = None
    ) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"`decoder` must be one of {DECODERS}. Received: decoder={decoder!r}")
        self.path = path
        self.decoder = decoder
        self.decodes_gifs = decoder == "graph"
        self.data_config = data_config if data_config is not None else DataConfig()
        self.loaded = tf.saved_model.load(path)
        for name in (FRAMES_SIGNATURE, GIFS_SIGNATURE):
            if name not in self.loaded.signatures:
                raise ValueError(f"{path}: the SavedModel has no {name} signature")
        self._frames = self.loaded.signatures[FRAMES_SIGNATURE]
        self._gifs = self.loaded.signatures[GIFS_SIGNATURE]
        spec = self._frames.structured_input_signature[1]["frames"]
        self.num_frames = int(spec.shape[1])
        self.image_size = (int(spec.shape[2]), int(spec.shape[3]))
        self.labels = _labels_of(self.loaded, path)

    def run_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        return _numpy(self._frames(frames=tf.constant(frames, tf.float32)))

    def run_gifs(self, gifs: Sequence[bytes], *, keep_frames: bool = False
                 ) -> dict[str, np.ndarray]:
        batch = tf.constant(list(gifs), dtype=tf.string)
        if keep_frames:  # the same outputs, and the sampled frames at display size
            return _numpy(self.loaded.predict_with_frames(batch))
        return _numpy(self._gifs(gifs=batch))


def _numpy(outputs: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in outputs.items()}


def _labels_of(loaded: Any, path: str) -> Labels:
    """The labels a ``kavan export`` keeps as variables of the SavedModel."""
    try:
        emotions, categories, ids = (loaded.emotion_names, loaded.category_names,
                                     loaded.emotion_categories)
    except AttributeError:
        raise ValueError(
            f"{path}: the SavedModel has no labels (emotion_names, category_names, "
            "emotion_categories); it was exported by an older kavan_tf: export the model "
            "again with `kavan export`"
        ) from None
    return Labels(
        emotions=tuple(v.decode("utf-8") for v in emotions.numpy()),
        category_names=tuple(v.decode("utf-8") for v in categories.numpy()),
        emotion_categories=tuple(int(c) for c in ids.numpy()),
    )


def load_predictor(
    path: str | os.PathLike[str],
    *,
    decoder: str = "python",
    data_config: DataConfig | None = None,
) -> Predictor:
    """Loads a SavedModel (version folder, or model folder: highest version) or a ``.keras``.

    Args:
        path: ``savedmodels/<name>/<version>``, ``savedmodels/<name>`` or a
            ``.keras`` file.
        decoder: For SavedModels: ``"python"`` (default: the reference
            decoder, frames to ``serving_frames``) or ``"graph"`` (GIF bytes
            to ``serving_default``, as TF Serving runs it).
            ``.keras`` models always use the reference decoder, and run as
            :func:`kavan_tf.inference.for_inference` graphs.
        data_config: Settings of the reference decoder.

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


def iter_predictions(
    predictor: Predictor,
    paths: Sequence[str | os.PathLike[str]],
    batch_size: int = PredictConfig.batch_size,
    progress: bool = True,
    *,
    top_k: int = PredictConfig.top_k,
    keep_frames: bool = False,
) -> Iterator[GifResult]:
    """Predicts every file in ``paths`` (files or directories), a batch at a time.

    The results come as each batch finishes, so a caller that draws a result
    and keeps only :meth:`GifResult.without_frames` holds one batch of frames
    at a time, however many files there are (what ``kavan predict --overlay
    --report`` does). Unreadable or undecodable files are logged and come as
    results with ``error`` set; they never stop the run.

    Args:
        predictor: From :func:`load_predictor`.
        paths: Files and/or directories (searched recursively, :func:`expand_paths`).
        batch_size: Files per model call.
        progress: Show a progress bar on stderr.
        top_k: Emotions listed per file.
        keep_frames: Keep frames and attention for overlays and the report.

    Returns:
        An iterator of one result per file, in order.

    Raises:
        ValueError: A bad ``batch_size`` or ``top_k`` (at once, before any file is read).
    """
    _check_positive("batch_size", batch_size)
    _check_positive("top_k", top_k)
    return _predictions(predictor, expand_paths(paths), batch_size, progress, top_k, keep_frames)


def _predictions(predictor: Predictor, files: list[str], batch_size: int, progress: bool,
                 top_k: int, keep_frames: bool) -> Iterator[GifResult]:
    with tqdm(total=len(files), disable=not progress, unit="gif", file=sys.stderr) as bar:
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            items: list[tuple[str, bytes]] = []
            unread: dict[str, GifResult] = {}
            for path in chunk:
                try:
                    with open(path, "rb") as f:
                        items.append((path, f.read()))
                except OSError as e:
                    unread[path] = GifResult(
                        path=path, error=f"{path}: cannot read the file ({e.strerror or e})"
                    )
            predicted = iter(predictor.predict(items, top_k=top_k, keep_frames=keep_frames))
            del items
            for path in chunk:
                result = unread.get(path) or next(predicted)
                if result.error:
                    logger.warning("Skipped %s", result.error)
                yield result
            bar.update(len(chunk))


def predict_paths(
    predictor: Predictor,
    paths: Sequence[str | os.PathLike[str]],
    batch_size: int = PredictConfig.batch_size,
    progress: bool = True,
    *,
    top_k: int = PredictConfig.top_k,
    keep_frames: bool = False,
) -> list[GifResult]:
    """Predicts every file in ``paths``: :func:`iter_predictions`, as a list.

    With ``keep_frames`` the list holds every file's frames (a few MB each);
    for many files, draw them as they come with :func:`iter_predictions` and
    :class:`kavan_tf.predict.drawing.Drawing`.

    Returns:
        One result per file, in order.
    """
    return list(iter_predictions(predictor, paths, batch_size, progress, top_k=top_k,
                                 keep_frames=keep_frames))


__all__ = [
    "DECODERS",
    "KerasPredictor",
    "Predictor",
    "SavedModelPredictor",
    "expand_paths",
    "iter_predictions",
    "load_predictor",
    "predict_paths",
]
