"""Training, serving and input throughput on whatever devices the machine has (issue 33).

Prepared for the first GPU: one command, one table. On a GPU machine it runs
the paper's sizes (ResNet-50 at 224 x 224, T = 8, hidden 2048, HS-LSTM, MTL;
backbone_weights=None, so nothing is downloaded); ``--cpu`` runs the same
rows at tiny sizes on the CPU (what ``tests/test_bench_gpu.py`` runs, so the
script cannot rot).

- **Training** under ``MirroredStrategy`` over all visible GPUs (the default
  strategy with one device): the frozen backbone on frames, fine-tuning on
  frames (``trainable_backbone``) and the head alone on cached features;
  float32 and ``mixed_float16``; XLA (``jit_compile``) off and on. Each
  row: GIFs/s (global batch x steps / seconds, after a warm-up epoch that
  compiles) and the peak device memory (summed over the GPUs; on the CPU,
  TensorFlow's CPU allocator). The data are in-memory tensors, so the input
  pipeline is not measured here.
- **Serving**: ``serving_default`` (GIF bytes in, decoded in the graph) at
  batch 8, 32 and 64, against the frames signature (the model alone) and
  the backbone alone on the same frames, with the in-graph decode alone
  pinned to the CPU; the CPU cores the decode needs to keep the device busy
  (model GIFs/s over decode GIFs/s per core, decode assumed to scale with
  cores).
- **Input pipeline**: ``build_dataset`` (decode + sample + resize + heatmaps)
  GIFs/s per CPU core against what one device consumes in training (the
  fastest frames row, per replica): the cores per device it takes.

    python benchmarks/bench_gpu.py            # paper sizes, every row
    python benchmarks/bench_gpu.py --cpu      # tiny sizes on the CPU
    python benchmarks/bench_gpu.py --modes features --precisions mixed_float16 --xla on
    python benchmarks/bench_gpu.py --rows frames:float32:off,features:mixed_float16:on
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 - after the log level
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_inference import make_gifs  # noqa: E402

from kavan_tf.config import KavanConfig, ModelConfig  # noqa: E402
from kavan_tf.data.manifest import read_manifest  # noqa: E402
from kavan_tf.data.pipeline import build_dataset  # noqa: E402
from kavan_tf.export.serving_module import KavanServingModule  # noqa: E402
from kavan_tf.models import KavanModel, backbone_feature_shape, build_backbone  # noqa: E402
from kavan_tf.synthetic import SyntheticConfig, generate_dataset  # noqa: E402

MODES = ("frames", "finetune", "features")
MODE_TITLES = {
    "frames": "frozen backbone, frames",
    "finetune": "fine-tuning, frames",
    "features": "head on cached features",
}


@dataclass(frozen=True)
class Sizes:
    """What one run measures at."""

    model: dict[str, Any]
    batch: int  # per replica
    steps: int
    serving_batches: tuple[int, ...]
    gif_size: int
    gif_frames: int
    input_gifs: int
    repeats: int = 3
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


PAPER = Sizes(
    model={"backbone": "resnet50", "backbone_weights": None, "image_size": (224, 224),
           "num_frames": 8, "hidden_size": 2048, "temporal": "hslstm", "multitask": True},
    batch=8, steps=10, serving_batches=(8, 32, 64), gif_size=240, gif_frames=24,
    input_gifs=96, label="paper sizes (ResNet-50 224 x 224, T = 8, hidden 2048, HS-LSTM, MTL)",
)
TINY = Sizes(
    model={"backbone": "small", "backbone_weights": None, "image_size": (32, 32),
           "num_frames": 4, "hidden_size": 8, "node_size": 2, "attention_size": 4},
    batch=2, steps=2, serving_batches=(2,), gif_size=40, gif_frames=5, input_gifs=8,
    repeats=1, label="tiny sizes on the CPU (--cpu)",
)


def devices() -> tuple[list[str], str]:
    """The devices whose memory is reported, and a description of the machine."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        names = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return [d.name for d in gpus], f"{len(gpus)} x {names[0]}"
    return ["/device:CPU:0"], f"CPU only ({os.cpu_count()} cores)"


def _reset_peaks(names: list[str]) -> None:
    for name in names:
        try:
            tf.config.experimental.reset_memory_stats(name)
        except (ValueError, tf.errors.InvalidArgumentError):
            pass


