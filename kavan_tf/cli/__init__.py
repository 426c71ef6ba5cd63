"""The ``kavan`` command line.

Examples:

```
kavan demo                                   # the whole pipeline on synthetic GIFs
kavan synth data/synth --num-gifs 300        # write a synthetic dataset
kavan votes gifgif-dataset-20150121-v1.csv.gz data/manifest.csv --images gifs/
kavan keypoints --manifest data/manifest.csv --out data/keypoints --source dlib
kavan train --config experiment.toml --manifest data/manifest.csv
kavan evaluate --config experiment.toml --manifest data/manifest.csv --out results/
kavan tune --manifest data/manifest.csv --out runs/tuning --trials 10 --epochs 5
kavan export runs/kavan/model.keras --name kavan
kavan predict some.gif --model savedmodels/kavan
```

Each subcommand is a module of this package with ``add_parser(sub)`` and
``run(args)``; the package owns the command's printing.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from tqdm import tqdm

from kavan_tf.cli import (
    demo,
    evaluate,
    export,
    info,
    keypoints,
    predict,
    prepare,
    results,
    synth,
    train,
    tune,
    votes,
)
from kavan_tf.cli.common import apply_sets
from kavan_tf.errors import KavanError
from kavan_tf.quiet import native_stderr_captured

logger = logging.getLogger("kavan_tf")

COMMANDS = (demo, results, synth, prepare, keypoints, votes, train, evaluate, tune, export, info,
            predict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kavan", description="Emotion recognition in animated GIFs (KAVAN, ICME 2019)."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kavan`` command.

    Errors in the input are one line, ``kavan <command>: <path>: <cause>``,
    with exit status 2. TensorFlow's native start-up output is kept off the
    terminal (``-v`` shows it) and printed only when the command fails
    unexpectedly (:mod:`kavan_tf.quiet`). SIGTERM ends a command as Ctrl-C
    does, through its cleanup (temporary files and folders removed), with
    status 143.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    # The package's warnings read as the command's own lines; -v shows which
    # module logged each line.
    handler = _ProgressAwareHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s")
                         if args.verbose else _CommandLines(args.command))
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), handlers=[handler])
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    with native_stderr_captured(enabled=not args.verbose) as captured:
        try:
            return int(args.func(args) or 0)
        except (KavanError, ValueError, FileNotFoundError) as e:
            print(f"kavan {args.command}: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"kavan {args.command}: interrupted", file=sys.stderr)
            return 130
        except SystemExit as e:
            if e.code == _TERMINATED:
                print(f"kavan {args.command}: terminated (SIGTERM)", file=sys.stderr)
            raise
        except ImportError as e:
            sys.stderr.write(captured.text())
            print(f"kavan {args.command}: cannot import {e.name or 'a module'}: {e}",
                  file=sys.stderr)
            return 1
        except BaseException:
            sys.stderr.write(captured.text())
            raise


_TERMINATED = 128 + signal.SIGTERM


class _ProgressAwareHandler(logging.Handler):
    """Writes log lines to stderr above any progress bar (``tqdm.write``), so
    that a line never lands inside a bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)


class _CommandLines(logging.Formatter):
    """Log records as ``kavan <command>: warning: <message>``."""

    def __init__(self, command: str):
        super().__init__()
        self._command = command

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return f"kavan {self._command}: {record.levelname.lower()}: {record.message}"


def _terminate(signum, frame) -> None:
    raise SystemExit(_TERMINATED)


__all__ = ["apply_sets", "build_parser", "main"]
