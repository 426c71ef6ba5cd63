"""``kavan info``: the model card: what a model was trained on."""

from __future__ import annotations

import argparse
import json

from kavan_tf.cli.common import require_path
from kavan_tf.model_card import card_path, format_card, read_card


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="the model card: what a model was trained on")
    p.add_argument("model", help="a .keras file or a SavedModel (model or version folder)")
    p.add_argument("--json", action="store_true", help="the card as JSON")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    require_path(args.model, "model (a SavedModel folder or a .keras file)")
    card = read_card(args.model)
    if card is None:
        raise FileNotFoundError(
            f"{args.model}: no model card ({card_path(args.model) or 'model_card.json'}); "
            "models trained before kavan_tf wrote cards have none"
        )
    print(json.dumps(card, indent=2) if args.json else format_card(card))
    return 0
