"""Peak memory of one ``serving_default`` call on the largest GIFs the default limits accept.

Issue 12: the in-graph decoder must refuse structure and work bombs
cheaply, and a GIF the limits *accept* must still be served with bounded
memory. The default ``DataConfig`` accepts a logical screen of up to
``max_frame_pixels`` (4096 x 4096) and up to ``max_total_pixels`` (2^28)
pixels over all frames, so the largest accepted GIFs are

- ``screen``: 16 frames of 4096 x 4096 (each frame the largest allowed), and
- ``frames``: 4096 frames (``max_frames``) of 256 x 256.

Each is sent, alone, to the ``serving_default`` signature of an exported
demo-sized model (small backbone, 64 x 64, T = 8) in a fresh process that
loads the SavedModel with ``tf.saved_model.load`` only, as TF Serving would.
The process's peak resident memory (``ru_maxrss``) is printed after loading
and a warm-up call on a tiny GIF, and after the big call.

    python benchmarks/bench_serving_memory.py [--only screen|frames]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CHILD = r"""
import resource, sys, time
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
serve = loaded.signatures["serving_default"]
with open(sys.argv[3], "rb") as f:
    tiny = f.read()
serve(gifs=tf.constant([tiny]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[2], "rb") as f:
    data = f.read()
began = time.perf_counter()
out = serve(gifs=tf.constant([data]))
seconds = time.perf_counter() - began
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, seconds, out["category_name"].numpy()[0].decode())
"""


def big_gif(kind: str) -> bytes:
    """The largest GIF of each shape the default limits accept (frames differ slightly)."""
    from PIL import Image

    from kavan_tf.config import DataConfig

    limits = DataConfig()
    if kind == "screen":
        side = int(limits.max_frame_pixels ** 0.5)
        count = limits.max_total_pixels // limits.max_frame_pixels
    else:
        count = limits.max_frames
        side = int((limits.max_total_pixels // count) ** 0.5)
    frames = []
    for t in range(count):
        image = Image.new("P", (side, side), t % 7)
        image.putpalette([(i * 37) % 256 for i in range(768)])
        image.paste(200, (t % (side - 8), 0, t % (side - 8) + 8, 8))  # frames differ
        frames.append(image)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=40,
                   optimize=False)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["screen", "frames"])
    args = parser.parse_args(argv)

    from kavan_tf.config import ModelConfig
    from kavan_tf.export import export_saved_model, tiny_gif
    from kavan_tf.inference import for_inference
    from kavan_tf.models import KavanModel

    work = tempfile.mkdtemp(prefix="kavan-bench-memory-")
    model = KavanModel(ModelConfig(backbone="small", backbone_weights=None, image_size=(64, 64),
                                   num_frames=8, node_size=4, hidden_size=64))
    saved = export_saved_model(for_inference(model), os.path.join(work, "sm"), "kavan")
    tiny = os.path.join(work, "tiny.gif")
    with open(tiny, "wb") as f:
        f.write(tiny_gif(4, (32, 32)))
    print("| GIF | file size | peak RSS after warm-up | peak RSS after the call | call |")
    print("|---|---|---|---|---|")
    for kind in [args.only] if args.only else ["screen", "frames"]:
        began = time.perf_counter()
        data = big_gif(kind)
        path = os.path.join(work, f"{kind}.gif")
        with open(path, "wb") as f:
            f.write(data)
        made = time.perf_counter() - began
        run = subprocess.run([sys.executable, "-c", CHILD, saved, path, tiny],
                             capture_output=True, text=True, timeout=1800, check=False)
        if run.returncode:
            print(f"| {kind} | failed: {run.stderr.strip().splitlines()[-1:]} | | | |")
            continue
        before, after, seconds, _ = run.stdout.split()
        shape = "16 x 4096 x 4096" if kind == "screen" else "4096 x 256 x 256"
        print(f"| {shape} ({kind}) | {len(data) / 2**20:.1f} MiB (made in {made:.0f} s) "
              f"| {int(before) / 2**10:.0f} MiB | {int(after) / 2**10:.0f} MiB "
              f"| {float(seconds):.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
