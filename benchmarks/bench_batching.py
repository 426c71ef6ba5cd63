"""Server-side batching: GIFs/s of ``serving_default`` per batch size, at 1 and 2 inter-op threads.

Exports the demo's model (``kavan demo``'s configuration, untrained) and, in a
fresh process per inter-op thread count, loads the SavedModel with TensorFlow
alone and times ``serving_default`` on batches of ``bench_inference.make_gifs()``
(photo-like 240 x 240 GIFs of 24 frames). The GIFs of a batch decode in
parallel, so GIFs/s grows with the threads; it stops growing at some batch
size. Prints a table and the :class:`kavan_tf.export.BatchingParameters`
these figures give:

- ``max_batch_size``: the smallest batch within 5 % of the best GIFs/s;
- ``allowed_batch_sizes``: powers of two up to it;
- ``batch_timeout_micros``: half the time one GIF takes alone, so that a
  request waits at most half its own service time for company;
- ``num_batch_threads``: the cores.

    python benchmarks/bench_batching.py [--batches 1 2 4 8 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_TIMER = """
import json, sys, time
import tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(int(sys.argv[2]))
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
gifs = [open(p, "rb").read() for p in sys.argv[5:]]
rates = {}
for batch in json.loads(sys.argv[3]):
    request = tf.constant([gifs[i % len(gifs)] for i in range(batch)])
    serve(gifs=request)
    best = float("inf")
    for _ in range(int(sys.argv[4])):
        began = time.perf_counter()
        serve(gifs=request)["intensities"].numpy()
        best = min(best, time.perf_counter() - began)
    rates[batch] = best
print(json.dumps(rates))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from bench_inference import make_gifs

    from kavan_tf.experiments.demo import DemoSettings, demo_config
    from kavan_tf.export import BatchingParameters, export_saved_model
    from kavan_tf.models import KavanModel

    with tempfile.TemporaryDirectory() as root:
        config = demo_config(DemoSettings(), root)
        path = export_saved_model(KavanModel(config.model, config.labels), root, "kavan")
        files = []
        for i, gif in enumerate(make_gifs(count=8)):
            files.append(os.path.join(root, f"{i}.gif"))
            with open(files[-1], "wb") as f:
                f.write(gif)
        seconds = {}
        for threads in (1, 2):
            shown = subprocess.run(
                [sys.executable, "-c", _TIMER, path, str(threads), json.dumps(args.batches),
                 str(args.rounds), *files], capture_output=True, text=True, check=True)
            seconds[threads] = {int(k): v for k, v in json.loads(shown.stdout).items()}
    print("| batch | GIFs/s, 1 inter-op thread | GIFs/s, 2 | ms per batch, 2 |")
    print("|---|---|---|---|")
    for batch in args.batches:
        print(f"| {batch} | {batch / seconds[1][batch]:.1f} | {batch / seconds[2][batch]:.1f} | "
              f"{seconds[2][batch] * 1000:.0f} |")
    rates = {b: b / seconds[2][b] for b in args.batches}
    best = max(rates.values())
    size = min(b for b in args.batches if rates[b] >= 0.95 * best)
    chosen = BatchingParameters(
        max_batch_size=size,
        batch_timeout_micros=int(seconds[2][1] / 2 * 1e6),
        num_batch_threads=os.cpu_count() or 1,
        allowed_batch_sizes=tuple(b for b in (1, 2, 4, 8, 16, 32, 64) if b < size) + (size,),
    )
    print(f"\n2 inter-op threads over 1, batch {max(args.batches)}: "
          f"{seconds[1][max(args.batches)] / seconds[2][max(args.batches)]:.2f}x")
    print("\nbatching_parameters.txt these figures give:\n" + chosen.text())


if __name__ == "__main__":
    main()
