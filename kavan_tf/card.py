"""A model's card carried by the model itself (docs/training.md, "The model card").

The few definitions the model needs to keep its card inside its ``.keras``
file (``KavanModel.save_assets``), below every layer that builds models;
:mod:`kavan_tf.model_card` builds, reads and formats the cards.
"""

from __future__ import annotations

import json
from typing import Any

CARD_FILE = "model_card.json"
CARD_FORMAT = "kavan-model-card-v1"
#: The attribute of a model that holds its card, as JSON text.
_CARD_ATTRIBUTE = "_kavan_model_card"


def card_of(model: Any) -> dict[str, Any] | None:
    """The model card of a loaded model, or ``None`` when it has none.

    The card a ``.keras`` file carried (``keras.saving.load_model``), or the
    one given with :func:`set_card`. Exporters call this to ship the card with
    every format. A copy: changing it does not change the model's.
    """
    text = getattr(model, _CARD_ATTRIBUTE, None)
    if not text:
        return None
    card = json.loads(text)
    return card if isinstance(card, dict) and card.get("format") == CARD_FORMAT else None


def set_card(model: Any, card: dict[str, Any] | None) -> None:
    """Gives ``model`` its card (``None``: none); ``model.save`` then writes it into the file."""
    if card is not None and (not isinstance(card, dict) or card.get("format") != CARD_FORMAT):
        raise ValueError(f"`card` must be a {CARD_FORMAT!r} dict or None. Received: {card!r:.200}")
    # Kept as text: Keras wraps dict attributes of layers in tracking containers.
    object.__setattr__(model, _CARD_ATTRIBUTE, None if card is None else json.dumps(card))


__all__ = ["CARD_FILE", "CARD_FORMAT", "card_of", "set_card"]
