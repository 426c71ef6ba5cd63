"""``kavan predict`` throughput: plain, and with overlays and the HTML report.

Issue 15: overlays and the report are drawn on the frames decoded for the
prediction, so asking for them must not decode any file twice. Measured as
GIFs per second in one process, best of ``--repeats`` rounds, for the
SavedModel (graph decoder, as TF Serving) and the ``.keras`` predictor:

- ``plain``: ``predict_paths`` only;
- ``drawn``: ``predict_paths(keep_frames=True)``, then every overlay
  rendered and the report written, as ``kavan predict --overlay --report``.

The ratio drawn / plain is the cost of the drawing; before overlays reused
the decoded frames it was about 0.37 (19 to 7 GIFs/s on real GIFs).

    python benchmarks/bench_predict.py [--gifs 16] [--size 240] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=16)
    parser.add_argument("--size", type=int, default=240, help="GIF width and height")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from bench_inference import make_gifs

    from kavan_tf.config import ModelConfig
    from kavan_tf.export import export_saved_model
    from kavan_tf.inference import for_inference
    from kavan_tf.models import KavanModel
    from kavan_tf.predict import load_predictor, predict_paths
    from kavan_tf.predict.overlays import encode_gif, render_overlay
    from kavan_tf.predict.report import write_report

    work = tempfile.mkdtemp(prefix="kavan-bench-predict-")
    paths = []
    for i, data in enumerate(make_gifs(args.gifs, args.size, frames=24)):
        paths.append(os.path.join(work, f"g{i}.gif"))
        with open(paths[-1], "wb") as f:
            f.write(data)
    model = KavanModel(ModelConfig(backbone="small", backbone_weights=None, image_size=(64, 64),
                                   num_frames=8, node_size=4, hidden_size=64))
    keras_path = os.path.join(work, "kavan.keras")
    model.save(keras_path)
    saved = export_saved_model(for_inference(model), os.path.join(work, "sm"), "kavan")
    predictors = {"SavedModel (graph decoder)": load_predictor(saved),
                  ".keras (reference decoder)": load_predictor(keras_path)}

    def plain(predictor):
        predict_paths(predictor, paths, progress=False)

    def drawn(predictor):
        results = predict_paths(predictor, paths, progress=False, keep_frames=True)
        overlays = {r.path: encode_gif(render_overlay(r)) for r in results if r.ok}
        write_report(results, os.path.join(work, "report.html"), overlays)

    print(f"{args.gifs} GIFs of {args.size} x {args.size}, 24 frames; GIFs/s, best of "
          f"{args.repeats}")
    print("| predictor | plain | overlays + report | ratio |")
    print("|---|---|---|---|")
    for name, predictor in predictors.items():
        plain(predictor), drawn(predictor)  # warm up (tracing)
        best = {"plain": float("inf"), "drawn": float("inf")}
        for _ in range(args.repeats):
            for label, fn in (("plain", plain), ("drawn", drawn)):
                began = time.perf_counter()
                fn(predictor)
                best[label] = min(best[label], time.perf_counter() - began)
        rate = {k: args.gifs / v for k, v in best.items()}
        print(f"| {name} | {rate['plain']:.1f} | {rate['drawn']:.1f} "
              f"| {rate['drawn'] / rate['plain']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
