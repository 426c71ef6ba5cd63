"""Does learning from the votes themselves recover the true intensities better?

Fixed before it runs (docs/results.md states the verdicts, whatever they
are). For each vote budget (votes per (GIF, emotion): 3 and 12), the
sigma experiment's benchmark (:mod:`kavan_tf.experiments.sigma_weights`):
the synthetic GIFs, whose true intensities are known, and their votes
simulated unevenly (``votes_spread``, so that sigma varies), which
``kavan votes`` turns into TrueSkill scores. On the same splits and seeds,
``row`` is trained three ways:

- ``regression``: on the TrueSkill scores (``L_RG``, as today);
- ``votes``: on the votes between training GIFs alone (``loss.w_vote = 1``,
  ``loss.w_rg = 0``);
- ``both``: on the votes, with the score regression added
  (``w_vote = w_rg = 1``).

Every run sees the same number of GIFs per epoch: a vote run's epoch is
``n_train // 2`` votes (two GIFs each) drawn afresh from all the votes
between training GIFs. Each run is judged by Spearman and nMSE against the
**true** intensities of its test GIFs;
:func:`kavan_tf.experiments.claims.vote_claims` pairs the runs by split and
seed and gives the verdicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pandas as pd

from kavan_tf.config import with_overrides
from kavan_tf.experiments.demo import DemoSettings, demo_config
from kavan_tf.experiments.sigma_weights import earlier_runs, finish_runs, voted_benchmark
from kavan_tf.training.evaluation import (
    ROWS_BY_KEY,
    TrainingTask,
    make_splits,
    row_config,
    run_key,
)

#: The vote experiment's table of runs in its output folder; a later call
#: with the same folder reuses the finished runs it lists.
VOTE_TABLE = "vote_training.csv"

#: Each way of training: its loss settings and whether it reads the votes.
VOTE_RUNS: dict[str, tuple[dict[str, float], bool]] = {
    "regression": ({}, False),
    "votes": ({"w_vote": 1.0, "w_rg": 0.0}, True),
    "both": ({"w_vote": 1.0, "w_rg": 1.0}, True),
}
_METRICS = ("nmse", "spearman", "accuracy")


def vote_experiment(
    output_dir: str,
    settings: DemoSettings,
    *,
    votes: tuple[float, ...] = (3.0, 12.0),
    spread: float = 1.0,
    num_splits: int = 5,
    seeds: int = 3,
    row: str = "att_lstm",
    jobs: int = 1,
    on_result: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Trains ``row`` by score regression, on the votes, and both, per vote budget.

    Args:
        output_dir: Datasets, runs and :data:`VOTE_TABLE`.
        settings: The benchmark and the training settings.
        votes: Vote budgets, votes per (GIF, emotion) on average.
        spread: ``votes_spread`` of the simulated votes.
        num_splits: Seeded 80/20 splits.
        seeds: Training seeds per split.
        row: The ablation row trained.
        jobs: Runs at once (see :func:`kavan_tf.training.evaluation.run_tasks`).
        on_result: Called with each finished (or reused) line.

    Returns:
        One line per (votes, split, seed, run) with ``nmse``, ``spearman``
        and ``accuracy`` against the truth; ``attrs["reused_runs"]`` counts
        the runs reused from an earlier call.
    """
    config = demo_config(settings, output_dir)
    table_path = os.path.join(output_dir, VOTE_TABLE)
    earlier = earlier_runs(table_path)
    lines: list[dict] = []
    reused = 0
    for budget in votes:
        root = os.path.join(output_dir, f"votes{budget:g}")
        synthetic = replace(settings.synthetic, votes_per_gif=float(budget),
                            votes_spread=float(spread))
        truth, voted = voted_benchmark(root, synthetic, config)
        dump = os.path.join(root, "votes.csv.gz")
        runs, tasks = [], []
        for split, (train_idx, test_idx) in enumerate(
                make_splits(len(truth), num_splits, seed=config.train.seed)):
            for seed in range(seeds):
                for name, (loss, reads_votes) in VOTE_RUNS.items():
                    run = row_config(
                        with_overrides(config, loss=loss, train={
                            "seed": config.train.seed + seed * num_splits + split}),
                        ROWS_BY_KEY[row],
                        os.path.join(root, "runs", f"split{split}", f"seed{seed}", name))
                    runs.append({"votes": budget, "split": split, "seed": seed, "run": name})
                    tasks.append(TrainingTask(
                        run, voted.iloc[train_idx], truth.iloc[test_idx],
                        votes=dump if reads_votes else None,
                        votes_per_epoch=len(train_idx) // 2 if reads_votes else None))
        keys = [run_key(task) for task in tasks]
        budget_lines, budget_reused = finish_runs(
            tasks, keys, earlier, partial(_run_line, runs, keys), lines, table_path, jobs,
            on_result)
        lines += budget_lines
        reused += budget_reused
    frame = pd.DataFrame(lines)
    frame.attrs["reused_runs"] = reused
    return frame


def _run_line(runs: list[dict], keys: list[str], index: int, metrics: dict) -> dict:
    """The table's line of run ``index``: what it is, its metrics and its key."""
    return {**runs[index], **{m: metrics[m] for m in _METRICS}, "run_key": keys[index]}
