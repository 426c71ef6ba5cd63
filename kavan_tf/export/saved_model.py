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
from kavan_tf.export.serving_module import (
    FRAMES_SIGNATURE,
    GIFS_SIGNATURE,
    KavanServingModule,
)
from kavan_tf.export.warmup import WARMUP_DIR, write_warmup_requests
from kavan_tf.export.warmup import warmup_gifs as default_warmup_gifs
from kavan_tf.model_card import CARD_FILE, write_card
from kavan_tf.models.kavan import KavanModel

logger = logging.getLogger(__name__)

MODEL_CONFIG_FILE = "models.config"
BATCHING_FILE = "batching_parameters.txt"
EXPORT_INFO_FILE = "kavan_export.json"
_VERSION = re.compile(r"^[0-9]+$")


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
        warmup_gifs: Encoded GIFs for the warm-up requests; when ``None``,
            :func:`~kavan_tf.export.warmup.warmup_gifs`: two tiny generated
            GIFs that take the branches of the in-graph decoder TensorFlow
            builds on first use, so that no request pays for building them.
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
            warmup_gifs = default_warmup_gifs(model.model_config.num_frames)
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
    return _write_beside_versions(model_dir, MODEL_CONFIG_FILE, text)


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

    max_batch_size: int = 4
    batch_timeout_micros: int = 20_000
    num_batch_threads: int = 2
    allowed_batch_sizes: tuple[int, ...] = (1, 2, 4)
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
    return _write_beside_versions(model_dir, BATCHING_FILE, text)


def _write_beside_versions(model_dir: str | os.PathLike[str], name: str, text: str) -> str:
    """Writes ``<model_dir>/<name>`` through a temporary file and a rename, so a
    server watching the folder never reads half of it."""
    path = os.path.join(os.fspath(model_dir), name)
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
