"""Cold start of the served model: file size, load + first call, ``kavan predict`` on one GIF.

The demo's model (``kavan demo``'s configuration, untrained: the graph is the
same) is saved as a ``.keras`` file and exported with ``kavan export``. In one
run, each in fresh processes (best of ``--rounds``):

1. ``saved_model.pb``'s size (goal: at most 4 MB), and the functions and
   nodes of its graph.
2. Load + first call, timed inside a process that imports TensorFlow alone:
   the SavedModel's ``serving_default`` on one GIF, against a SavedModel of
   the same model with ``serving_frames`` alone on the frames. Goal: at most
   1.5x. Timed twice: loaded by ``tf.saved_model.load`` (as ``kavan
   predict`` and Python clients load it), and loaded as TF Serving loads it
   (the graph imported into a session, the SavedModel's restore op run,
   then the signature run by tensor names: ``saved_model_cli run``'s loader).
3. ``kavan predict one.gif`` (wall time of the command) with the SavedModel,
   against the same with the ``.keras`` file. Goal: at most 1.5x. The
   SavedModel is timed with ``kavan predict``'s default decoder (the
   reference decoder, frames to ``serving_frames``) and with ``--decoder
   graph`` (GIF bytes to the graph's decoder, as TF Serving).

Beside the SavedModels of the goal, two more bound what any GIF endpoint
costs: the frames-only SavedModel with a ``serving_default`` that decodes
with giflib alone (``tf.io.decode_gif``: not the reference decoder's
frames), takes the served model's ``T`` sampled frames and resizes them
with ``tf.image.resize``; and the same with the served model's exact resize
(``serving_graph.resize_stretch``) in place of ``tf.image.resize``. Both
are timed with both loaders, against the frames-only SavedModel.

    python benchmarks/bench_cold_start.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_LOAD_AND_CALL = """
import sys, time
import numpy as np
import tensorflow as tf
began = time.perf_counter()
loaded = tf.saved_model.load(sys.argv[1])
loaded_at = time.perf_counter()
if sys.argv[2] == "gifs":
    out = loaded.signatures["serving_default"](gifs=tf.constant([open(sys.argv[3], "rb").read()]))
else:
    spec = loaded.signatures["serving_frames"].structured_input_signature[1]["frames"]
    frames = tf.zeros([1] + spec.shape.as_list()[1:], tf.float32)
    out = loaded.signatures["serving_frames"](frames=frames)
out["intensities"].numpy()
print(loaded_at - began, time.perf_counter() - loaded_at)
"""

# The loader of TF Serving's SavedModelBundle, from Python.
_SESSION_LOAD_AND_CALL = """
import sys, time
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
began = time.perf_counter()
session = tf.compat.v1.Session(graph=tf.Graph())
with session.graph.as_default():
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], sys.argv[1])
loaded_at = time.perf_counter()
if sys.argv[2] == "gifs":
    signature = meta_graph.signature_def["serving_default"]
    value = np.array([open(sys.argv[3], "rb").read()], dtype=object)
else:
    signature = meta_graph.signature_def["serving_frames"]
    dims = signature.inputs["frames"].tensor_shape.dim
    value = np.zeros([1] + [d.size for d in dims[1:]], np.float32)
(name,) = [info.name for info in signature.inputs.values()]
session.run(signature.outputs["intensities"].name, {name: value})
print(loaded_at - began, time.perf_counter() - loaded_at)
"""


def _best(command: list[str], rounds: int) -> float:
    """Best wall time of ``rounds`` runs of the command."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - began)
    return min(times)


def _best_load(command: list[str], rounds: int) -> tuple[float, float]:
    """The round with the least load + first call: ``(load, first call)``
    seconds, as the command prints them."""
    rounds_done = []
    for _ in range(rounds):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        load, call = map(float, done.stdout.strip().splitlines()[-1].split())
        rounds_done.append((load + call, load, call))
    return min(rounds_done)[1:]


