"""Prediction on GIF files: results, output formats and attention overlays (SPEC 8).

A predictor wraps either an exported SavedModel (GIF bytes go to its
``serving_default`` signature, which decodes them in the graph, as TF Serving
does; or, with ``decoder="python"``, the reference decoder's frames go to
``serving_frames``) or a ``.keras`` file (GIFs are decoded by the reference
Python decoder :mod:`kavan_tf.data.gif` and sampled like the evaluation
pipeline, :func:`decode_for_model`). Unreadable files never stop a run: they
get a result with ``error`` set.

Example:

```python
from kavan_tf.predict import format_table, load_predictor, predict_paths, write_overlays

predictor = load_predictor("savedmodels/kavan")          # highest version
results = predict_paths(predictor, ["cat.gif", "gifs/"], keep_frames=True)
print(format_table(results))
write_overlays(results, "overlays/")                      # attention over the frames
```
"""

from __future__ import annotations

import abc
import contextlib
import csv
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.errors import GifDecodeError
from kavan_tf.models.kavan import KavanModel

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("table", "jsonl", "csv")
DECODERS = ("graph", "python")
GIF_SUFFIXES = (".gif",)


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
        error: Why the file has no prediction, else ``None``.
        frames: uint8 ``[T, H, W, 3]`` frames the model saw (only when asked for).
        attention: float32 ``[T, h, w]`` attention masks (only when asked for).
    """

    path: str
    intensities: dict[str, float] = field(default_factory=dict)
    top_emotions: list[tuple[str, float]] = field(default_factory=list)
    category_name: str | None = None
    category_id: int | None = None
    category_probabilities: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    frames: np.ndarray | None = field(default=None, repr=False)
    attention: np.ndarray | None = field(default=None, repr=False)

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
            "error": self.error,
        }


# ----------------------------------------------------------------- predictors


class Predictor(abc.ABC):
    """Turns encoded GIFs into :class:`GifResult`s."""

    @abc.abstractmethod
    def predict(
        self, items: Sequence[tuple[str, bytes]], *, top_k: int = 3, keep_frames: bool = False
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


def decode_for_model(
    data: bytes,
    path: str,
    num_frames: int,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
) -> np.ndarray:
    """The reference input pipeline for one GIF: decode, TSN-evaluation sample, resize.

    Uses :func:`kavan_tf.data.gif.decode_gif_with_config` and
    :mod:`kavan_tf.data.sampling`, as evaluation does.

    Args:
        data: The encoded GIF.
        path: Its name, for errors.
        num_frames: ``T``.
        image_size: ``(height, width)``.
        data_config: Background colour, size limits, sampling and resize mode.

    Returns:
        uint8 ``[T, height, width, 3]``.

    Raises:
        GifDecodeError: The GIF cannot be decoded.
    """
    from kavan_tf.data import sampling
    from kavan_tf.data.gif import decode_gif_with_config

    data_config = data_config if data_config is not None else DataConfig()
    gif = decode_gif_with_config(data, data_config, name=path)
    indices = sampling.sample_indices(
        gif.num_frames, num_frames, training=False, delays_ms=gif.delays_ms,
        by=data_config.sampling,
    )
    frames, _ = sampling.resize_frames(
        gif.frames[indices], tuple(image_size), mode=data_config.resize,
        background=data_config.background,
    )
    return np.asarray(frames, dtype=np.uint8)


class _FramesPredictor(Predictor):
    """Decodes with the Python pipeline and runs a frames model (``_run``)."""

    num_frames: int
    image_size: tuple[int, int]
    data_config: DataConfig

    @abc.abstractmethod
    def _run(self, frames: np.ndarray) -> tuple[dict[str, np.ndarray], Sequence[str],
                                                Sequence[str]]:
        """``(outputs, emotion names, category names)`` for float32 frames."""

    def predict(
        self, items: Sequence[tuple[str, bytes]], *, top_k: int = 3, keep_frames: bool = False
    ) -> list[GifResult]:
        results: list[GifResult | None] = [None] * len(items)
        good: list[int] = []
        batch: list[np.ndarray] = []
        for position, (path, data) in enumerate(items):
            try:
                batch.append(
                    decode_for_model(data, path, self.num_frames, self.image_size,
                                     self.data_config)
                )
                good.append(position)
            except GifDecodeError as e:
                results[position] = GifResult(path=path, error=str(e))
        if batch:
            frames = np.stack(batch)
            outputs, emotions, categories = self._run(frames.astype(np.float32))
            for row, position in enumerate(good):
                results[position] = _result(
                    items[position][0], outputs, row, emotions, categories, top_k,
                    frames[row] if keep_frames else None,
                )
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
        self._forward = None
        self.data_config = data_config if data_config is not None else DataConfig()
        self.num_frames = model.model_config.num_frames
        self.image_size = tuple(model.model_config.image_size)  # type: ignore[assignment]
        self.emotions = tuple(model.label_config.emotions)
        self.category_names = tuple(model.label_config.category_names)

    def _run(self, frames: np.ndarray):
        if self._forward is None:  # a graph: faster, and Grappler fuses the folded convolutions
            import tensorflow as tf

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

    With ``decoder="graph"`` (default) the GIF bytes go to the
    ``serving_default`` signature, exactly as a TF Serving client would send
    them; with ``decoder="python"`` the reference Python pipeline decodes them
    and the frames go to ``serving_frames`` (see ``docs/serving.md`` for where
    the two decoders differ).

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
        if decoder == "python":
            spec = self.signature.structured_input_signature[1]["frames"]
            self.num_frames = int(spec.shape[1])
            self.image_size = (int(spec.shape[2]), int(spec.shape[3]))

    def predict(
        self, items: Sequence[tuple[str, bytes]], *, top_k: int = 3, keep_frames: bool = False
    ) -> list[GifResult]:
        if self.decoder == "python":
            return super().predict(items, top_k=top_k, keep_frames=keep_frames)
        if not items:
            return []
        try:
            return self._predict_gifs(items, top_k, keep_frames)
        except tf.errors.OpError as e:
            if len(items) == 1:
                return [GifResult(path=items[0][0], error=f"{items[0][0]}: {_op_error_text(e)}")]
        # One bad file fails the whole batch call: retry one by one to find it.
        return [
            result
            for item in items
            for result in self.predict([item], top_k=top_k, keep_frames=keep_frames)
        ]

    def _run(self, frames: np.ndarray):
        outputs = {k: v.numpy() for k, v in self.signature(frames=tf.constant(frames)).items()}
        return outputs, *_names_of(outputs)

    def _predict_gifs(
        self, items: Sequence[tuple[str, bytes]], top_k: int, keep_frames: bool
    ) -> list[GifResult]:
        gifs = tf.constant([data for _, data in items], dtype=tf.string)
        outputs = {name: value.numpy() for name, value in self.signature(gifs=gifs).items()}
        frames = None
        if keep_frames:
            if hasattr(self.loaded, "decode_gifs"):
                frames = self.loaded.decode_gifs(gifs).numpy().astype(np.uint8)
            else:
                logger.warning("%s: the SavedModel has no decode_gifs function; no overlays",
                               self.path)
        emotions, categories = _names_of(outputs)
        return [
            _result(path, outputs, row, emotions, categories, top_k,
                    frames[row] if frames is not None else None)
            for row, (path, _) in enumerate(items)
        ]


def _names_of(outputs: dict[str, np.ndarray]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Emotion names, and category names by id as far as the batch shows them.

    Categories no GIF of the batch fell into are named ``category_<id>``; only
    ``category_probabilities`` uses them.
    """
    emotions = tuple(v.decode("utf-8") for v in outputs["emotion_names"][0])
    categories = [f"category_{i}" for i in range(outputs["category"].shape[-1])]
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
            :func:`kavan_tf.models.for_inference` graphs.
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
        import keras

        from kavan_tf.models.precision import for_inference

        model = keras.saving.load_model(path, compile=False)
        if not isinstance(model, KavanModel):
            raise ValueError(f"{path}: holds a {type(model).__name__}, not a KavanModel")
        # Batch norm folded: same predictions, faster (kavan export serves the same graph).
        return KerasPredictor(for_inference(model) if model.model_config.input_mode == "frames"
                              else model, data_config)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such model file or folder")
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return SavedModelPredictor(path, decoder, data_config)
    from kavan_tf.export.saved_model import list_versions

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
    """Files as given, and the ``.gif`` files under directories (recursive, sorted)."""
    files = []
    for entry in paths:
        entry = os.fspath(entry)
        if os.path.isdir(entry):
            found = []
            for root, dirs, names in os.walk(entry):
                dirs.sort()
                found += [
                    os.path.join(root, n) for n in names if n.lower().endswith(GIF_SUFFIXES)
                ]
            if not found:
                logger.warning("%s: no .gif files in this folder", entry)
            files += sorted(found)
        else:
            files.append(entry)
    return files


