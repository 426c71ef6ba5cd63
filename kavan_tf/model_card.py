"""Model cards: what a trained model was trained on, kept with the model.

The card travels inside the ``.keras`` file (its ``assets/model_card.json``,
written and read by :meth:`KavanModel.save_assets`/``load_assets``), so a
copied file keeps it; ``kavan train`` also writes ``model_card.json`` beside
``model.keras`` for people to read. A loaded model's card is
:func:`card_of`; :func:`set_card` gives one to a model before it is saved.
``kavan export`` copies it, with the export settings added, into the
SavedModel's ``assets/model_card.json`` (TF Serving ignores it).
``kavan predict`` warns in one line when the model was trained on synthetic
data, and ``kavan info MODEL`` prints the card.

A card (``"format": "kavan-model-card-v1"``) holds:

- ``package``: the kavan_tf version that trained it, and when;
- ``data``: the manifest (or prepared folder), the SHA-256 of the manifest
  file (or of the training rows when trained from Python), the number of
  training and validation GIFs, whether the data were synthetic (the
  generator's ``synthetic.json`` beside the manifest or the GIFs) and their
  label mode (``"end"``/``"change"`` for synthetic data, ``"gifgif votes"``
  for TrueSkill scores);
- ``config``: the full experiment config;
- ``metrics``: the last epoch's validation metrics (empty without a
  validation split);
- ``export``: precision and batch-norm folding (SavedModels only).

Example:

```
kavan info runs/demo/models/kavan/model.keras
kavan info savedmodels/kavan          # the newest version
```
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import zipfile
from typing import Any

from kavan_tf import __version__
from kavan_tf.card import CARD_FILE, CARD_FORMAT, card_of, set_card  # noqa: F401  (part of this module's API)
from kavan_tf.data.files import atomic_json
from kavan_tf.synthetic import data_origin

#: Where a ``.keras`` file holds its card: the top-level model's assets
#: (Keras' ``saving_lib`` gives the model the ``assets/`` folder itself).
KERAS_CARD_ENTRY = "assets/" + CARD_FILE


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_data(rows: Any, manifest_path: str | None = None,
                  val_rows: Any = None) -> dict[str, Any]:
    """The ``data`` entry of a card, for manifest rows (a DataFrame)."""
    if manifest_path and os.path.isfile(manifest_path):
        digest = _sha256_file(manifest_path)
    elif rows is not None:
        table = rows.drop(columns=[c for c in ("path", "keypoints") if c in rows])
        digest = hashlib.sha256(table.to_csv(index=False).encode("utf-8")).hexdigest()
    else:
        digest = None
    return {
        "manifest": os.path.abspath(manifest_path) if manifest_path else None,
        "sha256": digest,
        "train_gifs": None if rows is None else int(len(rows)),
        "val_gifs": None if val_rows is None else int(len(val_rows)),
        **data_origin(rows, manifest_path),
    }


def build_card(config_dict: dict[str, Any], data: dict[str, Any],
               history: dict[str, list[float]] | None = None) -> dict[str, Any]:
    """A card for a finished training run."""
    metrics = {key: float(values[-1]) for key, values in (history or {}).items()
               if key.startswith("val_") and values}
    return {
        "format": CARD_FORMAT,
        "package": {
            "name": "kavan_tf",
            "version": __version__,
            "trained": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        },
        "data": data,
        "config": config_dict,
        "metrics": metrics,
        "epochs": max((len(v) for v in (history or {}).values()), default=0),
    }


def write_card(card: dict[str, Any], path: str) -> None:
    """Writes a card as JSON (atomically), e.g. beside a model or into an export."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_json(path, card)


def card_path(model_path: str) -> str | None:
    """Where the card of a ``.keras`` file (the card file beside it, for files
    that do not carry one) or a SavedModel (version or model folder) is."""
    model_path = os.fspath(model_path)
    if os.path.isfile(model_path):
        return os.path.join(os.path.dirname(os.path.abspath(model_path)), CARD_FILE)
    if os.path.isfile(os.path.join(model_path, "saved_model.pb")):
        return os.path.join(model_path, "assets", CARD_FILE)
    if os.path.isdir(model_path):
        versions = sorted((int(v) for v in os.listdir(model_path) if v.isdigit()), reverse=True)
        if versions:
            return os.path.join(model_path, str(versions[0]), "assets", CARD_FILE)
    return None


def read_card(model_path: str) -> dict[str, Any] | None:
    """The card of a model, or ``None`` when it has none (or an unreadable one).

    A ``.keras`` file's own card first (read from the file, without Keras),
    else the ``model_card.json`` beside it (files saved before cards went
    inside); a SavedModel's ``assets/model_card.json``.
    """
    model_path = os.fspath(model_path)
    if zipfile.is_zipfile(model_path):
        try:
            with zipfile.ZipFile(model_path) as archive:
                card = json.loads(archive.read(KERAS_CARD_ENTRY))
            if isinstance(card, dict) and card.get("format") == CARD_FORMAT:
                return card
        except (KeyError, OSError, ValueError, zipfile.BadZipFile):
            pass
    path = card_path(model_path)
    if path is None or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) and card.get("format") == CARD_FORMAT else None


def synthetic_warning(card: dict[str, Any] | None, model_path: str) -> str | None:
    """The one-line warning ``kavan predict`` prints for a model trained on synthetic data."""
    if not card or not card.get("data", {}).get("synthetic"):
        return None
    mode = card["data"].get("label_mode")
    return (f"warning: {model_path} was trained on synthetic cartoon GIFs (label mode "
            f"{mode!r}), not on real ones; read its emotions on real GIFs as a demo, not "
            "as a measurement")


def format_card(card: dict[str, Any]) -> str:
    """The card as text, for ``kavan info``."""
    data, package, model = card.get("data", {}), card.get("package", {}), \
        card.get("config", {}).get("model", {})
    lines = [
        f"kavan_tf {package.get('version')} model, trained {package.get('trained')}, "
        f"{card.get('epochs')} epochs",
        f"data: {data.get('manifest') or '(rows passed from Python)'}",
        f"  sha256 {data.get('sha256')}",
        f"  {data.get('train_gifs')} training GIFs, {data.get('val_gifs') or 0} validation GIFs",
        f"  synthetic: {'yes' if data.get('synthetic') else 'no'}, label mode: "
        f"{data.get('label_mode')}",
        f"model: backbone {model.get('backbone')}, {model.get('image_size')}, T = "
        f"{model.get('num_frames')}, attention {model.get('attention')}, temporal "
        f"{model.get('temporal')}, multitask {model.get('multitask')}",
    ]
    metrics = card.get("metrics") or {}
    if metrics:
        lines.append("validation: " + ", ".join(f"{k[4:]} {v:.4g}" for k, v in
                                                sorted(metrics.items())))
    else:
        lines.append("validation: none (trained without a validation split)")
    if card.get("export"):
        lines.append("export: " + ", ".join(f"{k} {v}" for k, v in card["export"].items()))
    return "\n".join(lines)
