"""Versioned SavedModel export for TF Serving (docs/decisions.md#deployment).

Layout written by :func:`export_saved_model`::

    savedmodels/<name>/
        models.config                      # TF Serving model_config_list
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
EXPORT_INFO_FILE = "kavan_export.json"
GIFS_SIGNATURE = "serving_default"
FRAMES_SIGNATURE = "serving_frames"
_VERSION = re.compile(r"^[0-9]+$")


class KavanServingModule(tf.Module):
    """The serving endpoints around a :class:`KavanModel` (tracked as ``model``).

    Built like ``official/vision/serving``'s export modules: ``tf.function``s
    with named ``tf.TensorSpec`` inputs. The functions are also attributes of
    the object ``tf.saved_model.load`` returns (``serve_gifs``,
    ``serve_frames``, ``decode_gifs``, which returns the frames the model
    sees for a batch of GIFs, and ``predict_gif``, which returns for one GIF
    the ``serving_default`` outputs together with the sampled frames at the
    GIF's own size and their indices, from one decoding: what attention
    overlays are drawn on).

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
        self.model = model
        self._num_frames = config.num_frames
        height, width = config.image_size
        self._image_size = (height, width)
        self._emotions = tuple(model.label_config.emotions)
        self._categories = tuple(model.label_config.category_names)
        self._data_config = data_config
        height, width = self._image_size
        gifs_spec = tf.TensorSpec([None], tf.string, name="gifs")
        frames_spec = tf.TensorSpec(
            [None, self._num_frames, height, width, 3], tf.float32, name="frames"
        )
        self.serve_gifs = tf.function(self._serve_gifs, input_signature=[gifs_spec])
        self.serve_frames = tf.function(self._serve_frames, input_signature=[frames_spec])
        self.decode_gifs = tf.function(self._decode_gifs, input_signature=[gifs_spec])
        self.predict_gif = tf.function(
            self._predict_gif, input_signature=[tf.TensorSpec([], tf.string, name="gif")]
        )

    def signatures(self) -> dict[str, Any]:
        """The concrete functions to save as signatures, by signature name."""
        return {
            GIFS_SIGNATURE: self.serve_gifs.get_concrete_function(),
            FRAMES_SIGNATURE: self.serve_frames.get_concrete_function(),
        }

    def _decode_gifs(self, gifs: tf.Tensor) -> tf.Tensor:
        return serving_graph.gifs_to_model_frames(
            gifs,
            self._num_frames,
            self._image_size,
            data_config=self._data_config,
        )

    def _predict_gif(self, gif: tf.Tensor) -> dict[str, tf.Tensor]:
        sampled, indices = serving_graph.gif_to_sampled_frames(
            gif, self._num_frames, data_config=self._data_config
        )
        frames = serving_graph.resize_stretch(sampled, self._image_size)
        return {
            **self._outputs(frames[tf.newaxis]),
            "sampled_frames": sampled,
            "frame_indices": indices,
        }

    def _serve_gifs(self, gifs: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._outputs(self._decode_gifs(gifs))

    def _serve_frames(self, frames: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._outputs(frames)

    def _outputs(self, frames: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.model(frames, training=False)
        intensities = tf.cast(outputs["intensities"], tf.float32)
        category = tf.cast(outputs["category"], tf.float32)
        attention = tf.cast(outputs["attention"], tf.float32)
        # Names are graph constants, so a REST client needs no label file.
        emotions = tf.constant(self._emotions, dtype=tf.string)
        categories = tf.constant(self._categories, dtype=tf.string)
        category_id = tf.argmax(category, axis=-1, output_type=tf.int32)
        order = tf.argsort(intensities, axis=-1, direction="DESCENDING", stable=True)
        batch = tf.shape(intensities)[0]
        return {
            "intensities": intensities,
            "category": category,
            "attention": attention,
            "category_id": category_id,
            "category_name": tf.gather(categories, category_id),
            "emotion_names": tf.tile(emotions[tf.newaxis], [batch, 1]),
            "ranked_emotions": tf.gather(emotions, order),
            "ranked_intensities": tf.gather(intensities, order, batch_dims=1),
            "valence": tf.cast(outputs["valence"], tf.float32),
            "arousal": tf.cast(outputs["arousal"], tf.float32),
        }


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
