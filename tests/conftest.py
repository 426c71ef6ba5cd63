"""Shared test fixtures."""

from __future__ import annotations

import os
import pathlib

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
