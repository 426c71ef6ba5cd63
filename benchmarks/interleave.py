"""Runs one benchmark on two source trees in turn, to compare commits on one machine.

Each round runs the benchmark once on each tree, in a fresh process with
that tree first on ``PYTHONPATH``, so that both trees see the same machine
load over time. Make the other tree with ``git worktree add``.

    git worktree add ../base <commit>
    python benchmarks/interleave.py --base ../base --rounds 2 -- \\
        benchmarks/bench_head_inference.py --batch 8
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=pathlib.Path, required=True,
                        help="the other source tree (e.g. a git worktree of the old commit)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the benchmark script (relative to this tree) and its arguments")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if not command:
        parser.error("give the benchmark to run after --")
    script = command[0]
    for round_ in range(1, args.rounds + 1):
        for name, tree in (("base", args.base.resolve()), ("this", ROOT)):
            env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="3")
            # The benchmark script comes from this tree, so both trees run the same measurement.
            result = subprocess.run([sys.executable, str(ROOT / script), *command[1:]],
                                    cwd=tree, env=env, capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"{name} ({tree}) failed:\n{result.stderr[-3000:]}")
            print(f"## round {round_}, {name} ({tree})\n{result.stdout}", flush=True)


if __name__ == "__main__":
    main()
