"""``kavan export``: write a TF Serving SavedModel."""

from __future__ import annotations

import argparse

from kavan_tf.cli.common import require_path


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help="write a TF Serving SavedModel")
    p.add_argument("model", help="a trained .keras model")
    p.add_argument("--export-dir", default="savedmodels")
    p.add_argument("--name", default="kavan")
    p.add_argument("--version", type=int, default=None, help="default: next free version")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: weights and compute in bfloat16, float32 outputs "
                        "(docs/performance.md)")
    p.add_argument("--no-fold-batch-norm", dest="fold_batch_norm", action="store_false",
                   help="serve the backbone as trained instead of with its batch "
                        "normalisations folded into the convolutions (slower)")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    require_path(args.model, "model (a .keras file)")
    from kavan_tf.export import export_keras_file

    path = export_keras_file(args.model, args.export_dir, args.name, args.version,
                             precision=args.precision, fold_batch_norm=args.fold_batch_norm)
    print(f"SavedModel written to {path}")
    return 0