def _peak_bytes(names: list[str]) -> int | None:
    try:
        return sum(tf.config.experimental.get_memory_info(name)["peak"] for name in names)
    except (ValueError, tf.errors.InvalidArgumentError):
        return None


def _gib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.2f} GiB"


def model_config(sizes: Sizes, mode: str) -> ModelConfig:
    base = ModelConfig(**sizes.model)
    if mode == "features":
        return ModelConfig(**sizes.model, input_mode="features",
                           feature_shape=backbone_feature_shape(base))
    return ModelConfig(**sizes.model, trainable_backbone=mode == "finetune")


def training_batch(config: ModelConfig, batch: int, num_emotions: int):
    """Random inputs and targets of one global batch (in memory)."""
    rng = np.random.default_rng(0)
    h, w, d = backbone_feature_shape(ModelConfig(**{
        k: getattr(config, k) for k in ("backbone", "backbone_weights", "image_size")}))
    T = config.num_frames
    if config.input_mode == "features":
        x = rng.normal(size=(batch, T, h, w, d)).astype(np.float32)
    else:
        x = rng.uniform(0, 255, (batch, T) + tuple(config.image_size) + (3,)).astype(np.float32)
    attention = rng.uniform(size=(batch, T, h, w)).astype(np.float32)
    attention /= attention.sum(axis=(2, 3), keepdims=True)
    y = {"intensities": rng.uniform(-1, 1, (batch, num_emotions)).astype(np.float32),
         "category": np.zeros((batch,), np.int32), "attention": attention}
    return x, y


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._began)


def training_row(sizes: Sizes, names: list[str], mode: str, precision: str, xla: bool):
    """``(GIFs/s, peak bytes)`` of ``model.fit`` on one row's settings."""
    strategy = (tf.distribute.MirroredStrategy() if len(tf.config.list_logical_devices("GPU")) > 1
                else tf.distribute.get_strategy())
    keras.mixed_precision.set_global_policy(precision)
    try:
        config = KavanConfig(model=model_config(sizes, mode))
        with strategy.scope():
            model = KavanModel.from_kavan_config(config)
            model.compile(loss_config=config.loss, learning_rate=1e-4, jit_compile=xla)
        batch = sizes.batch * strategy.num_replicas_in_sync
        x, y = training_batch(config.model, batch, config.labels.num_emotions)
        # Zero targets for any other output the model has.
        for name, value in model(x[:1], training=False).items():
            if name not in y:
                y[name] = np.zeros((batch,) + tuple(value.shape[1:]), np.float32)
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        timer = _EpochTimer()
        _reset_peaks(names)
        model.fit(data, epochs=2, steps_per_epoch=sizes.steps, verbose=0, callbacks=[timer])
        if xla and not model.jit_compile:
            raise RuntimeError("Keras did not compile with XLA")
        return batch * sizes.steps / timer.seconds[-1], _peak_bytes(names)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def _rate(fn, argument, count: int, repeats: int) -> float:
    tf.nest.map_structure(lambda t: t.numpy(), fn(argument))  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), fn(argument))
        best = min(best, time.perf_counter() - began)
    return count / best


def serving_rows(sizes: Sizes, names: list[str]) -> list[list[str]]:
    """serving_default, the model alone and the backbone alone, per batch."""
    config = ModelConfig(**sizes.model)
    module = KavanServingModule(KavanModel(config))
    model_frames = tf.function(module.model_frames)
    backbone = build_backbone(config)
    frame_fn = tf.function(lambda frames: backbone(frames, training=False))
    made = make_gifs(count=8, size=sizes.gif_size, frames=sizes.gif_frames)
    cores = os.cpu_count() or 1
    rows = []
    for batch in sizes.serving_batches:
        gifs = tf.constant([made[i % len(made)] for i in range(batch)])
        with tf.device("/CPU:0"):
            decode_rate = _rate(model_frames, gifs, batch, sizes.repeats)
            frames = model_frames(gifs)
        _reset_peaks(names)
        served = _rate(module.serve_gifs, gifs, batch, sizes.repeats)
        peak = _peak_bytes(names)
        model_alone = _rate(module.serve_frames, frames, batch, sizes.repeats)
        flat = tf.reshape(frames, (-1,) + tuple(frames.shape[2:]))
        backbone_alone = _rate(frame_fn, flat, batch, sizes.repeats)
        needed = model_alone / (decode_rate / cores)
        rows += [
            ["serving", f"serving_default (GIF bytes), batch {batch}", f"{served:.1f}",
             _gib(peak), f"decode alone on the CPU: {decode_rate:.1f} GIFs/s on {cores} cores"],
            ["serving", f"model alone (frames signature), batch {batch}", f"{model_alone:.1f}",
             "", f"{needed:.1f} CPU cores of decode keep it busy"],
            ["serving", f"backbone alone, batch {batch} ({batch} x T frames)",
             f"{backbone_alone:.1f}", "", ""],
        ]
    return rows


