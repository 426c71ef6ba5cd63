"""Where the serving graph spends its time, op by op (TensorFlow profiler).

Traces ``serving_default`` of the inference graph ``kavan export`` serves
(ResNet-50, T = 8, hidden size 2048, a batch of 8 GIFs of 240 x 240 x 24
frames, as ``bench_inference.py``) and prints the time per call spent in each
kind of op, then the costliest single ops other than the convolutions. Ops
that run concurrently (the GIFs decode in parallel) each count their own
time, so the rows can add up to more than the call.

    python benchmarks/profile_serving.py [--precision bfloat16] [--top 25]

The trace is also left in ``--logdir`` for TensorBoard's profile plugin.
"""

from __future__ import annotations

import argparse
import collections
import glob
import tempfile

import tensorflow as tf
from bench_inference import make_gifs  # same directory
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from kavan_tf.config import ModelConfig
from kavan_tf.export.serving_module import KavanServingModule
from kavan_tf.inference import for_inference
from kavan_tf.inference.precision import PRECISIONS
from kavan_tf.models import KavanModel

_CONTAINERS = {"While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall",
               "StatefulPartitionedCall"}


def op_times(logdir: str, calls: int) -> collections.Counter:
    """Milliseconds per call by TensorFlow op name (``scope/name:Type``)."""
    path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as file:
        space.ParseFromString(file.read())
    times: collections.Counter = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                # Ops are "scope/name:Type"; runtime events ("ExecutorState::Process")
                # and ops that run others (loops, function calls) are left out.
                kind = name.rsplit(":", 1)[-1]
                if ("::" in name or ":" not in name or kind in _CONTAINERS
                        or name.startswith("EagerLocalExecute")):
                    continue
                times[name] += event.duration_ps / 1e9 / calls
    return times


def print_tables(times: collections.Counter, types_title: str, unit: str, top: int,
                 skip: str | None = None, ops_title: str = "op") -> None:
    """Markdown tables of ``times``: by op type (with the total), then the
    ``top`` costliest ops (those whose name holds ``skip`` left out)."""
    by_type: collections.Counter = collections.Counter()
    for name, ms in times.items():
        by_type[name.rsplit(":", 1)[1]] += ms
    print(f"| {types_title} | {unit} |")
    print("|---|---|")
    for kind, ms in by_type.most_common(top):
        print(f"| {kind} | {ms:.1f} |")
    print(f"| all ops | {sum(by_type.values()):.1f} |")
    print()
    print(f"| {ops_title} | {unit} |")
    print("|---|---|")
    ops = [(name, ms) for name, ms in times.most_common() if not skip or skip not in name]
    for name, ms in ops[:top]:
        print(f"| `{name}` | {ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=list(PRECISIONS), default="float32")
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--logdir", default=None, help="default: a temporary folder")
    args = parser.parse_args()

    config = ModelConfig(backbone="resnet50", backbone_weights=None, num_frames=8)
    module = KavanServingModule(for_inference(KavanModel(config), args.precision))
    gifs = tf.constant(make_gifs())
    module.serve_gifs(gifs)  # trace and warm up
    logdir = args.logdir or tempfile.mkdtemp(prefix="kavan_profile_")
    tf.profiler.experimental.start(logdir)
    for _ in range(args.calls):
        tf.nest.map_structure(lambda t: t.numpy(), module.serve_gifs(gifs))
    tf.profiler.experimental.stop()

    times = op_times(logdir, args.calls)
    print_tables(times, f"op type ({args.precision})", "ms per call", args.top,
                 skip="Conv2D", ops_title="op (convolutions left out)")
    print(f"\ntrace: {logdir}")


if __name__ == "__main__":
    main()
