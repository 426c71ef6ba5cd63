"""``kavan export``: write a TF Serving SavedModel, a LiteRT or an ONNX model."""

from __future__ import annotations

import argparse
import sys

from kavan_tf.cli.common import require_path


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help="write a TF Serving SavedModel, a LiteRT or an ONNX model")
    p.add_argument("model", help="a trained .keras model")
    p.add_argument("--format", dest="formats", action="append",
                   choices=["saved_model", "litert", "onnx"],
                   help="saved_model (default: TF Serving, GIF bytes or frames in), litert "
                        "(<export-dir>/<name>-litert/model.tflite) or onnx "
                        "(<export-dir>/<name>-onnx/model.onnx): frames in, the outputs of "
                        "serving_frames (docs/serving.md); repeat for several")
    p.add_argument("--export-dir", default=None,
                   help="default: savedmodels for saved_model, exports for litert and onnx")
    p.add_argument("--batch", type=int, default=1,
                   help="the fixed batch size of the LiteRT model (ONNX takes any)")
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
    formats = list(dict.fromkeys(args.formats or ["saved_model"]))
    others = [f for f in formats if f != "saved_model"]
    if others and args.batch < 1:
        raise SystemExit(f"error: --batch must be at least 1, not {args.batch}")
    if others and args.precision != "float32":
        raise SystemExit(f"error: --format {others[0]} exports float32 only, not "
                         f"--precision {args.precision}")
    status = 0
    if "saved_model" in formats:
        from kavan_tf.export import export_keras_file  # keeps TensorFlow out of kavan --help

        layout = {"auto": None, "gate-major": True, "input-major": False}[args.lstm_layout]
        path = export_keras_file(args.model, args.export_dir or "savedmodels", args.name,
                                 args.version, precision=args.precision,
                                 fold_batch_norm=args.fold_batch_norm, gate_major_lstm=layout)
        print(f"SavedModel written to {path}")
    if others:
        from kavan_tf.export.formats import export_formats  # TensorFlow, as above

        results = export_formats(args.model, others, args.export_dir or "exports", args.name,
                                 batch=args.batch)
        for fmt in others:
            result = results[fmt]
            if isinstance(result, str):
                print(f"{_NAMES[fmt]} model written to {result}")
            else:
                print(f"error: {result}", file=sys.stderr)
                status = 1
    return status


_NAMES = {"litert": "LiteRT", "onnx": "ONNX"}
