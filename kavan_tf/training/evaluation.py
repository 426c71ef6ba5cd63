"""The paper's evaluation protocol: five seeded 80/20 splits, every ablation row.

The protocol: docs/decisions.md#protocol.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from kavan_tf.baselines import FeatureCache, evaluate_baseline
from kavan_tf.config import KavanConfig
from kavan_tf.data.pipeline import build_dataset, check_rows, targets_of
from kavan_tf.model_card import describe_data
from kavan_tf.models import KavanModel
from kavan_tf.processes import stopped_pool
from kavan_tf.training.trainer import (
    feature_grid,
    quiet_dataset_warnings,
    train,
    vote_data,
    with_overrides,
)

logger = logging.getLogger(__name__)

METRICS = ("accuracy", "nmse", "emotion_nmse", "rank_error", "spearman")
"""Metric columns of the result tables (see :func:`evaluate_model`)."""


@dataclass(frozen=True)
class AblationRow:
    """One row of the paper's Tables 1 and 2.

    Attributes:
        key: Short identifier (used for folder names and the CLI).
        title: The paper's row name, with ``{backbone}`` for the backbone.
        loss_name: Table 2's "Loss" column.
        model: ``ModelConfig`` overrides.
        loss: ``LossConfig`` overrides (weights not named keep the config's).
    """

    key: str
    title: str
    loss_name: str
    model: dict[str, Any]
    loss: dict[str, Any]

    def label(self, config: KavanConfig) -> str:
        return self.title.format(backbone=_backbone_title(config.model.backbone))


ABLATION_ROWS: tuple[AblationRow, ...] = (
    AblationRow(
        "lstm",
        "{backbone} + LSTM",
        "nMSE",
        {"attention": False, "temporal": "lstm", "multitask": False},
        {"w_c": 0.0, "w_rank": 0.0, "w_kp": 0.0},
    ),
    AblationRow(
        "att_lstm",
        "Soft-Att + LSTM",
        "nMSE",
        {"attention": True, "temporal": "lstm", "multitask": False},
        {"w_c": 0.0, "w_rank": 0.0},
    ),
    AblationRow(
        "hslstm",
        "{backbone} + HS-LSTM",
        "nMSE",
        {"attention": False, "temporal": "hslstm", "multitask": False},
        {"w_c": 0.0, "w_rank": 0.0, "w_kp": 0.0},
    ),
    AblationRow(
        "att_hslstm",
        "Soft-Att + HS-LSTM",
        "nMSE",
        {"attention": True, "temporal": "hslstm", "multitask": False},
        {"w_c": 0.0, "w_rank": 0.0},
    ),
    AblationRow(
        "mtl_att_hslstm",
        "MTL Soft-Att + HS-LSTM",
        "MTL",
        {"attention": True, "temporal": "hslstm", "multitask": True},
        {},
    ),
)
"""The five rows of Tables 1 and 2, in the paper's order."""

ROWS_BY_KEY = {row.key: row for row in ABLATION_ROWS}

# The paper's figures on its GIFGIF collection (Tables 1 and 2) - other data.
PAPER_RESULTS: dict[str, dict[str, str | None]] = {
    "Color Histogram": {"accuracy": None, "nmse": "1.2623 ± 0.0615"},
    "Face Expression": {"accuracy": None, "nmse": "1.0000 ± 0.0064"},
    "lstm": {"accuracy": "61.47", "nmse": "1.0675 ± 0.0305"},
    "att_lstm": {"accuracy": "62.55", "nmse": "1.0100 ± 0.0085"},
    "hslstm": {"accuracy": "63.55", "nmse": "1.0277 ± 0.0147"},
    "att_hslstm": {"accuracy": "65.95", "nmse": "0.9987 ± 0.0033"},
    "mtl_att_hslstm": {"accuracy": "68.27", "nmse": "0.9863 ± 0.0084"},
}


def _backbone_title(name: str) -> str:
    return {"resnet50": "ResNet-50", "small": "SmallCNN"}.get(name, name)


def select_rows(keys: Sequence[str] | None) -> list[AblationRow]:
    """The ablation rows named by ``keys`` (all when ``None``)."""
    if not keys:
        return list(ABLATION_ROWS)
    unknown = [k for k in keys if k not in ROWS_BY_KEY]
    if unknown:
        raise ValueError(f"Unknown ablation rows {unknown}. Known rows: {sorted(ROWS_BY_KEY)}")
    return [ROWS_BY_KEY[k] for k in keys]


def row_config(config: KavanConfig, row: AblationRow, output_dir: str) -> KavanConfig:
    """``config`` turned into one ablation row, writing to ``output_dir``."""
    return with_overrides(config, model=row.model, loss=row.loss, train={"output_dir": output_dir})


def make_splits(
    num_items: int, num_splits: int = 5, test_fraction: float = 0.2, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded random ``(train_indices, test_indices)`` splits (paper 4.1: 80/20)."""
    if num_items < 2:
        raise ValueError(f"Need at least 2 GIFs to split. Received: num_items={num_items}")
    if not 0 < test_fraction < 1:
        raise ValueError(
            f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction}"
        )
    splits = []
    n_test = min(max(1, int(round(num_items * test_fraction))), num_items - 1)
    for split in range(num_splits):
        order = np.random.default_rng([seed, split]).permutation(num_items)
        splits.append((np.sort(order[n_test:]), np.sort(order[:n_test])))
    return splits


def evaluate_model(model, rows: pd.DataFrame, config: KavanConfig) -> dict[str, Any]:
    """The metrics of a trained model on manifest rows (evaluation sampling).

    The metrics: docs/decisions.md#losses-and-metrics.

    Returns:
        ``{"accuracy", "nmse", "emotion_nmse", "rank_error", "spearman"}`` and
        ``"per_emotion_nmse"`` (a list in emotion order).
    """
    # The metrics read the targets only: the rows need no sigmas.
    config = with_overrides(config, loss={"sigma_weights": False})
    dataset = build_dataset(rows, config, training=False, feature_grid=feature_grid(config))
    with quiet_dataset_warnings():
        logs = model.evaluate(dataset, verbose=0, return_dict=True)
    emotion_metric = _find_metric(model, "emotion_nmse")
    return {
        "accuracy": float(logs["category_accuracy"]),
        "nmse": float(logs["intensities_nmse"]),
        "emotion_nmse": float(logs["intensities_emotion_nmse"]),
        "rank_error": float(logs["intensities_rank_error"]),
        "spearman": float(logs["intensities_spearman"]),
        "per_emotion_nmse": [float(v) for v in np.asarray(emotion_metric.per_emotion())],
    }


def per_gif_results(model, rows: pd.DataFrame, config: KavanConfig) -> pd.DataFrame:
    """Per-GIF nMSE and category correctness of a trained model on manifest rows.

    Returns:
        One line per row: ``gif_id``, ``nmse`` (the GIF's nMSE, as the
        metric) and ``correct`` (1 when the predicted category is the
        target's).
    """
    config = with_overrides(config, loss={"sigma_weights": False})
    dataset = build_dataset(rows, config, training=False, feature_grid=feature_grid(config))
    with quiet_dataset_warnings():
        outputs = [model.predict_on_batch(x) for x, _ in dataset]
    predicted = np.concatenate([np.asarray(o["intensities"], np.float64) for o in outputs])
    category = np.concatenate([np.argmax(np.asarray(o["category"]), axis=-1) for o in outputs])
    targets, target_category = targets_of(rows, config)
    targets = targets.astype(np.float64)
    if len(predicted) != len(targets):
        raise ValueError(f"{len(targets) - len(predicted)} GIF(s) failed to decode")
    nmse = np.mean((predicted - targets) ** 2, axis=-1) / (
        np.var(targets, axis=-1) + config.loss.nmse_epsilon)
    return pd.DataFrame({"gif_id": rows["gif_id"].astype(str).to_numpy(), "nmse": nmse,
                         "correct": (category == target_category).astype(int)})


def _find_metric(model, name: str):
    stack = list(model.metrics)
    while stack:
        metric = stack.pop()
        if metric.name == name and hasattr(metric, "per_emotion"):
            return metric
        stack.extend(getattr(metric, "metrics", []) or [])
    raise KeyError(f"The model has no metric {name!r}")


@dataclass(frozen=True)
class TrainingTask:
    """One training run of a protocol: train on ``train_rows``, evaluate on ``test_rows``.

    With ``votes`` (a GIFGIF vote dump) the run trains on the votes between
    ``train_rows``' GIFs instead (:func:`~kavan_tf.training.trainer.vote_data`),
    ``votes_per_epoch`` of them per epoch (``None``: all).
    """

    config: KavanConfig
    train_rows: pd.DataFrame
    test_rows: pd.DataFrame
    votes: str | None = None
    votes_per_epoch: int | None = None


#: Settings that decide a run only in some runs: the HS-LSTM readings only
#: when the temporal module is HS-LSTM, the vote loss's only when the run
#: trains on votes (a manifest alone always regresses, docs/model.md). The
#: categories' valence and arousal decide two outputs that have no weights
#: and no loss, never a run's training or metrics.
_AFFECT = ("category_valence", "category_arousal")
_HS_READINGS = ("hs_tier1", "hs_context")
_VOTE_LOSS = ("w_vote", "w_rg", "vote_model", "vote_scale", "vote_draw_margin", "vote_anchor")


def deciding_config(task: TrainingTask) -> dict[str, Any]:
    """``task``'s config as a dict of the settings that decide its result.

    Left out: where it writes (``train.output_dir``), the ``predict``
    defaults, the categories' valence and arousal, the HS-LSTM readings of a
    plain LSTM run and the vote loss's settings of a run without votes. A
    setting that cannot change a run does not change its key, so adding one
    leaves finished runs reusable.
    """
    values = task.config.to_dict()
    values.pop("predict", None)
    values["train"] = {k: v for k, v in values["train"].items() if k != "output_dir"}
    values["labels"] = {k: v for k, v in values["labels"].items() if k not in _AFFECT}
    if task.config.model.temporal != "hslstm":
        values["model"] = {k: v for k, v in values["model"].items() if k not in _HS_READINGS}
    if task.votes is None:
        values["loss"] = {k: v for k, v in values["loss"].items() if k not in _VOTE_LOSS}
    return values


def run_key(task: TrainingTask) -> str:
    """A digest of what decides a run's result: its config (not where it writes) and data.

    The data part is each GIF's id and targets, in order, for both splits, so a
    regenerated dataset with other labels does not match an earlier run.
    """
    values = deciding_config(task)
    emotions = list(task.config.labels.emotions)

    def part(rows: pd.DataFrame) -> list[Any]:
        columns = ["gif_id", *[c for e in emotions for c in (e, f"{e}_sigma")
                               if c in rows.columns]]
        return rows[columns].astype(str).to_numpy().tolist()

    parts: list[Any] = [values, part(task.train_rows), part(task.test_rows)]
    if task.votes is not None:
        with open(task.votes, "rb") as f:
            parts += [hashlib.sha256(f.read()).hexdigest(), task.votes_per_epoch]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _train_and_evaluate(task: TrainingTask, verbose: int | str = 0):
    if task.votes is None:
        result = train(task.config, task.train_rows, verbose=verbose)
    else:
        data, _ = vote_data(task.votes, task.train_rows, task.config,
                            votes_per_epoch=task.votes_per_epoch)
        result = train(task.config, None, train_dataset=data, verbose=verbose,
                       data_description=describe_data(task.train_rows))
    metrics = evaluate_model(result.model, task.test_rows, task.config)
    gifs = per_gif_results(result.model, task.test_rows, task.config)
    return metrics, gifs


def _init_worker(threads: int) -> None:
    """Each worker process uses ``threads`` CPU threads (set before TensorFlow starts)."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _check_jobs(jobs: int) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a positive int. Received: jobs={jobs!r}")


def run_tasks(tasks: Sequence[TrainingTask], jobs: int = 1, verbose: int | str = 0):
    """Trains and evaluates ``tasks``, ``jobs`` at a time; yields ``(index, metrics, per_gif)``.

    With ``jobs > 1`` each run trains in its own (spawned) process with
    ``cpu_count // jobs`` threads: the small models of the synthetic
    benchmark keep about one core busy, so two runs at once on two cores
    finish about 1.6 times sooner than one after the other. Results come in
    the order the runs finish.
    """
    _check_jobs(jobs)
    if jobs == 1 or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            yield (index, *_train_and_evaluate(task, verbose))
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))
    # A caller that stops (an error, Ctrl-C, SIGTERM, or closing this
    # generator early) ends the runs in progress instead of waiting for them.
    with stopped_pool(pool):
        futures = {pool.submit(_train_and_evaluate, task, verbose): index
                   for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            yield (futures[future], *future.result())


def _earlier_runs(output_dir: str) -> tuple[dict[str, dict[str, Any]], dict[str, pd.DataFrame]]:
    """Finished runs of an earlier call with the same ``output_dir``, by :func:`run_key`."""
    lines_path = os.path.join(output_dir, "results_per_split.csv")
    gifs_path = os.path.join(output_dir, "per_gif.csv")
    if not (os.path.exists(lines_path) and os.path.exists(gifs_path)):
        return {}, {}
    lines = pd.read_csv(lines_path)
    gifs = pd.read_csv(gifs_path, dtype={"gif_id": str})
    if "run_key" not in lines.columns or "run_key" not in gifs.columns:
        return {}, {}
    done = {}
    for line in lines.dropna(subset=["run_key"]).to_dict("records"):
        line["per_emotion_nmse"] = json.loads(str(line["per_emotion_nmse"]).replace("nan", "NaN"))
        done[str(line["run_key"])] = line
    return done, {str(k): g for k, g in gifs.groupby("run_key", sort=False)}


def run_protocol(
    config: KavanConfig,
    rows: pd.DataFrame,
    output_dir: str,
    *,
    ablation_rows: Sequence[str] | None = None,
    num_splits: int = 5,
    seeds: int = 1,
    test_fraction: float = 0.2,
    baselines: Sequence[str] = (),
    baseline_options: dict[str, dict[str, Any]] | None = None,
    verbose: int = 0,
    jobs: int = 1,
    resume: bool = True,
    reuse_from: Sequence[str] = (),
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Trains and evaluates every ablation row on seeded 80/20 splits (docs/decisions.md#protocol).

    Writes ``results_per_split.csv`` (one line per split, training seed and
    row, with the per-emotion nMSE), ``per_gif.csv`` (each test GIF's nMSE and
    whether its category was right, per run), ``results.csv`` and
    ``results.md`` (mean ± std over all runs, in the shape of the paper's
    Tables 1 and 2) to ``output_dir``. Each training run writes to
    ``output_dir/split<k>/<row>/`` (``split<k>/seed<s>/<row>/`` with several
    seeds). The two CSVs are rewritten after every run, so a protocol that
    stops (killed, or a run that fails) loses only the runs in progress:
    called again with the same ``output_dir`` it reuses every finished run
    whose config and data are unchanged (``run_key`` column) and trains the
    rest.

    Args:
        config: The base experiment; each row overrides the model and loss.
        rows: The whole manifest (splits are made here).
        output_dir: Where results and runs go.
        ablation_rows: Row keys (default: all five).
        num_splits: Number of splits (paper: 5).
        seeds: Training seeds per split and row: run ``s`` of split ``k``
            trains with seed ``train.seed + k + 100 s`` (weights, shuffling,
            frame sampling); the split itself does not change.
        test_fraction: Test share (paper: 0.2).
        baselines: Any of ``"color_histogram"``, ``"face_expression"``.
        baseline_options: Extractor settings per baseline, e.g.
            ``{"color_histogram": {"bins": 4}}``.
        verbose: ``model.fit`` verbosity.
        jobs: Training runs at once, each in its own process (see
            :func:`run_tasks`).
        resume: Reuse the finished runs of an earlier call (``False``: train
            every run again).
        reuse_from: Other protocols' output folders whose finished runs are
            reused too, by the same key: e.g. the plain LSTM rows of a
            protocol that differs only in an HS-LSTM reading.
        on_result: Called with each result line as it is produced (reused
            runs included).

    Returns:
        The per-split results, in split, seed and row order;
        ``frame.attrs["reused_runs"]`` counts the runs reused, not trained.
    """
    selected = select_rows(ablation_rows)
    check_rows(rows, config, "manifest rows")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"`seeds` must be a positive int. Received: seeds={seeds!r}")
    _check_jobs(jobs)
    splits = make_splits(len(rows), num_splits, test_fraction, config.train.seed)
    os.makedirs(output_dir, exist_ok=True)
    done: dict[str, dict[str, Any]] = {}
    done_gifs: dict[str, pd.DataFrame] = {}
    for folder in (*reuse_from, output_dir) if resume else ():
        lines, gifs = _earlier_runs(folder)
        done.update(lines)
        done_gifs.update(gifs)
    results: dict[tuple[int, int, int], dict[str, Any]] = {}
    per_gif: dict[tuple[int, int, int], pd.DataFrame] = {}

    def record(order: tuple[int, int, int], result: dict[str, Any],
               gifs: pd.DataFrame | None = None) -> None:
        results[order] = result
        if gifs is not None:
            per_gif[order] = gifs
            pd.concat([per_gif[k] for k in sorted(per_gif)]).to_csv(
                os.path.join(output_dir, "per_gif.csv"), index=False)
        pd.DataFrame([results[k] for k in sorted(results)]).to_csv(
            os.path.join(output_dir, "results_per_split.csv"), index=False)
        if on_result is not None:
            on_result(result)

    baseline_features = _baseline_features(baselines, rows, baseline_options or {})
    pending: list[tuple[tuple[int, int, int], dict[str, Any], TrainingTask]] = []
    for split, (train_idx, test_idx) in enumerate(splits):
        for position, (kind, features) in enumerate(baseline_features.items()):
            metrics = _evaluate_baseline(kind, features, train_idx, test_idx, rows, config)
            line = {"split": split, "seed": 0, "row": kind, "title": _BASELINE_TITLES[kind],
                    "loss": "nMSE", **metrics}
            record((split, -1, position), line)
        for seed, position, row in ((s, p, r) for s in range(seeds)
                                    for p, r in enumerate(selected)):
            task = _protocol_task(config, rows, output_dir, (train_idx, test_idx), split, seed,
                                  seeds, row)
            key = run_key(task)
            line = {"split": split, "seed": seed, "row": row.key,
                    "title": row.label(task.config), "loss": row.loss_name, "run_key": key}
            order = (split, seed, position)
            if key in done and key in done_gifs:
                record(order, {**line, **{m: done[key][m] for m in
                                          (*METRICS, "per_emotion_nmse")}}, done_gifs[key])
            else:
                pending.append((order, line, task))
    reused = sum(1 for order in results if order[1] >= 0)
    if reused:
        logger.info("reusing %d finished runs, %d to train", reused, len(pending))
    for index, metrics, gifs in run_tasks([task for _, _, task in pending], jobs, verbose):
        order, line, task = pending[index]
        logger.info("split %d seed %d: trained %s", order[0], order[1], line["title"])
        gifs = gifs.assign(split=order[0], seed=order[1], row=line["row"], run_key=line["run_key"])
        record(order, {**line, **metrics}, gifs)
    frame = pd.DataFrame([results[k] for k in sorted(results)])
    frame.attrs["reused_runs"] = reused
    summary = summarise(frame)
    summary.to_csv(os.path.join(output_dir, "results.csv"), index=False)
    with open(os.path.join(output_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(results_markdown(summary, config))
    return frame


_BASELINE_TITLES = {"color_histogram": "Color Histogram", "face_expression": "Face Expression"}


def _protocol_task(config: KavanConfig, rows: pd.DataFrame, output_dir: str,
                   split_indices: tuple[np.ndarray, np.ndarray], split: int, seed: int,
                   seeds: int, row: AblationRow) -> TrainingTask:
    """The training run of ``row`` on split ``split`` with training seed ``seed``."""
    train_idx, test_idx = split_indices
    parts = [f"split{split}"] + ([f"seed{seed}"] if seeds > 1 else []) + [row.key]
    row_cfg = row_config(
        with_overrides(config, train={"seed": config.train.seed + split + 100 * seed}),
        row, os.path.join(output_dir, *parts),
    )
    return TrainingTask(row_cfg, rows.iloc[train_idx], rows.iloc[test_idx])


def protocol_task(config: KavanConfig, rows: pd.DataFrame, output_dir: str, *, row: str,
                  split: int, seed: int, num_splits: int = 5, seeds: int = 1,
                  test_fraction: float = 0.2) -> TrainingTask:
    """One run of :func:`run_protocol` with the same arguments: the ablation
    row ``row`` (a key of :func:`select_rows`) on split ``split`` with
    training seed ``seed``. Its :func:`run_key` is that run's
    (``benchmarks/check_reuse.py`` trains a stored run again with it)."""
    if not (0 <= split < num_splits and 0 <= seed < seeds):
        raise ValueError(f"split {split} and seed {seed} must be below num_splits={num_splits} "
                         f"and seeds={seeds}")
    (selected,) = select_rows([row])
    splits = make_splits(len(rows), num_splits, test_fraction, config.train.seed)
    return _protocol_task(config, rows, output_dir, splits[split], split, seed, seeds, selected)


def _baseline_features(
    kinds: Sequence[str], rows: pd.DataFrame, options: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """One feature cache per baseline, so each GIF is read once across the splits."""
    if not kinds:
        return {}
    unknown = [k for k in kinds if k not in _BASELINE_TITLES]
    if unknown:
        raise ValueError(f"Unknown baselines {unknown}. Known: {sorted(_BASELINE_TITLES)}")
    caches = {kind: FeatureCache(kind, **options.get(kind, {})) for kind in kinds}
    for cache in caches.values():
        cache.get(rows["path"].astype(str).tolist())
    return caches


def _evaluate_baseline(kind, cache, train_idx, test_idx, rows, config) -> dict[str, Any]:
    result = evaluate_baseline(
        cache,
        rows.iloc[train_idx],
        rows.iloc[test_idx],
        config.labels,
        progress=False,
        nmse_epsilon=config.loss.nmse_epsilon,
    )
    per_emotion = result["emotion_nmse_per_emotion"]
    return {
        **{m: float(result[m]) for m in METRICS},
        "per_emotion_nmse": [float(per_emotion[e]) for e in config.labels.emotions],
    }


def format_result(result: dict[str, Any]) -> str:
    """One protocol result as a progress line (what ``kavan evaluate`` prints)."""
    return (
        f"split {result['split']} seed {result.get('seed', 0)} {result['title']:<28} accuracy "
        f"{100 * result['accuracy']:.2f}% nMSE {result['nmse']:.4f}"
    )


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over the runs (splits x seeds) of each metric, per row."""
    groups = frame.groupby(["row", "title", "loss"], sort=False)
    summary = groups[list(METRICS)].agg(["mean", "std"])
    summary.columns = [f"{metric}_{stat}" for metric, stat in summary.columns]
    summary["splits"] = groups.size()
    return summary.reset_index()


def parameter_counts(config: KavanConfig,
                     rows: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
    """Per ablation row of ``config``: ``(all parameters, those of the attention +
    temporal module)``, from the row's model as built (not trained)."""
    counts = {}
    for row in select_rows(rows):
        model = KavanModel.from_kavan_config(row_config(config, row, ""),
                                             load_backbone_weights=False)
        counts[row.key] = (int(model.count_params()),
                           int(model.get_layer("temporal").count_params()))
    return counts


def results_markdown(summary: pd.DataFrame, config: KavanConfig | None = None,
                     parameters: dict[str, tuple[int, int]] | None = None) -> str:
    """Tables 1 and 2 in the paper's shape, with the paper's GIFGIF figures beside
    them; with ``parameters`` (:func:`parameter_counts`), each row's size in Table 1."""
    sized = parameters is not None
    lines = [
        "Table 1. Coarse emotion category accuracy (%), mean ± std over splits"
        + ("; parameters of the whole model and of its attention + temporal module."
           if sized else "."),
        "",
        "| Method | Accuracy % (this run) |"
        + (" Parameters | of which attention + temporal |" if sized else "")
        + " Paper, GIFGIF (other data) |",
        "|---|---|" + ("---|---|" if sized else "") + "---|",
    ]
    for _, r in summary.iterrows():
        if r["row"] in _BASELINE_TITLES:
            continue
        paper = PAPER_RESULTS.get(r["row"], {}).get("accuracy") or "-"
        size = ""
        if parameters is not None:
            counted = parameters.get(r["row"])
            size = " - | - |" if counted is None else f" {counted[0]:,} | {counted[1]:,} |"
        lines.append(
            f"| {r['title']} | {100 * r['accuracy_mean']:.2f}"
            f" ± {100 * _nan0(r['accuracy_std']):.2f} |{size} {paper} |"
        )
    lines += [
        "",
        "Table 2. Normalised MSE (per GIF), mean ± std over splits.",
        "",
        "| Method | Loss | nMSE (this run) | per-emotion nMSE | rank error (Eq. 11) "
        "| Spearman | Paper nMSE, GIFGIF (other data) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        key = _BASELINE_TITLES.get(r["row"], r["row"])
        paper = PAPER_RESULTS.get(key, {}).get("nmse") or "-"
        lines.append(
            f"| {r['title']} | {r['loss']} | {r['nmse_mean']:.4f} ± {_nan0(r['nmse_std']):.4f}"
            f" | {r['emotion_nmse_mean']:.4f} ± {_nan0(r['emotion_nmse_std']):.4f}"
            f" | {r['rank_error_mean']:.2f} | {r['spearman_mean']:.3f} | {paper} |"
        )
    lines.append("")
    return "\n".join(lines)


def _nan0(value: float) -> float:
    return 0.0 if value != value else float(value)

