"""``kavan predict``: throughput with and without the drawing, and memory that stays flat.

Two parts, on photo-like 240 x 240 GIFs of 24 frames (``--size``) and the
demo-sized model (small backbone, 64 x 64, T = 8; random weights: speed and
memory do not depend on them), for the SavedModel with the reference
decoder (``kavan predict``'s default), the SavedModel with the graph's
decoder (``--decoder graph``, as TF Serving) and the ``.keras`` predictor:

- ``speed``: GIFs per second in one process, best of ``--repeats`` rounds:
  ``plain`` (``predict_paths`` only) and ``drawn`` (every result drawn as it
  comes, overlays and the report, as ``kavan predict --overlay --report``).
  Overlays and the report are drawn on the frames decoded for the
  prediction; no file is decoded twice.
- ``memory``: the peak RSS of ``kavan predict --overlay DIR --report FILE``
  in a fresh process on ``--files`` GIFs and on 10x as many (copies of the
  same GIFs), read by each child from /proc (``VmHWM``).
  These GIFs are 400 x 400 (``--memory-size``), 12 frames: T = 8 sampled
  frames at display size are 3.8 MB, what real GIFs cost per file when
  results kept their frames until the end. Goal: 10x the files at most 1.1x
  the peak RSS (issue 32): each batch is drawn as it finishes and only the
  small per-file results are kept.

    python benchmarks/bench_predict.py [--part speed|memory|all] [--gifs 16] [--files 12]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_models(work: str) -> dict[str, tuple[str, str]]:
    """The demo-sized model as a ``.keras`` file and as a SavedModel: ``(path, decoder)``
    by predictor name."""
    from kavan_tf.config import ModelConfig
    from kavan_tf.export import export_saved_model
    from kavan_tf.inference import for_inference
    from kavan_tf.models import KavanModel

    model = KavanModel(ModelConfig(backbone="small", backbone_weights=None, image_size=(64, 64),
                                   num_frames=8, node_size=4, hidden_size=64))
    keras_path = os.path.join(work, "kavan.keras")
    model.save(keras_path)
    saved = export_saved_model(for_inference(model), os.path.join(work, "sm"), "kavan")
    return {"SavedModel (reference decoder)": (saved, "python"),
            "SavedModel (graph decoder)": (saved, "graph"),
            ".keras (reference decoder)": (keras_path, "python")}


def write_gifs(folder: str, gifs: list[bytes], copies: int = 1) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for copy in range(copies):
        for i, data in enumerate(gifs):
            paths.append(os.path.join(folder, f"g{copy:03d}_{i:03d}.gif"))
            with open(paths[-1], "wb") as f:
                f.write(data)
    return paths


def speed(models: dict[str, tuple[str, str]], paths: list[str], work: str,
          repeats: int) -> None:
    from kavan_tf.predict import Drawing, iter_predictions, load_predictor, predict_paths

    def plain(predictor):
        predict_paths(predictor, paths, progress=False)

    def drawn(predictor):
        with Drawing(os.path.join(work, "overlays"), os.path.join(work, "report.html")) as d:
            for result in iter_predictions(predictor, paths, progress=False, keep_frames=True):
                d.add(result)
            d.close()

    print("| predictor | plain | overlays + report | ratio |")
    print("|---|---|---|---|")
    for name, (path, decoder) in models.items():
        predictor = load_predictor(path, decoder=decoder)
        plain(predictor), drawn(predictor)  # warm up (tracing)
        best = {"plain": float("inf"), "drawn": float("inf")}
        for _ in range(repeats):
            for label, fn in (("plain", plain), ("drawn", drawn)):
                began = time.perf_counter()
                fn(predictor)
                best[label] = min(best[label], time.perf_counter() - began)
        rate = {k: len(paths) / v for k, v in best.items()}
        print(f"| {name} | {rate['plain']:.1f} | {rate['drawn']:.1f} "
              f"| {rate['drawn'] / rate['plain']:.2f} |", flush=True)


#: ``kavan`` in a fresh process that writes its own peak RSS (``VmHWM``, in
#: KiB) to the file named by its first argument. Linux carries the parent's
#: high-water mark across fork and exec into ``ru_maxrss``, so the child
#: reads its own from /proc instead.
_CHILD = """
import sys
from kavan_tf.cli import main
try:
    status = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as f:
        peak = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(sys.argv[1], "w") as f:
        f.write(peak)
