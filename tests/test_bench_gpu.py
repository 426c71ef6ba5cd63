"""benchmarks/bench_gpu.py in its CPU mode (tiny sizes), so that it cannot rot
before the first GPU runs it (issue 33)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


@pytest.mark.slow
def test_bench_gpu_cpu_mode_prints_every_part(tmp_path):
    # Two training rows: both input modes and both precisions. XLA on the CPU
    # costs 20 s of compiling here; tests/test_precision.py covers it.
    result = subprocess.run(
        [sys.executable, str(BENCH), "--cpu", "--steps", "1",
         "--rows", "frames:mixed_float16:off,features:float32:off"],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()
            if line.startswith("| ")]
    parts = [r[0].strip() for r in rows]
    assert parts.count("training") == 2 and parts.count("serving") == 3, result.stdout
    assert parts.count("input") == 1, result.stdout
    for row in rows[1:]:
        if row[0].strip() in ("training", "serving", "input"):
            assert float(row[2].split()[0]) > 0, row
    assert "CPU only" in result.stdout and "cores per device" in result.stdout