def predict_paths(
    predictor: Predictor,
    paths: Sequence[str | os.PathLike[str]],
    batch_size: int = 8,
    progress: bool = True,
    *,
    top_k: int = 3,
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
    from tqdm.auto import tqdm

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
                if result.error:
                    logger.warning("Skipped %s", result.error)
                results.append(result)
            bar.update(len(chunk))
    return results


# ----------------------------------------------------------------- formats


def format_table(results: Sequence[GifResult]) -> str:
    """A plain-text table: path, category, top emotions (or the error)."""
    rows = [("path", "category", "top emotions")]
    for r in results:
        if r.ok:
            top = ", ".join(f"{name} {value:+.3f}" for name, value in r.top_emotions)
            rows.append((r.path, r.category_name or "", top))
        else:
            rows.append((r.path, "ERROR", r.error or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [
        f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _text_output(target: str | os.PathLike[str] | TextIO, newline: str | None = None
                 ) -> Iterator[TextIO]:
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8", newline=newline) as f:
            yield f
    else:
        yield target


def write_jsonl(results: Sequence[GifResult], target: str | os.PathLike[str] | TextIO) -> None:
    """One JSON object per line and GIF (see :meth:`GifResult.to_dict`)."""
    with _text_output(target) as f:
        for r in results:
            f.write(json.dumps(r.to_dict()) + "\n")


def write_csv(results: Sequence[GifResult], target: str | os.PathLike[str] | TextIO) -> None:
    """CSV: path, category, category_id, top_emotions, one column per emotion, error.

    ``top_emotions`` is ``name:intensity`` pairs joined by ``;``. The emotion
    columns follow the first successful result's emotion order.
    """
    emotions = next((list(r.intensities) for r in results if r.ok), [])
    with _text_output(target, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "category", "category_id", "top_emotions", *emotions, "error"])
        for r in results:
            top = ";".join(f"{name}:{value:.6f}" for name, value in r.top_emotions)
            writer.writerow(
                [r.path, r.category_name or "", "" if r.category_id is None else r.category_id,
                 top]
                + [f"{r.intensities[e]:.6f}" if e in r.intensities else "" for e in emotions]
                + [r.error or ""]
            )


# ----------------------------------------------------------------- overlays


def _jet(values: np.ndarray) -> np.ndarray:
    """Jet colour map: ``[...]`` values in [0, 1] -> ``[..., 3]`` floats in [0, 1]."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25])
    return np.clip(1.5 - np.abs(4.0 * v - 4.0 * centres), 0.0, 1.0)


def overlay_frames(frames: np.ndarray, attention: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blends colour-mapped attention masks over frames (paper Fig. 6).

    Each ``[h, w]`` mask is upsampled bilinearly to the frame size, divided by
    the GIF's largest attention value (so the masks of one GIF share a scale),
    mapped through a jet colour map and blended over its frame.

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        attention: ``[T, h, w]`` attention masks.
        alpha: Weight of the colour map.

    Returns:
        uint8 ``[T, H, W, 3]``.
    """
    frames = np.asarray(frames)
    attention = np.asarray(attention, dtype=np.float32)
    if frames.ndim != 4 or attention.ndim != 3 or frames.shape[0] != attention.shape[0]:
        raise ValueError(
            "Expected frames [T, H, W, 3] and attention [T, h, w] with the same T. "
            f"Received: frames.shape={frames.shape}, attention.shape={attention.shape}"
        )
    height, width = frames.shape[1:3]
    masks = tf.image.resize(attention[..., None], (height, width), method="bilinear").numpy()
    masks = masks[..., 0] / max(float(masks.max()), 1e-12)
    blended = (1.0 - alpha) * frames.astype(np.float32) + alpha * 255.0 * _jet(masks)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def write_overlays(
    results: Sequence[GifResult],
    out_dir: str | os.PathLike[str],
    *,
    alpha: float = 0.5,
    duration_ms: int = 250,
) -> list[str]:
    """Writes the attention masks over the sampled frames, one animated GIF per input.

    Results need ``frames`` and ``attention`` (``predict_paths(...,
    keep_frames=True)``); others are skipped. A thin bar along the bottom edge
    shows each frame's position in the sequence (it also keeps the GIF writer
    from merging identical frames, so every file has exactly T frames).

    Args:
        results: Prediction results.
        out_dir: Created if needed; files are named ``<stem>.attention.gif``.
        alpha: Weight of the colour map.
        duration_ms: Display time of each frame.

    Returns:
        The written paths.
    """
    from PIL import Image

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    written: list[str] = []
    used: set[str] = set()
    for r in results:
        if r.frames is None or r.attention is None:
            if r.ok:
                logger.warning("%s: no frames kept; no overlay written", r.path)
            continue
        images = overlay_frames(r.frames, r.attention, alpha)
        count, height, width = images.shape[:3]
        bar = max(1, height // 32)
        for t in range(count):
            images[t, height - bar :, : (t + 1) * width // count] = 255
        stem = os.path.splitext(os.path.basename(r.path))[0] or "gif"
        name, n = f"{stem}.attention.gif", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.attention.gif"
        used.add(name)
        path = os.path.join(out_dir, name)
        pil = [Image.fromarray(image, "RGB") for image in images]
        pil[0].save(path, format="GIF", save_all=True, append_images=pil[1:],
                    duration=duration_ms, loop=0)
        written.append(path)
    return written


# ----------------------------------------------------------------- CLI entry points


def run_predict(
    inputs: Sequence[str | os.PathLike[str]],
    model_path: str | os.PathLike[str],
    output_format: str = "table",
    output: str | os.PathLike[str] | None = None,
    overlay_dir: str | os.PathLike[str] | None = None,
    top_k: int = 3,
    batch_size: int = 8,
    progress: bool = True,
    decoder: str = "graph",
) -> int:
    """``kavan predict``: predicts GIFs and prints or writes the results.

    Args:
        inputs: GIF files and/or directories.
        model_path: SavedModel folder (version or model folder) or ``.keras`` file.
        output_format: ``"table"``, ``"jsonl"`` or ``"csv"``.
        output: File to write; stdout when ``None``.
        overlay_dir: Write attention overlays here when set.
        top_k: Emotions listed per GIF.
        batch_size: GIFs per model call.
        progress: Progress bar on stderr.
        decoder: For SavedModels, ``"graph"`` (in-graph decoding, as TF
            Serving does) or ``"python"`` (the reference decoder); see
            :func:`load_predictor`.

    Returns:
        Exit status: 0 when every file was predicted, 1 when any failed.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"`output_format` must be one of {OUTPUT_FORMATS}. "
            f"Received: output_format={output_format!r}"
        )
    predictor = load_predictor(model_path, decoder=decoder)
    results = predict_paths(
        predictor, inputs, batch_size=batch_size, progress=progress, top_k=top_k,
        keep_frames=overlay_dir is not None,
    )
    target: str | os.PathLike[str] | TextIO = output if output is not None else sys.stdout
    if output_format == "table":
        with _text_output(target) as f:
            f.write(format_table(results))
    elif output_format == "jsonl":
        write_jsonl(results, target)
    else:
        write_csv(results, target)
    if overlay_dir is not None:
        written = write_overlays(results, overlay_dir)
        logger.info("Wrote %d attention overlay(s) to %s", len(written), overlay_dir)
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{failed} of {len(results)} file(s) could not be predicted", file=sys.stderr)
    if not results:
        print("No GIF files found", file=sys.stderr)
        return 1
    return 1 if failed else 0


def run_export(
    model_path: str | os.PathLike[str],
    export_dir: str | os.PathLike[str] = "savedmodels",
    name: str = "kavan",
    version: int | None = None,
    warmup_gifs: Sequence[str | os.PathLike[str]] | None = None,
    precision: str = "float32",
    fold_batch_norm: bool = True,
) -> str:
    """``kavan export``: a ``.keras`` KavanModel -> ``<export_dir>/<name>/<version>/``.

    Args:
        model_path: The ``.keras`` file.
        export_dir: Root of the exported models.
        name: Served model name.
        version: Version number; the next one when ``None``.
        warmup_gifs: GIF files for the warm-up requests; a generated GIF when
            ``None``.
        precision: ``"float32"`` or ``"bfloat16"`` (see
            :func:`kavan_tf.models.for_inference`).
        fold_batch_norm: Serve the backbone with its batch normalisations
            folded into the convolutions (same results, faster; see
            :func:`kavan_tf.models.for_inference`).

    Returns:
        The version folder.
    """
    import keras

    from kavan_tf.export.saved_model import export_saved_model

    model_path = os.fspath(model_path)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    model = keras.saving.load_model(model_path, compile=False)
    if not isinstance(model, KavanModel):
        raise ValueError(f"{model_path}: holds a {type(model).__name__}, not a KavanModel")
    if precision not in ("float32", "bfloat16"):
        raise ValueError(
            f"`precision` must be 'float32' or 'bfloat16'. Received: precision={precision!r}"
        )
    from kavan_tf.models.precision import for_inference, with_precision

    if fold_batch_norm:
        model = for_inference(model, precision)
    elif precision == "bfloat16":
        model = with_precision(model, "bfloat16")
    gifs = None
    if warmup_gifs:
        gifs = []
        for path in warmup_gifs:
            with open(path, "rb") as f:
                gifs.append(f.read())
    from kavan_tf.model_card import read_card

    card = read_card(model_path)
    if card is not None:
        card = {**card, "export": {"precision": precision, "fold_batch_norm": fold_batch_norm,
                                   "from": os.path.abspath(model_path)}}
    return export_saved_model(model, export_dir, name, version, warmup_gifs=gifs,
                              model_card=card)


__all__ = [
    "GifResult",
    "KerasPredictor",
    "decode_for_model",
    "Predictor",
    "SavedModelPredictor",
    "expand_paths",
    "format_table",
    "load_predictor",
    "overlay_frames",
    "predict_paths",
    "run_export",
    "run_predict",
    "write_csv",
    "write_jsonl",
    "write_overlays",
]