sys.exit(status)
"""


def peak_rss_mib(args: list[str], log: str) -> tuple[float, int, float]:
    """``(peak RSS in MiB, exit status, seconds)`` of ``kavan <args>`` in a fresh process."""
    began = time.perf_counter()
    peak_file = log + ".peak"
    with open(log, "wb") as out:
        status = subprocess.run([sys.executable, "-c", _CHILD, peak_file, *args], stdout=out,
                                stderr=subprocess.STDOUT, check=False).returncode
    with open(peak_file, encoding="utf-8") as f:
        peak = int(f.read()) / 1024
    return peak, status, time.perf_counter() - began


def memory(models: dict[str, tuple[str, str]], gifs: list[bytes], work: str,
           scale: int) -> None:
    print(f"Peak RSS of `kavan predict --overlay --report`, {len(gifs)} and "
          f"{scale * len(gifs)} files, each run in a fresh process")
    print(f"| predictor | {len(gifs)} files (MiB) | {scale * len(gifs)} files (MiB) "
          f"| ratio | seconds |")
    print("|---|---|---|---|---|")
    folders = {n: os.path.join(work, f"x{n}") for n in (1, scale)}
    for n, folder in folders.items():
        write_gifs(folder, gifs, copies=n)
    for name, (model, decoder) in models.items():
        peaks, seconds = {}, {}
        for n, folder in folders.items():
            out = os.path.join(work, f"run-x{n}")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            peaks[n], status, seconds[n] = peak_rss_mib(
                ["predict", folder, "--model", model, "--decoder", decoder, "--format", "jsonl",
                 "--output", os.path.join(out, "results.jsonl"), "--overlay",
                 os.path.join(out, "overlays"), "--report", os.path.join(out, "report.html")],
                os.path.join(out, "log.txt"))
            if status != 0:  # the GIFs are all good
                with open(os.path.join(out, "log.txt"), encoding="utf-8") as f:
                    raise RuntimeError(f"kavan predict exited with {status}:\n{f.read()[-3000:]}")
        print(f"| {name} | {peaks[1]:.0f} | {peaks[scale]:.0f} | {peaks[scale] / peaks[1]:.3f} "
              f"| {seconds[1]:.0f} / {seconds[scale]:.0f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["speed", "memory", "all"], default="all")
    parser.add_argument("--gifs", type=int, default=16, help="GIFs of the speed part")
    parser.add_argument("--files", type=int, default=12,
                        help="GIFs of the memory part's smaller run")
    parser.add_argument("--scale", type=int, default=10,
                        help="the larger run has this many times the files")
    parser.add_argument("--size", type=int, default=240,
                        help="GIF width and height of the speed part")
    parser.add_argument("--memory-size", type=int, default=400,
                        help="GIF width and height of the memory part")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from bench_inference import make_gifs

    work = tempfile.mkdtemp(prefix="kavan-bench-predict-")
    try:
        models = make_models(work)
        print("Demo-sized model (small backbone, 64 x 64, T = 8)")
        if args.part in ("speed", "all"):
            print(f"\n{args.gifs} GIFs of {args.size} x {args.size}, 24 frames; GIFs/s, best of "
                  f"{args.repeats}")
            paths = write_gifs(os.path.join(work, "speed"),
                               make_gifs(args.gifs, args.size, frames=24))
            speed(models, paths, work, args.repeats)
        if args.part in ("memory", "all"):
            print(f"\nGIFs of {args.memory_size} x {args.memory_size}, 12 frames")
            memory(models, make_gifs(args.files, args.memory_size, frames=12), work, args.scale)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
