"""A trained ``.keras`` file exported for TF Serving: what ``kavan export`` does."""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras

from kavan_tf.export.saved_model import export_saved_model
from kavan_tf.inference import for_inference, with_precision  # registers InferenceModel
from kavan_tf.model_card import card_of, read_card, set_card
from kavan_tf.models.kavan import KavanModel


def load_kavan_file(model_path: str | os.PathLike[str]) -> KavanModel:
    """The :class:`KavanModel` of a ``.keras`` file (uncompiled).

    Raises:
        FileNotFoundError: No such file.
        ValueError: The file holds another kind of model.
    """
    model_path = os.fspath(model_path)
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    model = keras.saving.load_model(model_path, compile=False)
    if not isinstance(model, KavanModel):
        raise ValueError(f"{model_path}: holds a {type(model).__name__}, not a KavanModel")
    return model


def export_keras_file(
    model_path: str | os.PathLike[str],
    export_dir: str | os.PathLike[str] = "savedmodels",
    name: str = "kavan",
    version: int | None = None,
    warmup_gifs: Sequence[str | os.PathLike[str]] | None = None,
    precision: str = "float32",
    fold_batch_norm: bool = True,
    gate_major_lstm: bool | None = None,
) -> str:
    """A ``.keras`` KavanModel file -> ``<export_dir>/<name>/<version>/`` (``kavan export``).

    Args:
        model_path: The ``.keras`` file.
        export_dir: Root of the exported models.
        name: Served model name.
        version: Version number; the next one when ``None``.
        warmup_gifs: GIF files for the warm-up requests; a generated GIF when
            ``None``.
        precision: ``"float32"`` or ``"bfloat16"`` (see
            :func:`kavan_tf.inference.for_inference`).
        fold_batch_norm: Serve the backbone with its batch normalisations
            folded into the convolutions (same results, faster; see
            :func:`kavan_tf.inference.for_inference`).
        gate_major_lstm: Store the LSTM kernels gate-major; ``None``: the
            precision's faster layout (see :func:`kavan_tf.inference.for_inference`).
            Needs ``fold_batch_norm``.

    Returns:
        The version folder.
    """
    # The arguments are checked before the model is loaded.
    if precision not in ("float32", "bfloat16"):
        raise ValueError(
            f"`precision` must be 'float32' or 'bfloat16'. Received: precision={precision!r}"
        )
    if not fold_batch_norm and gate_major_lstm is not None:
        raise ValueError(
            "`gate_major_lstm` chooses the layout of an inference graph and needs "
            f"fold_batch_norm=True. Received: gate_major_lstm={gate_major_lstm!r}"
        )
    model_path = os.fspath(model_path)
    model = load_kavan_file(model_path)
    # The file's own card; the card file beside it for files saved before cards went inside.
    card = card_of(model) or read_card(model_path)
    if fold_batch_norm:
        model = for_inference(model, precision, gate_major_lstm=gate_major_lstm)
    elif precision == "bfloat16":
        model = with_precision(model, "bfloat16")
    gifs = None
    if warmup_gifs:
        gifs = []
        for path in warmup_gifs:
            with open(path, "rb") as f:
                gifs.append(f.read())
    if card is not None:
        card = {**card, "export": {
            "precision": precision, "fold_batch_norm": fold_batch_norm,
            "gate_major_lstm": bool(getattr(model, "gate_major_lstm", False)),
            "from": os.path.abspath(model_path)}}
        set_card(model, card)  # the served copy carries it too (card_of)
    return export_saved_model(model, export_dir, name, version, warmup_gifs=gifs,
                              model_card=card)


__all__ = ["export_keras_file"]
