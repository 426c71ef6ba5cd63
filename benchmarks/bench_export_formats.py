"""CPU throughput of the exported frames model in each runtime, at the same batch.

Issue 34: ``kavan export --format litert`` and ``--format onnx`` write the
``serving_frames`` computation for other runtimes. This measures, in one
process, clips per second of the same float32 inference copy
(``for_inference``) with random frames at batch ``--batch``:

- ``SavedModel serving_frames``: ``tf.saved_model.load`` and the signature;
- ``LiteRT``: ``ai_edge_litert`` ``Interpreter`` (XNNPACK, ``--threads``);
- ``ONNX``: ``onnxruntime`` ``CPUExecutionProvider`` (``--threads``).

Best of ``--repeats`` rounds of ``--calls`` calls after one warm-up call,
for each temporal module asked for, and the largest difference from
``serving_frames`` on those frames.

    python benchmarks/bench_export_formats.py [--temporal hslstm lstm] [--batch 8]
        [--backbone small] [--size 112] [--frames 8] [--hidden 256] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temporal", nargs="+", default=["hslstm", "lstm"],
                        choices=["hslstm", "lstm"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--backbone", default="small", help="small or resnet50 (no weights)")
    parser.add_argument("--size", type=int, default=112, help="frame side")
    parser.add_argument("--frames", type=int, default=8, help="T")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM state size")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from kavan_tf.config import ModelConfig
    from kavan_tf.export import FRAMES_SIGNATURE, export_saved_model
    from kavan_tf.export.litert import export_litert
    from kavan_tf.export.onnx import export_onnx
    from kavan_tf.inference import for_inference
    from kavan_tf.models import KavanModel

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    work = tempfile.mkdtemp(prefix="kavan-bench-formats-")
    frames = np.random.default_rng(0).uniform(
        0, 255, (args.batch, args.frames, args.size, args.size, 3)).astype("float32")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} threads; backbone {args.backbone}, {args.size}x{args.size}, "
          f"T = {args.frames}, hidden {args.hidden}, batch {args.batch}; TF {tf.__version__}, "
          f"onnxruntime {ort.__version__}")
    print("| temporal | runtime | clips/s | vs SavedModel | max abs diff |")
    print("| --- | --- | --- | --- | --- |")
    for temporal in args.temporal:
        model = KavanModel(ModelConfig(
            backbone=args.backbone, backbone_weights=None, image_size=(args.size, args.size),
            num_frames=args.frames, node_size=max(1, args.frames // 2), hidden_size=args.hidden,
            temporal=temporal))
        model(frames[:1])
        fast = for_inference(model, "float32")
        root = os.path.join(work, temporal)
        saved = tf.saved_model.load(export_saved_model(fast, root, "kavan"))
        signature = saved.signatures[FRAMES_SIGNATURE]
        litert_path = export_litert(fast, os.path.join(root, "litert"), batch=args.batch)
        onnx_path = export_onnx(fast, os.path.join(root, "onnx"))
        interpreter = Interpreter(model_path=litert_path, num_threads=args.threads)
        litert_run = interpreter.get_signature_runner("serving_default")
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        runtimes = {
            "SavedModel serving_frames": lambda fn=signature: {
                k: v.numpy() for k, v in fn(frames=tf.constant(frames)).items()},
            "LiteRT": lambda fn=litert_run: fn(frames=frames),
            "ONNX (onnxruntime)": lambda s=session, n=names: dict(
                zip(n, s.run(None, {"frames": frames}), strict=True)),
        }
        reference = None
        base = None
        for name, call in runtimes.items():
            out = call()  # warm-up
            if reference is None:
                reference = out
            diff = max(float(np.max(np.abs(np.asarray(out[k]) - reference[k])))
                       for k in ("intensities", "category", "attention"))
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                for _ in range(args.calls):
                    call()
                best = min(best, time.perf_counter() - start)
            rate = args.calls * args.batch / best
            base = base or rate
            print(f"| {temporal} | {name} | {rate:.1f} | {rate / base:.2f}x | {diff:.1e} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
