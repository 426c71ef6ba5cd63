"""Crash-safe output files, shared by ``kavan prepare`` and ``kavan keypoints``.

- :func:`atomic_json` writes a temporary file and renames it, so a reader
  sees the old file or the new one, never half of one.
- :func:`temp_files_removed_on_exit` removes listed temporary files however a
  block ends: an error, Ctrl-C (SIGINT) or SIGTERM.
- :func:`check_settings` records a run's settings in its output folder and
  refuses a later run with other ones.
- :func:`failure_cause` is the one text a per-file failure is reported with.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from kavan_tf.errors import KavanError, ManifestError, MediaDecodeError


def atomic_json(path: str, value: Any) -> None:
    """Writes ``value`` as JSON to ``path`` through a temporary file and a rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def check_settings(out_dir: str, name: str, settings: dict[str, Any]) -> None:
    """Writes ``settings`` to ``out_dir/name``, or checks them against the file there.

    Raises:
        ManifestError: The folder was written with other settings (the keys
            that differ are named), so that no output mixes the two.
    """
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        atomic_json(path, settings)
        return
    with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    changed = sorted(k for k in set(previous) | set(settings)
                     if previous.get(k) != settings.get(k))
    if changed:
        raise ManifestError(
            f"{out_dir} was written with other settings ({', '.join(changed)} differ); "
            "use a new output folder so that no output mixes the two"
        )


@contextlib.contextmanager
def temp_files_removed_on_exit() -> Iterator[list[str]]:
    """Yields a list of temporary files that are removed however the block
    ends: an error, Ctrl-C (SIGINT) or SIGTERM (turned into ``SystemExit``
    while the block runs in the main thread)."""
    temp_files: list[str] = []
    previous = None
    if threading.current_thread() is threading.main_thread():

        def terminate(signum, frame):
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield temp_files
    finally:
        for path in temp_files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def failure_cause(error: BaseException, path: str) -> str:
    """Why one file failed, without its path (the report and the summary name it)."""
    if isinstance(error, MediaDecodeError):
        return f"cannot decode {error.format}: {error.cause}"
    if isinstance(error, MemoryError):
        return "out of memory while decoding (MemoryError); lower data.max_total_pixels"
    text = str(error)
    if text.startswith(f"{path}: "):
        text = text[len(path) + 2 :]
    return text if isinstance(error, KavanError) else f"{type(error).__name__}: {text}"
