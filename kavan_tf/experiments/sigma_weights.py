"""Does weighting the loss by TrueSkill's sigma recover the true intensities better?

For each vote budget: a synthetic benchmark (the true intensities are known)
whose votes are simulated unevenly, so that sigma varies between the emotions
of a GIF; ``kavan votes`` turns them into TrueSkill scores and sigmas. A row is
trained on the scores with ``loss.sigma_weights`` off and on, on the same
splits and seeds, and judged against the **true** intensities of its test GIFs
(:func:`kavan_tf.experiments.claims.sigma_claims` judges the differences).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from kavan_tf.config import KavanConfig, with_overrides
from kavan_tf.data.gifgif import votes_to_manifest
from kavan_tf.data.manifest import read_manifest, sigma_column
from kavan_tf.experiments.demo import DemoSettings, demo_config
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.evaluation import (
    ROWS_BY_KEY,
    TrainingTask,
    make_splits,
    row_config,
    run_key,
    run_tasks,
)

#: The sigma experiment's table of runs in its output folder; a later call
#: with the same folder reuses the finished runs it lists.
SIGMA_TABLE = "sigma_weights.csv"
_METRICS = ("nmse", "spearman", "accuracy")


@dataclass
class _Budget:
    """One vote budget's runs: what each is, its task and its cache key."""

    runs: list[dict]
    tasks: list[TrainingTask]
    keys: list[str]
    sigmas: np.ndarray


def sigma_experiment(
    output_dir: str,
    settings: DemoSettings,
    *,
    votes: tuple[float, ...] = (3.0, 12.0),
    spread: float = 1.0,
    num_splits: int = 5,
    row: str = "att_lstm",
    jobs: int = 1,
    on_result: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Trains ``row`` on simulated votes with and without sigma weights, per vote budget.

    Each budget's votes number ``votes`` per (GIF, emotion) on average,
    spread unevenly (``votes_spread=spread``); the runs go ``jobs`` at a
    time (see :func:`kavan_tf.training.evaluation.run_tasks`). Finished runs
    of an earlier call with the same ``output_dir`` are reused.

    Returns:
        One line per (votes, split, weighting) with ``nmse``, ``spearman``
        and ``accuracy`` against the truth, and the sigmas' median and
        within-GIF spread; ``attrs["reused_runs"]`` counts the reused runs.
    """
    config = demo_config(settings, output_dir)
    table_path = os.path.join(output_dir, SIGMA_TABLE)
    earlier = earlier_runs(table_path)
    lines: list[dict] = []
    reused = 0
    for budget in votes:
        root = os.path.join(output_dir, f"votes{budget:g}")
        synthetic = replace(settings.synthetic, votes_per_gif=float(budget),
                            votes_spread=float(spread))
        truth, voted = voted_benchmark(root, synthetic, config)
        plan = _budget_runs(config, truth, voted, budget, root, num_splits, row)
        budget_lines, budget_reused = finish_runs(
            plan.tasks, plan.keys, earlier, partial(_run_line, plan), lines, table_path, jobs,
            on_result)
        lines += budget_lines
        reused += budget_reused
    frame = pd.DataFrame(lines)
    frame.attrs["reused_runs"] = reused
    return frame


def finish_runs(
    tasks: list[TrainingTask],
    keys: list[str],
    earlier: dict[str, dict],
    line_of: Callable[[int, dict], dict],
    done_lines: list[dict],
    table_path: str,
    jobs: int,
    on_result: Callable[[dict], None] | None,
) -> tuple[list[dict], int]:
    """Each task's line, in task order: reused from ``earlier`` by its key, else
    trained (``jobs`` at a time) and made by ``line_of(index, metrics)``.

    The table at ``table_path`` (``done_lines``, then this call's lines) is
    written after every run, so that an interrupted call loses none.

    Returns:
        ``(lines, reused)``: the lines, and how many were reused.
    """
    finished = {i: earlier[key] for i, key in enumerate(keys) if key in earlier}
    for index in sorted(finished):
        if on_result is not None:
            on_result(finished[index])
    pending = [i for i in range(len(tasks)) if i not in finished]
    for done, metrics, _ in run_tasks([tasks[i] for i in pending], jobs):
        index = pending[done]
        finished[index] = line_of(index, metrics)
        pd.DataFrame(done_lines + [finished[i] for i in sorted(finished)]).to_csv(
            table_path, index=False)
        if on_result is not None:
            on_result(finished[index])
    return [finished[i] for i in sorted(finished)], len(tasks) - len(pending)


def earlier_runs(table_path: str) -> dict[str, dict]:
    """The runs an earlier call wrote to ``table_path``, by run key."""
    if not os.path.exists(table_path):
        return {}
    table = pd.read_csv(table_path)
    if "run_key" not in table.columns:
        return {}
    return {str(r["run_key"]): r for r in table.dropna(subset=["run_key"]).to_dict("records")}


def voted_benchmark(
    root: str, synthetic: SyntheticConfig, config: KavanConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(truth, voted)``: the benchmark's manifest with its true intensities, and
    the one ``kavan votes`` makes of its simulated votes, in the same GIF order."""
    manifest = generate_dataset(root, synthetic)
    voted_path = os.path.join(root, "voted.csv")
    votes_to_manifest(os.path.join(root, "votes.csv.gz"), voted_path,
                      images_dir=os.path.join(root, "gifs"), progress=False)
    truth_table = pd.read_csv(manifest, dtype={"gif_id": str})
    voted_table = pd.read_csv(voted_path, dtype={"gif_id": str})
    voted_table = voted_table.merge(truth_table[["gif_id", "keypoints"]], on="gif_id")
    voted_table.to_csv(voted_path, index=False)
    truth = read_manifest(manifest, config.labels).sort_values("gif_id")
    voted = read_manifest(voted_path, config.labels).sort_values("gif_id")
    truth, voted = truth.reset_index(drop=True), voted.reset_index(drop=True)
    if list(truth["gif_id"]) != list(voted["gif_id"]):
        raise ValueError(f"{voted_path}: the votes do not cover every GIF")
    return truth, voted


def _budget_runs(
    config: KavanConfig,
    truth: pd.DataFrame,
    voted: pd.DataFrame,
    budget: float,
    root: str,
    num_splits: int,
    row: str,
) -> _Budget:
    """Per split, ``row`` trained on the voted scores with sigma weights off and on,
    tested against the truth."""
    runs, tasks = [], []
    splits = make_splits(len(truth), num_splits, seed=config.train.seed)
    for split, (train_idx, test_idx) in enumerate(splits):
        for weighted in (False, True):
            run = row_config(
                with_overrides(config, loss={"sigma_weights": weighted},
                               train={"seed": config.train.seed + split}),
                ROWS_BY_KEY[row],
                os.path.join(root, "runs", f"split{split}", "sigma" if weighted else "plain"),
            )
            runs.append({"votes": budget, "split": split, "sigma_weights": weighted})
            tasks.append(TrainingTask(run, voted.iloc[train_idx], truth.iloc[test_idx]))
    sigmas = voted[[sigma_column(e) for e in config.labels.emotions]].to_numpy()
    return _Budget(runs, tasks, [run_key(task) for task in tasks], sigmas)


def _run_line(plan: _Budget, index: int, metrics: dict) -> dict:
    return {**plan.runs[index],
            **{m: metrics[m] for m in _METRICS},
            "sigma_median": float(np.median(plan.sigmas)),
            "sigma_within_gif_std": float(np.mean(plan.sigmas.std(axis=1))),
            "run_key": plan.keys[index]}
