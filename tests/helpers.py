"""Shared test settings: the tiny model the fast tests build and train."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kavan_tf.config import KavanConfig, ModelConfig

T, SIZE = 4, 32
"""Frames per GIF and frame side of the tiny model."""

TINY_MODEL: dict[str, Any] = {
    "backbone": "small", "backbone_weights": None, "image_size": [SIZE, SIZE], "num_frames": T,
    "node_size": 2, "hidden_size": 8, "attention_size": 4,
}
"""The model section of every tiny config (small backbone, no weights to download)."""


def tiny_model_config(**overrides: Any) -> ModelConfig:
    """``ModelConfig`` of the tiny model, with ``overrides``."""
    values = {**TINY_MODEL, "image_size": (SIZE, SIZE), **overrides}
    return ModelConfig(**values)


def tiny_config(
    output_dir: str | os.PathLike[str] | None = None,
    *,
    model: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
) -> KavanConfig:
    """``KavanConfig`` of the tiny model: batch 4, 2 epochs, no distribution strategy."""
    train_values: dict[str, Any] = {"epochs": 2, "distribute": "none"}
    if output_dir is not None:
        train_values["output_dir"] = os.fspath(output_dir)
    return KavanConfig.from_dict({
        "model": {**TINY_MODEL, **(model or {})},
        "data": {"batch_size": 4, **(data or {})},
        "train": {**train_values, **(train or {})},
    })


def mutated_gif(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with one to three random byte changes, bit flips, deletions or
    insertions (the damage of the serving decoder's differential fuzzing)."""
    data = bytearray(data)
    for _ in range(rng.integers(1, 4)):
        i = int(rng.integers(len(data)))
        op = rng.integers(4)
        if op == 0:
            data[i] = int(rng.integers(256))
        elif op == 1:
            data[i] ^= 1 << int(rng.integers(8))
        elif op == 2:
            del data[i : i + int(rng.integers(1, 8))]
        else:
            data[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8))
    return bytes(data)


def pack_codes(codes: list[tuple[int, int]]) -> bytes:
    """``(code, width)`` pairs as a GIF LZW bit stream, least significant bit first."""
    value = bits = 0
    for code, width in codes:
        value |= code << bits
        bits += width
    return value.to_bytes((bits + 7) // 8, "little")


def sub_blocks(data: bytes, lengths=(255,)) -> bytes:
    """``data`` as a sub-block chain: sub-blocks of the ``lengths`` in turn, then the terminator."""
    out, i, k = bytearray(), 0, 0
    while i < len(data):
        piece = data[i : i + lengths[k % len(lengths)]]
        out += bytes([len(piece)]) + piece
        i, k = i + len(piece), k + 1
    return bytes(out + b"\0")


def signal_once_ready(command: list[str], ready, sig: int, *, env: dict | None = None,
                      start_timeout: float = 120, exit_timeout: float = 60,
                      preexec_fn=None) -> tuple[int, str, float]:
    """Runs ``command``, sends it ``sig`` once ``ready(process)`` holds, and
    returns its exit code, its stderr and the seconds it took to exit after
    the signal. The process is killed if anything fails on the way."""
    import subprocess
    import time

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **(env or {}))
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    try:
        deadline = time.time() + start_timeout
        while not ready(process):
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.time() < deadline, f"not ready after {start_timeout} s: {command}"
            time.sleep(0.05)
        process.send_signal(sig)
        sent = time.time()
        code = process.wait(timeout=exit_timeout)
        return code, process.stderr.read().decode(), time.time() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
