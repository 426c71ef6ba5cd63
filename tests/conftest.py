"""Shared test fixtures."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from corpora import MISSING, testdata_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def testdata_dir() -> pathlib.Path:
    """The external test corpora (``tests/corpora.py``: ``KAVAN_TESTDATA``, by default
    ``../shared/testdata``); tests that use it skip when the corpora are absent."""
    path = testdata_path()
    if path is None:
        pytest.skip(MISSING)
    return path


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
