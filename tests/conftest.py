"""Shared test fixtures."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTDATA = PROJECT_ROOT.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata_dir() -> pathlib.Path:
    """``../shared/testdata`` relative to the project root (never copied into the repo)."""
    if not TESTDATA.is_dir():
        raise FileNotFoundError(f"test data not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture
def run_script():
    """Runs Python source in a fresh interpreter, for process-wide TensorFlow
    settings such as logical devices; returns its stdout and fails the test
    with its stderr if it exits non-zero."""

    def run(source: str, timeout: int = 300) -> str:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        result = subprocess.run(
            [sys.executable, "-c", source], capture_output=True, text=True, env=env,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    return run