def input_row(sizes: Sizes, consumed: float | None) -> list[str]:
    """The training input pipeline's GIFs/s per CPU core, against one device's training."""
    config = KavanConfig(model=ModelConfig(**sizes.model))
    grid = backbone_feature_shape(config.model)[:2]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(tmp, SyntheticConfig(
            num_gifs=sizes.input_gifs, frame_size=(sizes.gif_size, sizes.gif_size)))
        rows = read_manifest(manifest, config.labels)
        dataset = build_dataset(rows, config, training=True, feature_grid=grid)
        for _ in dataset.take(1):
            pass
        began = time.perf_counter()
        count = sum(int(x.shape[0]) for x, _ in dataset)
        rate = count / (time.perf_counter() - began)
    cores = os.cpu_count() or 1
    per_core = rate / cores
    versus = ("no frames row measured" if consumed is None else
              f"one device trains {consumed:.1f} GIFs/s on frames: "
              f"{consumed / per_core:.1f} cores per device")
    return ["input", f"build_dataset, {sizes.gif_size} x {sizes.gif_size} synthetic GIFs",
            f"{per_core:.1f} per core ({rate:.1f} on {cores})", "", versus]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="tiny sizes, CPU only")
    parser.add_argument("--modes", default=",".join(MODES), help=f"of {','.join(MODES)}")
    parser.add_argument("--precisions", default="float32,mixed_float16")
    parser.add_argument("--xla", default="off,on", help="off, on or off,on")
    parser.add_argument("--rows", help="training rows as mode:precision:xla,... instead of "
                        "every combination of --modes, --precisions and --xla")
    parser.add_argument("--steps", type=int, help="timed training steps per row")
    parser.add_argument("--no-serving", action="store_true")
    parser.add_argument("--no-input", action="store_true")
    args = parser.parse_args()
    if args.cpu:
        tf.config.set_visible_devices([], "GPU")
    sizes = TINY if args.cpu else PAPER
    if args.steps:
        sizes = Sizes(**{**sizes.__dict__, "steps": args.steps})
    # Keras compiles with XLA only while op determinism is off (its default).
    names, machine = devices()
    replicas = max(1, len(tf.config.list_logical_devices("GPU")))
    print(f"# bench_gpu: {machine}; {sizes.label}; batch {sizes.batch} per replica "
          f"x {replicas} replica(s); TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print("| part | row | GIFs/s | peak device memory | note |")
    print("|---|---|---|---|---|")
    if args.rows:
        rows = [tuple(row.split(":")) for row in args.rows.split(",")]
    else:
        rows = [(mode, precision, xla) for mode in args.modes.split(",")
                for precision in args.precisions.split(",") for xla in args.xla.split(",")]
    frames_rates = []
    for mode, precision, xla in rows:
        title = f"{MODE_TITLES[mode]}, {precision}, XLA {xla}"
        try:
            rate, peak = training_row(sizes, names, mode, precision, xla == "on")
        except Exception as e:  # noqa: BLE001 - one failing row (OOM) keeps the table
            traceback.print_exc()
            message = str(e).splitlines()[0][:120] if str(e) else ""
            print(f"| training | {title} | failed | | {type(e).__name__}: {message} |",
                  flush=True)
            continue
        if mode != "features":
            frames_rates.append(rate / replicas)
        print(f"| training | {title} | {rate:.1f} | {_gib(peak)} | |", flush=True)
    if not args.no_serving:
        for row in serving_rows(sizes, names):
            print("| " + " | ".join(row) + " |", flush=True)
    if not args.no_input:
        consumed = max(frames_rates) if frames_rates else None
        print("| " + " | ".join(input_row(sizes, consumed)) + " |", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"# host peak RSS {rss:.2f} GiB")


if __name__ == "__main__":
    main()
