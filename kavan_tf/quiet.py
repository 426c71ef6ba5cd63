"""Keeps TensorFlow's start-up noise off the terminal of the ``kavan`` command.

TensorFlow's C++ runtime writes its start-up lines (absl's "All log messages
before absl::InitializeLog()", oneDNN, the CUDA stub, cuInit errors) straight
to file descriptor 2, past Python's ``sys.stderr``, and ``TF_CPP_MIN_LOG_LEVEL``
does not hold back all of them. :func:`native_stderr_captured` points
descriptor 2 at a temporary file for the command's lifetime, while Python's
``sys.stderr`` (the package's messages, progress bars, logging) keeps writing
to the terminal. What was captured is shown when the command fails with an
unexpected error (an ``ImportError`` of TensorFlow, a crash), and never kept
otherwise. Worker processes started meanwhile inherit the capture.

``kavan -v ...`` captures nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings

_NOISY_LOGGERS = ("tensorflow", "absl", "h5py", "keras")


class Captured:
    """What the native code wrote to descriptor 2 while captured."""

    def __init__(self, file: io.BufferedRandom | None) -> None:
        self._file = file

    def text(self, limit: int = 20_000) -> str:
        """The captured bytes (the last ``limit`` characters), decoded."""
        if self._file is None:
            return ""
        self._file.flush()
        self._file.seek(0)
        return self._file.read().decode("utf-8", "replace")[-limit:]


@contextlib.contextmanager
def native_stderr_captured(enabled: bool = True):
    """Redirects descriptor 2 (not ``sys.stderr``) to a temporary file.

    Yields:
        A :class:`Captured`, readable until the block ends.
    """
    try:
        # Only when sys.stderr is descriptor 2 itself: under a test runner's
        # capture, or embedded, there is nothing of ours to protect.
        enabled = enabled and sys.stderr.fileno() == 2
    except (OSError, ValueError, AttributeError):
        enabled = False
    if not enabled:
        yield Captured(None)
        return
    sys.stderr.flush()
    original = os.dup(2)
    capture = tempfile.TemporaryFile()
    python_stderr = sys.stderr
    terminal = os.fdopen(os.dup(original), "w", buffering=1, encoding="utf-8",
                         errors="backslashreplace")
    os.dup2(capture.fileno(), 2)
    sys.stderr = terminal
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Handlers made before the switch still hold the old stream object, whose
    # descriptor 2 is now the capture: point them at the terminal.
    moved = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is python_stderr:
            handler.setStream(terminal)
            moved.append(handler)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(tensorflow|keras|absl|h5py)(\.|$)")
            yield Captured(capture)
    finally:
        with contextlib.suppress(Exception):
            terminal.flush()
        os.dup2(original, 2)
        os.close(original)
        sys.stderr = python_stderr
        for handler in moved:
            handler.setStream(python_stderr)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        terminal.close()
        capture.close()