def _library(saved_model_dir: str) -> tuple[int, int]:
    """The functions of a SavedModel's graph, and their nodes in all."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library.function
    return len(library), sum(len(function.node_def) for function in library)


def _giflib_floor(full, num_frames: int, image_size: tuple[int, int], exact_resize: bool):
    """A module with ``full``'s variables, ``serving_frames``, and a
    ``serving_default`` that decodes with giflib alone (not exact)."""
    import tensorflow as tf

    from kavan_tf.export import serving_graph
    from kavan_tf.export.gif_graph import eval_frame_indices

    resize = serving_graph.resize_stretch if exact_resize else tf.image.resize

    def one(gif):
        frames = tf.io.decode_gif(gif)
        picks = eval_frame_indices(tf.shape(frames)[0], num_frames)
        return tf.cast(resize(tf.gather(frames, picks), image_size), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve_gifs(gifs):
        spec = tf.TensorSpec([num_frames, *image_size, 3], tf.float32)
        return full.serve_frames(tf.map_fn(one, gifs, fn_output_signature=spec))

    module = _frames_only(full)
    module.serve_gifs = serve_gifs
    return module, {"serving_default": serve_gifs, "serving_frames": full.serve_frames}


def _frames_only(full):
    """A module with ``full``'s variables and ``serving_frames`` alone."""
    import tensorflow as tf

    module = tf.Module()
    for name in ("model_variables", "emotion_names", "category_names",
                 "emotion_categories"):
        setattr(module, name, getattr(full, name))  # what the outputs read
    module.serve_frames = full.serve_frames
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import tensorflow as tf
    from bench_inference import make_gifs

    from kavan_tf.experiments.demo import DemoSettings, demo_config
    from kavan_tf.export import KavanServingModule
    from kavan_tf.models import KavanModel

    with tempfile.TemporaryDirectory() as root:
        config = demo_config(DemoSettings(), root)
        model = KavanModel(config.model, config.labels)
        keras_file = os.path.join(root, "model.keras")
        model.save(keras_file)
        kavan = [sys.executable, "-m", "kavan_tf.cli"]
        subprocess.run(kavan + ["export", keras_file, "--export-dir", root, "--name", "kavan"],
                       check=True, capture_output=True)
        served = os.path.join(root, "kavan", "1")
        # The same model with serving_frames alone, as the baseline of a load.
        full = KavanServingModule(model)
        frames_only = _frames_only(full)
        baseline = os.path.join(root, "frames_only")
        tf.saved_model.save(frames_only, baseline,
                            signatures={"serving_frames": frames_only.serve_frames})
        floors = {}
        for exact_resize, label in ((False, "tf.image.resize"),
                                    (True, "the served model's exact resize")):
            module, signatures = _giflib_floor(full, config.model.num_frames,
                                               config.model.image_size, exact_resize)
            floors[label] = os.path.join(root, f"floor_{int(exact_resize)}")
            tf.saved_model.save(module, floors[label], signatures=signatures)
        gif = os.path.join(root, "one.gif")
        with open(gif, "wb") as f:
            f.write(make_gifs(count=1)[0])

        size = os.path.getsize(os.path.join(served, "saved_model.pb")) / 2**20
        functions, nodes = _library(served)
        baseline_functions, baseline_nodes = _library(baseline)
        python = [sys.executable, "-c", _LOAD_AND_CALL]
        session = [sys.executable, "-c", _SESSION_LOAD_AND_CALL]
        timed = {
            (loader, which): _best_load(command + arguments, args.rounds)
            for loader, command in (("tf.saved_model.load", python),
                                    ("as TF Serving loads it", session))
            for which, arguments in (("serving_default on a GIF", [served, "gifs", gif]),
                                     ("serving_frames alone", [baseline, "frames"]),
                                     *((f"not exact: {label}", [floors[label], "gifs", gif])
                                       for label in floors))
        }
        with_saved = _best(kavan + ["predict", gif, "--model", served], args.rounds)
        with_graph = _best(kavan + ["predict", gif, "--model", served, "--decoder", "graph"],
                           args.rounds)
        with_keras = _best(kavan + ["predict", gif, "--model", keras_file], args.rounds)

    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| saved_model.pb | {size:.2f} MB | <= 4 MB |")
    print(f"| its functions, and their nodes (what the loader rebuilds) | {functions}, "
          f"{nodes} | |")
    print(f"| the same, serving_frames alone | {baseline_functions}, {baseline_nodes} | |")
    for loader in ("tf.saved_model.load", "as TF Serving loads it"):
        totals = []
        for which in ("serving_default on a GIF", "serving_frames alone"):
            load, call = timed[loader, which]
            totals.append(load + call)
            print(f"| load + first call, {loader}: {which} | {load + call:.2f} s "
                  f"(load {load:.2f} s, first call {call:.2f} s) | |")
        print(f"| ratio | {totals[0] / totals[1]:.2f}x | <= 1.5x |")
        for label in floors:
            load, call = timed[loader, f"not exact: {label}"]
            print(f"| load + first call, {loader}: serving_default decoding with giflib "
                  f"alone (not the reference frames), resized with {label} | "
                  f"{load + call:.2f} s (load {load:.2f} s, first call {call:.2f} s): "
                  f"{(load + call) / totals[1]:.2f}x | |")
    print(f"| kavan predict one.gif, SavedModel | {with_saved:.2f} s | |")
    print(f"| kavan predict one.gif, .keras | {with_keras:.2f} s | |")
    print(f"| ratio | {with_saved / with_keras:.2f}x | <= 1.5x |")
    print(f"| kavan predict one.gif, SavedModel, --decoder graph | {with_graph:.2f} s | |")
    print(f"| ratio | {with_graph / with_keras:.2f}x | |")


if __name__ == "__main__":
    main()
