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
    p.add_argument("--lstm-layout", choices=["auto", "gate-major", "input-major"],
                   default="auto",
                   help="how the served LSTM kernels are stored; auto: gate-major for "
                        "bfloat16, input-major (as trained) for float32, the faster ones "
                        "on the CPUs measured (docs/performance.md)")

    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    require_path(args.model, "model (a .keras file)")
    from kavan_tf.export import export_keras_file  # keeps TensorFlow out of kavan --help

    layout = {"auto": None, "gate-major": True, "input-major": False}[args.lstm_layout]
    path = export_keras_file(args.model, args.export_dir, args.name, args.version,
                             precision=args.precision, fold_batch_norm=args.fold_batch_norm,
                             gate_major_lstm=layout)
    print(f"SavedModel written to {path}")
    return 0
