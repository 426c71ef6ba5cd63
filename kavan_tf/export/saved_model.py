"""Versioned SavedModel export for TF Serving (docs/decisions.md#deployment).

Layout written by :func:`export_saved_model`::

    savedmodels/<name>/
        models.config                      # TF Serving model_config_list
        batching_parameters.txt            # server-side batching (BatchingParameters)
        <version>/                         # 1, 2, ... never overwritten
            saved_model.pb
            variables/
            assets.extra/
                tf_serving_warmup_requests # PredictionLog TFRecords
                kavan_export.json          # model and label config, signatures

Signatures:

- ``serving_default``: ``gifs`` ``tf.string [None]`` (encoded GIF files),
  decoded, sampled and resized inside the graph
  (:mod:`kavan_tf.export.serving_graph`).
- ``serving_frames``: ``frames`` ``float32 [None, T, H, W, 3]`` (raw RGB 0-255).

Both return ``intensities`` ``[B, E]``, ``category`` ``[B, C]``,
``attention`` ``[B, T, h, w]``, ``category_id`` ``int32 [B]`` (argmax of
``category``), ``category_name`` ``string [B]``, ``emotion_names``
``string [B, E]`` (model order: ``emotion_names[b, k]`` names
``intensities[b, k]``), ``ranked_emotions`` ``string [B, E]`` and
``ranked_intensities`` ``float32 [B, E]`` (sorted by intensity, highest first,
so the first k entries are the top k), ``valence`` and ``arousal``
``float32 [B]`` (expected valence and arousal in [-1, 1] from ``category``,
docs/model.md#valence-and-arousal; the model's own outputs).
``serving_default`` also returns, per GIF, ``error`` ``string [B]`` (``""``
when it decoded, else the reference decoder's cause, word for word) and
``ok`` ``bool [B]``: a GIF that cannot be decoded fails only its own row,
whose predictions are NaN, ``category_id`` -1 and names empty.

Example:

```python
from kavan_tf.export import export_saved_model

path = export_saved_model(model, "savedmodels", "kavan")   # savedmodels/kavan/1
served = tf.saved_model.load(path)
out = served.signatures["serving_default"](gifs=tf.constant([open("cat.gif", "rb").read()]))
out["ranked_emotions"][0, :3]
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
from typing import Any

import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.export import serving_graph
from kavan_tf.export.warmup import WARMUP_DIR, tiny_gif, write_warmup_requests
from kavan_tf.model_card import CARD_FILE, write_card
from kavan_tf.models.kavan import KavanModel

logger = logging.getLogger(__name__)

MODEL_CONFIG_FILE = "models.config"
BATCHING_FILE = "batching_parameters.txt"
EXPORT_INFO_FILE = "kavan_export.json"
GIFS_SIGNATURE = "serving_default"
#: Longest side of the frames ``predict_with_frames`` returns for display.
DISPLAY_MAX = 480
FRAMES_SIGNATURE = "serving_frames"
_VERSION = re.compile(r"^[0-9]+$")


class KavanServingModule(tf.Module):
    """The serving endpoints around a :class:`KavanModel` (tracked as ``model``).

    Built like ``official/vision/serving``'s export modules: ``tf.function``s
    with named ``tf.TensorSpec`` inputs. The functions are also attributes of
    the object ``tf.saved_model.load`` returns:

    - ``serve_gifs`` (the ``serving_default`` signature) and ``serve_frames``
      (``serving_frames``);
    - ``predict_with_frames``: ``serve_gifs``'s outputs and, from the same
      decoding, the sampled frames at display size, for overlays
      (:meth:`_predict_with_frames`);
    - ``decode_gif``: the decoder itself, one GIF's sampled frames at its own
      size. Every endpoint that takes GIFs calls it, so it is traced once,
      and it runs on the CPU.

    The labels are variables of the module (``emotion_names``,
    ``category_names``, ``emotion_categories``: each emotion's category id),
    read by the graph for its name outputs and by clients that load the
    SavedModel.

    Args:
        model: A frames-input KavanModel.
        data_config: Supplies the background colour and the decompression-bomb
            limits of the in-graph decoder (``max_frame_pixels``,
            ``max_total_pixels``, ``max_frames``).
    """

    def __init__(self, model: KavanModel, data_config: DataConfig | None = None) -> None:
        super().__init__(name="kavan_serving")
        config = model.model_config
        if config.input_mode != "frames":
            raise ValueError(
                "Only frames-input models can be exported for serving (the "
                "signatures take GIF bytes or frames). Received: a model with "
                f"input_mode={config.input_mode!r}"
            )
        data_config = data_config if data_config is not None else DataConfig()
        if data_config.sampling != "index":
            logger.warning(
                "The in-graph decoder has no frame delays; serving_default samples by frame "
                "index although data.sampling=%r.", data_config.sampling
            )
        if data_config.resize != "stretch":
            logger.warning(
                "serving_default stretches frames to the model's size although data.resize=%r; "
                "send letterboxed frames to serving_frames instead.", data_config.resize
            )
        # The model's variables are what the SavedModel keeps of it; the Keras
        # object itself is not saved (it would add traces of its own).
        self.model = self._no_dependency(model)
        self.model_variables = list(model.variables)
        self._num_frames = config.num_frames
        height, width = config.image_size
        self._image_size = (height, width)
        self._data_config = data_config
        labels = model.label_config
        self.emotion_names = tf.Variable(list(labels.emotions), trainable=False,
                                         name="emotion_names")
        self.category_names = tf.Variable(list(labels.category_names), trainable=False,
                                          name="category_names")
        self.emotion_categories = tf.Variable(
            [int(c) for c in labels.emotion_to_category()], dtype=tf.int32, trainable=False,
            name="emotion_categories")
        gifs_spec = tf.TensorSpec([None], tf.string, name="gifs")
        frames_spec = tf.TensorSpec(
            [None, self._num_frames, height, width, 3], tf.float32, name="frames"
        )
        # The model, traced once for the endpoints, which all take any batch.
        self._run_model = self._no_dependency(tf.function(
            lambda frames: model(frames, training=False), input_signature=[frames_spec]))
        self.decode_gif = tf.function(
            self._decode_gif, input_signature=[tf.TensorSpec([], tf.string, name="gif")])
        self.serve_gifs = tf.function(self._serve_gifs, input_signature=[gifs_spec])
        self.serve_frames = tf.function(self._serve_frames, input_signature=[frames_spec])
        self.predict_with_frames = tf.function(self._predict_with_frames,
                                               input_signature=[gifs_spec])

    def signatures(self) -> dict[str, Any]:
        """The functions to save as signatures, by signature name (traced by
        ``tf.saved_model.save`` itself, so each is traced once)."""
        return {GIFS_SIGNATURE: self.serve_gifs, FRAMES_SIGNATURE: self.serve_frames}

    def _decode_gif(self, gif: tf.Tensor) -> dict[str, tf.Tensor]:
        # Gathers, loops and string ops: the CPU's work even on a GPU host,
        # where they would otherwise bounce between devices.
        with tf.device("/device:CPU:0"):
            return serving_graph.decode_gif(gif, self._num_frames, self._data_config)

    def _model_inputs(self, gifs: tf.Tensor, display: bool) -> dict[str, tf.Tensor]:
        """Each GIF decoded once: the model's frames and the error, and with
        ``display`` the sampled frames at display size (zero-padded to
        ``DISPLAY_MAX``), their size, indices and the GIF's logical screen."""
        height, width = self._image_size
        steps = self._num_frames

        def one(gif: tf.Tensor) -> dict[str, tf.Tensor]:
            decoded = self.decode_gif(gif)
            sampled = decoded["frames"]
            indices = decoded["indices"]
            out = {"frames": serving_graph.resize_sampled(sampled, indices, self._image_size),
                   "error": decoded["error"]}
            if display:
                ok = tf.equal(decoded["error"], "")
                source = tf.shape(sampled)[1:3]
                size = serving_graph.display_size(source, DISPLAY_MAX)
                shown = tf.cast(serving_graph.resize_sampled(sampled, indices, size), tf.uint8)
                padding = [[0, 0], [0, DISPLAY_MAX - size[0]], [0, DISPLAY_MAX - size[1]], [0, 0]]
                out.update(display_frames=tf.pad(shown, padding),
                           display_size=tf.where(ok, size, 0),
                           source_size=tf.where(ok, source, 0),
                           frame_indices=indices)
            return out

        signature = {"frames": tf.TensorSpec((steps, height, width, 3), tf.float32),
                     "error": tf.TensorSpec((), tf.string)}
        if display:
            signature.update(
                display_frames=tf.TensorSpec((steps, DISPLAY_MAX, DISPLAY_MAX, 3), tf.uint8),
                display_size=tf.TensorSpec((2,), tf.int32),
                source_size=tf.TensorSpec((2,), tf.int32),
                frame_indices=tf.TensorSpec((steps,), tf.int32))
        return serving_graph.map_gifs(one, gifs, signature)

    def model_frames(self, gifs: tf.Tensor) -> tf.Tensor:
        """The frames ``serving_default`` feeds the model, float32 ``[B, T, H, W, 3]``
        (zeros for a refused GIF). Not saved: wrap it in a ``tf.function``
        (benchmarks, tests)."""
        return self._model_inputs(gifs, display=False)["frames"]

    def _serve_gifs(self, gifs: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = self._model_inputs(gifs, display=False)
        return self._outputs(decoded["frames"], decoded["error"])

    def _predict_with_frames(self, gifs: tf.Tensor) -> dict[str, tf.Tensor]:
        decoded = self._model_inputs(gifs, display=True)
        return {
            **self._outputs(decoded["frames"], decoded["error"]),
            **{name: decoded[name] for name in
               ("display_frames", "display_size", "source_size", "frame_indices")},
        }

    def _serve_frames(self, frames: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._outputs(frames)

    def _outputs(self, frames: tf.Tensor, error: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The model's outputs by name; with ``error`` (per GIF, ``""`` when it
        decoded) also ``error`` and ``ok``, and a refused GIF's predictions
        are NaN, its ``category_id`` -1 and its names empty."""
        # A fixed batch (LiteRT's frames function) runs the model in place.
        outputs = (self._run_model(frames) if frames.shape[0] is None
                   else self.model(frames, training=False))
        batch = tf.shape(frames)[0]
        ok = None if error is None else tf.equal(error, "")

        def kept(value: tf.Tensor, missing: Any) -> tf.Tensor:
            if ok is None:  # frames in: nothing was refused (and no selects for LiteRT)
                return value
            mask = tf.reshape(ok, tf.concat([[batch], tf.ones([tf.rank(value) - 1], tf.int32)],
                                            0))
            return tf.where(mask, value, tf.cast(missing, value.dtype))

        intensities = kept(tf.cast(outputs["intensities"], tf.float32), float("nan"))
        category = kept(tf.cast(outputs["category"], tf.float32), float("nan"))
        # Names are in the graph, so a REST client needs no label file.
        emotions = self.emotion_names.read_value()
        categories = self.category_names.read_value()
        category_id = kept(tf.argmax(category, axis=-1, output_type=tf.int32), -1)
        order = tf.argsort(intensities, axis=-1, direction="DESCENDING", stable=True)
        result = {
            "intensities": intensities,
            "category": category,
            "attention": kept(tf.cast(outputs["attention"], tf.float32), float("nan")),
            "category_id": category_id,
            "category_name": kept(tf.gather(categories, tf.maximum(category_id, 0)), ""),
            "emotion_names": tf.tile(emotions[tf.newaxis], [batch, 1]),
            "ranked_emotions": kept(tf.gather(emotions, order), ""),
            "ranked_intensities": tf.gather(intensities, order, batch_dims=1),
            "valence": kept(tf.cast(outputs["valence"], tf.float32), float("nan")),
            "arousal": kept(tf.cast(outputs["arousal"], tf.float32), float("nan")),
        }
        if error is not None:
            result.update(error=error, ok=ok)
        return result


def export_saved_model(
    model: KavanModel,
    export_dir: str | os.PathLike[str] = "savedmodels",
    name: str = "kavan",
    version: int | None = None,
    *,
    warmup_gifs: list[bytes] | None = None,
    data_config: DataConfig | None = None,
    serving_base_path: str | None = None,
    model_card: dict | None = None,
) -> str:
    """Exports a KavanModel as ``<export_dir>/<name>/<version>/`` for TF Serving.

    The SavedModel is written to a hidden temporary folder beside the version
    folders (TF Serving ignores names that are not integers) and renamed into
    place, so a server watching the folder never sees a half-written version,
    and an existing version is never overwritten. ``models.config`` and the
    warm-up requests are written as well.

    Args:
        model: A frames-input KavanModel.
        export_dir: Root of the exported models.
        name: Model name: the folder under ``export_dir`` and the name TF Serving
            serves it as.
        version: Version number; the next free integer (1 for a new model) when
            ``None``.
        warmup_gifs: Encoded GIFs for the warm-up requests; a tiny generated
            GIF when ``None``.
        data_config: Limits of the in-graph decoder; ``DataConfig()`` when
            ``None``.
        serving_base_path: ``base_path`` written to ``models.config``;
            ``/models/<name>``, where the ``tensorflow/serving`` container
            expects it, when ``None``.
        model_card: Written to ``assets/model_card.json`` of the version
            (:mod:`kavan_tf.model_card`); TF Serving ignores it.

    Returns:
        The version folder.

    Raises:
        ValueError: Bad ``name`` or ``version``, or a features-input model.
        FileExistsError: ``version`` exists already.
    """
    if not isinstance(model, KavanModel):
        raise ValueError(
            f"`model` must be a KavanModel. Received: model of type {type(model).__name__}"
        )
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]+$", name) or name in {
        ".", ".."
    }:
        raise ValueError(
            "`name` must be a non-empty folder name of letters, digits, '_', '-' or '.'. "
            f"Received: name={name!r}"
        )
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError(f"`version` must be a positive int or None. Received: version={version!r}")
    if warmup_gifs is not None:
        warmup_gifs = list(warmup_gifs)
        if not warmup_gifs or not all(isinstance(g, (bytes, bytearray)) for g in warmup_gifs):
            raise ValueError(
                "`warmup_gifs` must be a non-empty list of encoded GIFs (bytes) or None. "
                f"Received: warmup_gifs={_describe(warmup_gifs)}"
            )
    model_dir = os.path.join(os.fspath(export_dir), name)
    if version is not None:
        _check_free(model_dir, version)
    module = KavanServingModule(model, data_config)
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp-export-", dir=model_dir)
    try:
        tf.saved_model.save(module, staging, signatures=module.signatures())
        if warmup_gifs is None:
            warmup_gifs = [tiny_gif(model.model_config.num_frames)]
        write_warmup_requests(staging, warmup_gifs, model_name=name)
        _write_export_info(os.path.join(staging, WARMUP_DIR, EXPORT_INFO_FILE), module, model)
        if model_card is not None:
            write_card(model_card, os.path.join(staging, "assets", CARD_FILE))
        target = _move_into_place(staging, model_dir, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_model_config(model_dir, name, serving_base_path or f"/models/{name}")
    write_batching_parameters(model_dir)
    logger.info("Exported %s to %s", model.name, target)
    return target


def list_versions(model_dir: str | os.PathLike[str]) -> list[int]:
    """Integer-named version folders of a model folder, ascending."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(model_dir)
        if _VERSION.match(entry) and os.path.isdir(os.path.join(model_dir, entry))
    )


def write_model_config(
    model_dir: str | os.PathLike[str], name: str, base_path: str
) -> str:
    """Writes ``<model_dir>/models.config``, a TF Serving ``ModelServerConfig``.

    Args:
        model_dir: The model folder (parent of the version folders).
        name: The served model name.
        base_path: Where the server sees ``model_dir``.

    Returns:
        The path of the config file.
    """
    text = (
        "model_config_list {\n"
        "  config {\n"
        f"    name: {_quote(name)}\n"
        f"    base_path: {_quote(base_path)}\n"
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )
    path = os.path.join(os.fspath(model_dir), MODEL_CONFIG_FILE)
    fd, staging = tempfile.mkstemp(prefix=".tmp-", dir=os.fspath(model_dir))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(staging, path)
    return path


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """TF Serving's server-side batching settings (``--enable_batching
    --batching_parameters_file=...``), as :func:`write_batching_parameters`
    writes them. The defaults come from ``benchmarks/bench_batching.py``
    (docs/serving.md, "Server-side batching").

    Attributes:
        max_batch_size: GIFs per batch at most: beyond it GIFs/s no longer grows.
        batch_timeout_micros: How long a request waits for others to fill a batch.
        num_batch_threads: Batches run at once; the server's CPU cores.
        allowed_batch_sizes: Sizes a batch is padded up to (the last is
            ``max_batch_size``), so that the graph sees few shapes.
        max_enqueued_batches: Batches queued before requests are refused fast.
    """

    max_batch_size: int = 8
    batch_timeout_micros: int = 10_000
    num_batch_threads: int = 2
    allowed_batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    max_enqueued_batches: int = 64

    def text(self) -> str:
        """The ``BatchingParameters`` protobuf text format."""
        lines = [f"{name} {{ value: {getattr(self, name)} }}" for name in
                 ("max_batch_size", "batch_timeout_micros", "num_batch_threads",
                  "max_enqueued_batches")]
        return "\n".join(lines + [f"allowed_batch_sizes: {n}"
                                  for n in self.allowed_batch_sizes]) + "\n"


def write_batching_parameters(model_dir: str | os.PathLike[str],
                              parameters: BatchingParameters | None = None) -> str:
    """Writes ``<model_dir>/batching_parameters.txt`` (:class:`BatchingParameters`).

    Returns:
        The path of the file.
    """
    text = (parameters or BatchingParameters()).text()
    path = os.path.join(os.fspath(model_dir), BATCHING_FILE)
    fd, staging = tempfile.mkstemp(prefix=".tmp-", dir=os.fspath(model_dir))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(staging, path)
    return path


def _quote(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _describe(values: list[Any]) -> str:
    return "[" + ", ".join(
        f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray)) else type(v).__name__
        for v in values
    ) + "]"


def _check_free(model_dir: str, version: int) -> None:
    path = os.path.join(model_dir, str(version))
    if os.path.exists(path):
        raise FileExistsError(
            f"{path}: version {version} of this model exists already; versions are never "
            "overwritten (pass another version, or None for the next one)"
        )


def _move_into_place(staging: str, model_dir: str, version: int | None) -> str:
    """Renames the staging folder to the version folder; never replaces a version."""
    for _ in range(100):
        number = version if version is not None else max(list_versions(model_dir), default=0) + 1
        _check_free(model_dir, number)
        target = os.path.join(model_dir, str(number))
        try:
            os.rename(staging, target)
            return target
        except OSError:
            # Another export took this version between the check and the rename.
            if version is not None or not os.path.exists(target):
                raise
    raise FileExistsError(f"{model_dir}: could not find a free version folder")


def _write_export_info(path: str, module: KavanServingModule, model: KavanModel) -> None:
    height, width = module._image_size
    info = {
        "format": "kavan-export-v1",
        "model_config": dataclasses.asdict(model.model_config),
        "label_config": dataclasses.asdict(model.label_config),
        "signatures": {
            GIFS_SIGNATURE: {"gifs": "string [None]"},
            FRAMES_SIGNATURE: {"frames": f"float32 [None, {module._num_frames}, {height}, "
                               f"{width}, 3]"},
        },
        "sampling": "TSN evaluation, by frame index, middle frame of each segment",
        "resize": "stretch, bilinear",
        # The inference graph (kavan_tf.inference.InferenceModel), if any.
        "fold_batch_norm": bool(getattr(model, "fold_batch_norm", False)),
        "gate_major_lstm": bool(getattr(model, "gate_major_lstm", False)),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
