"""Hyperparameter search over the loss weights and the learning rate.

The loss and its metrics are those of docs/decisions.md#losses-and-metrics.

``L = L_RG + w_C L_C + w_RANK L_RANK + w_kp L_kp``: the three weights and the
Adam learning rate are searched with Keras Tuner; everything else comes from
the :class:`~kavan_tf.config.KavanConfig`. :class:`KavanHyperModel` is the
``keras_tuner.HyperModel``; :func:`run_tuning` runs a random or Bayesian
search on manifest rows and writes every trial, best first, as CSV and
Markdown. ``docs/tuning.md`` records the run the ``LossConfig`` defaults come
from.

Example:

```python
from kavan_tf.experiments.tuning import run_tuning

table = run_tuning(config, train_rows, val_rows, "runs/tuning",
                   objective="val_intensities_nmse", max_trials=10, epochs=5)
table.iloc[0]        # the best trial: w_c, w_rank, w_kp, learning_rate, score, ...
```
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner
import numpy as np
import pandas as pd

from kavan_tf.config import KavanConfig
from kavan_tf.data.pipeline import build_dataset, check_rows
from kavan_tf.models.kavan import KavanModel
from kavan_tf.training.trainer import configure_run, feature_grid

logger = logging.getLogger(__name__)

OBJECTIVES: dict[str, str] = {
    "val_intensities_nmse": "min",
    "val_intensities_emotion_nmse": "min",
    "val_intensities_rank_error": "min",
    "val_intensities_spearman": "max",
    "val_category_accuracy": "max",
    "val_loss": "min",
}
"""Validation metrics a search may optimise, with their direction."""

OBJECTIVE_ALIASES: dict[str, str] = {
    "nmse": "val_intensities_nmse",
    "accuracy": "val_category_accuracy",
}
"""Short names (the CLI's ``--objective``) of the two main objectives."""

ALGORITHMS: tuple[str, ...] = ("random", "bayesian")
"""Search algorithms of :func:`run_tuning`."""

RESULTS_CSV = "tuning_results.csv"
RESULTS_MD = "tuning_results.md"

# Validation metrics reported beside the score in the results table.
_REPORTED = (
    "val_intensities_nmse",
    "val_category_accuracy",
    "val_intensities_rank_error",
    "val_intensities_spearman",
    "val_loss",
)


@dataclass(frozen=True)
class SearchSpace:
    """Log-uniform ranges ``(low, high)`` of the searched hyperparameters.

    All four are sampled on a log scale, since their useful values span
    orders of magnitude.

    Args:
        w_c: Weight of the category cross-entropy ``L_C`` (default 0.1-3).
        w_rank: Weight of the ranking surrogate ``L_RANK`` (default 0.01-1).
        w_kp: Weight of the keypoint loss ``L_kp``, Eq. 7 (default 0.1-10).
        learning_rate: Adam learning rate (default 1e-4 to 1e-2).
    """

    w_c: tuple[float, float] = (0.1, 3.0)
    w_rank: tuple[float, float] = (0.01, 1.0)
    w_kp: tuple[float, float] = (0.1, 10.0)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            ok = (
                isinstance(value, (tuple, list))
                and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                and 0 < value[0] < value[1]
            )
            if not ok:
                raise ValueError(
                    f"`SearchSpace.{item.name}` must be a range (low, high) with "
                    f"0 < low < high. Received: {item.name}={value!r}"
                )
            object.__setattr__(self, item.name, (float(value[0]), float(value[1])))


def resolve_objective(objective: str | keras_tuner.Objective) -> keras_tuner.Objective:
    """The ``keras_tuner.Objective`` of a metric name, a short alias or an Objective.

    Args:
        objective: One of :data:`OBJECTIVES`, an alias in
            :data:`OBJECTIVE_ALIASES` (``"nmse"``, ``"accuracy"``) or a
            ``keras_tuner.Objective``.

    Returns:
        The objective, with its direction.

    Raises:
        ValueError: Unknown objective name.
    """
    if isinstance(objective, keras_tuner.Objective):
        return objective
    name = OBJECTIVE_ALIASES.get(objective, objective) if isinstance(objective, str) else None
    if name not in OBJECTIVES:
        raise ValueError(
            f"Unknown tuning objective. Expected one of {sorted(OBJECTIVES)} or an alias in "
            f"{sorted(OBJECTIVE_ALIASES)}. Received: objective={objective!r}"
        )
    return keras_tuner.Objective(name, direction=OBJECTIVES[name])


class KavanHyperModel(keras_tuner.HyperModel):
    """The model of a config, with loss weights and learning rate drawn from ``hp``.

    ``build(hp)`` draws, log-uniformly from ``search_space``:

    - ``w_c`` (only for multi-task models, which have a category loss),
    - ``w_rank``,
    - ``w_kp`` (only for attention models, which have a keypoint loss),
    - ``learning_rate``,

    and compiles :class:`KavanModel` with ``compile(loss_config=...,
    learning_rate=...)``; the other loss settings come from ``config.loss``.
    Each hyperparameter's default is the config's value, clipped into its
    range.

    ``fit`` takes datasets, or manifest rows (``pandas.DataFrame``) for ``x``
    and ``validation_data``, which it turns into datasets with
    :func:`~kavan_tf.data.pipeline.build_dataset` for each build. With rows,
    every trial starts from the same weights and sees the same batches in
    the same order, so trials differ only by their hyperparameters: the
    ``k``-th build with the same ``hp`` object (a trial's executions, see
    ``executions_per_trial``) seeds weights, shuffling and frame sampling
    with ``config.train.seed + k``.
    A dataset built once and shared by trials instead goes on shuffling from
    trial to trial.

    Args:
        config: The experiment.
        search_space: The ranges; :class:`SearchSpace` defaults when ``None``.
        name: Name of the hypermodel.

    Example:

    ```python
    hypermodel = KavanHyperModel(config)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=resolve_objective("nmse"),
                                     max_trials=10, directory="runs/tuning")
    tuner.search(train_rows, validation_data=val_rows, epochs=5)   # or datasets
    ```
    """

    def __init__(
        self,
        config: KavanConfig,
        search_space: SearchSpace | None = None,
        name: str | None = "kavan",
    ) -> None:
        if not isinstance(config, KavanConfig):
            raise ValueError(f"`config` must be a KavanConfig. Received: config={config!r}")
        if search_space is not None and not isinstance(search_space, SearchSpace):
            raise ValueError(
                f"`search_space` must be a SearchSpace. Received: search_space={search_space!r}"
            )
        super().__init__(name=name, tunable=True)
        self.config = config
        self.search_space = search_space or SearchSpace()
        # Builds per HyperParameters object: Keras Tuner reuses a trial's
        # object for each of its executions.
        self._builds: weakref.WeakKeyDictionary[keras_tuner.HyperParameters, int] = (
            weakref.WeakKeyDictionary()
        )
        self._seed = config.train.seed

    def searched(self) -> tuple[str, ...]:
        """Names of the hyperparameters this config's model is sensitive to."""
        names = []
        if self.config.model.multitask:
            names.append("w_c")
        names.append("w_rank")
        if self.config.model.attention:
            names.append("w_kp")
        return (*names, "learning_rate")

    def build(self, hp: keras_tuner.HyperParameters) -> KavanModel:
        """Builds and compiles the model with the hyperparameters drawn from ``hp``."""
        config = self.config
        current = {**dataclasses.asdict(config.loss), "learning_rate": config.train.learning_rate}
        values: dict[str, Any] = {name: self._draw(hp, name, current[name])
                                  for name in self.searched()}
        learning_rate = values.pop("learning_rate")
        loss_config = dataclasses.replace(config.loss, **values)
        execution = self._builds.get(hp, 0)
        self._builds[hp] = execution + 1
        self._seed = config.train.seed + execution
        keras.utils.set_random_seed(self._seed)
        model = KavanModel.from_kavan_config(config)
        model.compile(loss_config=loss_config, learning_rate=learning_rate)
        return model

    def fit(
        self,
        hp: keras_tuner.HyperParameters,
        model: KavanModel,
        x: Any = None,
        *args: Any,
        validation_data: Any = None,
        **kwargs: Any,
    ) -> keras.callbacks.History:
        """Trains with ``model.fit``; manifest rows become datasets first.

        Args:
            hp: The trial's hyperparameters (already applied by ``build``).
            model: The model from ``build``.
            x: A dataset, or manifest rows to train on.
            *args: Passed to ``model.fit``.
            validation_data: A dataset, or manifest rows to validate on.
            **kwargs: Passed to ``model.fit`` (``epochs``, ``callbacks``, ...).

        Returns:
            The ``History`` of ``model.fit``.
        """
        if isinstance(x, pd.DataFrame):
            x = self._dataset(x, training=True)
        if isinstance(validation_data, pd.DataFrame):
            validation_data = self._dataset(validation_data, training=False)
        with warnings.catch_warnings():
            # Datasets that drop unreadable GIFs have no known length.
            warnings.filterwarnings("ignore", "Your input ran out of data")
            warnings.filterwarnings("ignore", "`shuffle=True` was passed")
            return model.fit(x, *args, validation_data=validation_data, **kwargs)

    def _dataset(self, rows: pd.DataFrame, training: bool):
        return build_dataset(
            rows,
            self.config,
            training=training,
            feature_grid=feature_grid(self.config),
            seed=self._seed,
        )

    def _draw(self, hp: keras_tuner.HyperParameters, name: str, current: float) -> float:
        low, high = getattr(self.search_space, name)
        default = min(max(float(current), low), high)
        return hp.Float(name, low, high, sampling="log", default=default)


def holdout_split(
    rows: pd.DataFrame, fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random ``(train_rows, val_rows)`` split, ``fraction`` of them for validation.

    Both parts keep at least one row and the manifest's order.

    Args:
        rows: Manifest rows (at least 2).
        fraction: Validation share, in ``(0, 1)``.
        seed: Seed of the permutation.

    Returns:
        ``(train_rows, val_rows)``.

    Raises:
        ValueError: ``fraction`` outside ``(0, 1)`` or fewer than 2 rows.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"`fraction` must be in (0, 1). Received: fraction={fraction!r}")
    if len(rows) < 2:
        raise ValueError(f"Need at least 2 rows to split. Received: {len(rows)} rows")
    order = np.random.default_rng(seed).permutation(len(rows))
    n_val = min(max(1, int(round(fraction * len(rows)))), len(rows) - 1)
    return rows.iloc[np.sort(order[n_val:])], rows.iloc[np.sort(order[:n_val])]


def run_tuning(
    config: KavanConfig,
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    directory: str | os.PathLike[str],
    *,
    objective: str | keras_tuner.Objective = "val_intensities_nmse",
    max_trials: int = 10,
    epochs: int | None = None,
    seed: int | None = None,
    algorithm: str = "random",
    executions_per_trial: int = 1,
    search_space: SearchSpace | None = None,
    overwrite: bool = False,
    project_name: str = "kavan_tuning",
    verbose: int = 0,
) -> pd.DataFrame:
    """Searches loss weights and learning rate; writes and returns the trials table.

    Each trial trains the model of ``config`` with ``model.fit`` on
    ``train_rows`` (training pipeline of :func:`~kavan_tf.data.pipeline.build_dataset`)
    and validates on ``val_rows`` after each epoch; its score is the
    objective at its best epoch, averaged over ``executions_per_trial``
    runs with seeds ``config.train.seed``, ``+ 1``, ... (the same seeds,
    hence the same initial weights and batches, in every trial; see
    :class:`KavanHyperModel`). Writes to ``directory``:
    ``tuning_results.csv`` and ``tuning_results.md`` (every finished trial,
    best first) and ``<project_name>/`` (Keras Tuner's trials, so that an
    interrupted search resumes when run again with ``overwrite=False``).

    Args:
        config: The experiment (model, data, the loss settings not searched,
            and ``train.seed``).
        train_rows: Manifest rows to train on.
        val_rows: Manifest rows to score on.
        directory: Output folder, created if needed.
        objective: A name in :data:`OBJECTIVES`, ``"nmse"`` or
            ``"accuracy"``, or a ``keras_tuner.Objective``.
        max_trials: Number of trials.
        epochs: Epochs per trial; ``config.train.epochs`` when ``None``.
        seed: Seed of the search algorithm; ``config.train.seed`` when ``None``.
        algorithm: ``"random"`` (``keras_tuner.RandomSearch``) or
            ``"bayesian"`` (``keras_tuner.BayesianOptimization``, with half
            of the trials as random initial points).
        executions_per_trial: Training runs (seeds) averaged per trial.
        search_space: The ranges; :class:`SearchSpace` defaults when ``None``.
        overwrite: Start afresh instead of resuming a search in ``directory``.
        project_name: Keras Tuner project folder under ``directory``.
        verbose: Keras Tuner and ``model.fit`` verbosity.

    Returns:
        One row per trial, best first: ``rank``, ``trial_id``, the searched
        hyperparameters, ``score``, ``best_epoch`` (1-based; the mean over
        executions) and the validation metrics at that epoch (likewise
        averaged).

    Raises:
        ValueError: Unknown objective or algorithm, or a bad count.
        ManifestError: Rows that cannot be loaded.
    """
    objective = resolve_objective(objective)
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"`algorithm` must be one of {ALGORITHMS}. Received: algorithm={algorithm!r}"
        )
    epochs = config.train.epochs if epochs is None else epochs
    counts = (("max_trials", max_trials), ("epochs", epochs))
    for name, value in (*counts, ("executions_per_trial", executions_per_trial)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    seed = config.train.seed if seed is None else seed
    check_rows(train_rows, config, "training rows")
    check_rows(val_rows, config, "validation rows")

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    config.save(os.path.join(directory, "config.json"))
    configure_run(config)
    hypermodel = KavanHyperModel(config, search_space)
    common = {
        "objective": objective,
        "max_trials": max_trials,
        "seed": seed,
        "directory": directory,
        "project_name": project_name,
        "overwrite": overwrite,
        "executions_per_trial": executions_per_trial,
    }
    if algorithm == "random":
        tuner = keras_tuner.RandomSearch(hypermodel, **common)
    else:
        tuner = keras_tuner.BayesianOptimization(
            hypermodel, num_initial_points=max(1, max_trials // 2), **common
        )

    logger.info(
        "Tuning %s by %s (%s): %d trials x %d runs x %d epochs",
        ", ".join(hypermodel.searched()),
        objective.name,
        objective.direction,
        max_trials,
        executions_per_trial,
        epochs,
    )
    tuner.search(train_rows, validation_data=val_rows, epochs=epochs, verbose=verbose)

    for trial in tuner.oracle.trials.values():
        if trial.status in ("FAILED", "INVALID"):
            reason = (trial.message or "").strip().splitlines()[-1:] or ["no message"]
            logger.warning("Trial %s failed: %s", trial.trial_id, reason[0])
    table = trials_table(tuner.oracle, hypermodel.searched())
    table.to_csv(os.path.join(directory, RESULTS_CSV), index=False)
    with open(os.path.join(directory, RESULTS_MD), "w", encoding="utf-8") as f:
        f.write(results_markdown(table, objective))
    if len(table):
        best = table.iloc[0]
        logger.info(
            "Best trial %s: %s=%.4f with %s",
            best["trial_id"],
            objective.name,
            best["score"],
            ", ".join(f"{n}={best[n]:.4g}" for n in hypermodel.searched()),
        )
    return table


def trials_table(oracle: keras_tuner.Oracle, names: tuple[str, ...]) -> pd.DataFrame:
    """Every finished trial of ``oracle``, best first.

    Args:
        oracle: A Keras Tuner oracle after ``search``.
        names: The hyperparameter columns.

    Returns:
        Columns ``rank``, ``trial_id``, ``names``, ``score``, ``best_epoch``,
        then the validation metrics at the best epoch.
    """
    trials = [t for t in oracle.trials.values() if t.score is not None]
    trials = oracle.get_best_trials(num_trials=len(trials)) if trials else []
    records = []
    for rank, trial in enumerate(trials, start=1):
        values = trial.hyperparameters.values
        record: dict[str, Any] = {"rank": rank, "trial_id": trial.trial_id}
        record.update({name: values.get(name, math.nan) for name in names})
        record["score"] = float(trial.score)
        record["best_epoch"] = None if trial.best_step is None else int(trial.best_step) + 1
        for metric in _REPORTED:
            if trial.metrics.exists(metric):
                record[metric] = float(trial.metrics.get_last_value(metric))
        records.append(record)
    columns = ["rank", "trial_id", *names, "score", "best_epoch", *_REPORTED]
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.dropna(axis=1, how="all") if len(frame) else frame


def results_markdown(table: pd.DataFrame, objective: keras_tuner.Objective) -> str:
    """The trials table as Markdown, best first."""
    goal = "lower" if objective.direction == "min" else "higher"
    header = list(table.columns)
    lines = [
        f"Trials by `{objective.name}` ({goal} is better), best first.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in header) + " |")
    lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if 0 < abs(value) < 1e-2 else f"{value:.4f}"
    return str(value)
