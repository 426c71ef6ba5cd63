"""``kavan results``: the docs' results page, reproduced by one command.

1. Tables 1 and 2 of the paper on the synthetic benchmark: the five ablation
   rows and the two baselines under the protocol of docs/decisions.md#protocol
   (five seeded 80/20 splits), the paper's GIFGIF figures beside them,
   labelled as other data
   (:mod:`kavan_tf.experiments.claims` judges the paper's claims).
2. Where the attention goes: the share of the attention mass that falls on
   the face (:mod:`kavan_tf.experiments.face_attention`), with keypoint
   supervision on, off, and with 30 % of keypoints dropped.
3. Whether weighting the loss by TrueSkill's sigma recovers the true
   intensities better (:mod:`kavan_tf.experiments.sigma_weights`).
4. Whether learning from the votes themselves does
   (:mod:`kavan_tf.experiments.vote_training`; only when asked for).

:mod:`kavan_tf.experiments.results_page` writes the page.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from kavan_tf.config import with_overrides
from kavan_tf.data.files import atomic_json
from kavan_tf.data.manifest import read_manifest
from kavan_tf.experiments.claims import (
    HS_ROWS,
    claim_table,
    hs_claims,
    position_table,
    sigma_claims,
    vote_claims,
)
from kavan_tf.experiments.demo import DemoSettings, demo_config
from kavan_tf.experiments.face_attention import attention_on_faces
from kavan_tf.experiments.results_page import results_page
from kavan_tf.experiments.sigma_weights import sigma_experiment
from kavan_tf.experiments.vote_training import vote_experiment
from kavan_tf.synthetic import SyntheticConfig, generate_dataset, generate_example
from kavan_tf.training.evaluation import (
    TrainingTask,
    format_result,
    make_splits,
    parameter_counts,
    results_markdown,
    run_key,
    run_protocol,
    summarise,
)
from kavan_tf.training.trainer import split_frame, train

BENCHMARKS = ("end", "segment")

BENCHMARK_GIFS = {"end": 640, "segment": 1280, "change": 640}
"""GIFs per benchmark: ``segment`` is learnable at this scale with twice the
demo's data only (docs/synthetic.md, the pilots)."""

#: Where an attention run keeps its measurement, for the next call to reuse.
ATTENTION_FILE = "attention_on_faces.json"


def run_results(
    output_dir: str = "runs/results",
    doc_path: str | None = None,
    *,
    num_gifs: int | None = None,
    epochs: int = 10,
    num_splits: int = 5,
    seeds: int = 3,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    baselines: tuple[str, ...] = ("color_histogram", "face_expression"),
    sigma_votes: tuple[float, ...] = (3.0, 12.0),
    vote_budgets: tuple[float, ...] = (),
    hs_readings: tuple[str, ...] = (),
    readings_on: tuple[str, ...] | None = None,
    attention: bool = True,
    jobs: int = 1,
    command: str = "kavan results",
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs everything on the results page and writes it.

    Args:
        output_dir: Datasets, runs and raw CSVs.
        doc_path: The Markdown page to write (``kavan results`` writes
            docs/results.md); ``None``: only ``output_dir``.
        num_gifs: Size of every synthetic benchmark (``None``: each one's
            :data:`BENCHMARK_GIFS`; the attention and sigma experiments use
            ``end``'s).
        epochs: Epochs per training run.
        num_splits: Splits of the protocol (paper: 5).
        seeds: Training seeds per split and ablation row.
        benchmarks: Synthetic label modes to run the ablation on (``"end"``,
            ``"segment"``, ``"change"``).
        baselines: Table 2 baselines to include (on the first benchmark).
        sigma_votes: Vote budgets of the sigma-weighting experiment (empty:
            skip it).
        vote_budgets: Vote budgets of the vote-training experiment
            (:func:`~kavan_tf.experiments.vote_training.vote_experiment`,
            ``seeds`` seeds x ``num_splits`` splits; empty: skip it).
        hs_readings: Other values of ``model.hs_tier1`` (docs/model.md,
            "HS-LSTM readings") whose HS-LSTM rows are run on every
            benchmark beside the default reading's, with the same seeds and
            splits; the plain LSTM rows are shared, not trained again.
        readings_on: The benchmarks ``hs_readings`` run on (``None``: all of
            ``benchmarks``).
        attention: Measure where the attention goes (three more runs).
        jobs: Training runs at once, each in its own process (2 on a 2-core
            machine: about 1.6 times sooner). Finished ablation, sigma and
            attention runs are reused when called again with the same
            ``output_dir`` (and the same settings and data).
        command: The command line that reproduces the run, for the page.
        on_progress: Called with a line per step and per finished run (e.g.
            ``print``).

    Returns:
        ``{"tables": {mode: str}, "claims": {mode: DataFrame}, "positions",
        "attention", "sigma", "votes", "readings": {(mode, reading): (str,
        DataFrame)}, "seconds"}``.
    """
    say = on_progress or _silent
    readings_on = benchmarks if readings_on is None else readings_on
    if hs_readings and not set(readings_on) <= set(benchmarks):
        raise ValueError(
            f"The HS-LSTM readings share the plain LSTM runs of the benchmarks run: "
            f"readings_on={list(readings_on)} must be among benchmarks={list(benchmarks)}")
    began = time.perf_counter()
    sizes = {mode: num_gifs or BENCHMARK_GIFS[mode] for mode in (*benchmarks, "end")}
    end = DemoSettings().with_overrides(synthetic={"num_gifs": sizes["end"]},
                                        train={"epochs": epochs})
    found = _Found()
    for index, mode in enumerate(benchmarks):
        started = time.perf_counter()
        settings = benchmark_settings(mode, sizes[mode], epochs)
        say(f"benchmark {mode!r}: {sizes[mode]} GIFs, {num_splits} splits x {seeds} seeds")
        _benchmark(found, mode, settings, output_dir, num_splits, seeds,
                   baselines if index == 0 else (), jobs, say)
        found.timings[mode] = time.perf_counter() - started
    if attention:
        started = time.perf_counter()
        found.attention = _attention_runs(found, end, output_dir, say)
        found.timings["attention"] = time.perf_counter() - started
    if sigma_votes:
        started = time.perf_counter()
        say(f"sigma weights: vote budgets {list(sigma_votes)}")
        found.sigma = _sigma_runs(found, end, output_dir, tuple(sigma_votes), num_splits, jobs,
                                  say)
        found.timings["sigma"] = time.perf_counter() - started
    if vote_budgets:
        started = time.perf_counter()
        say(f"training on votes: vote budgets {list(vote_budgets)}")
        found.votes = _vote_runs(found, end, output_dir, tuple(vote_budgets), num_splits,
                                 seeds, jobs, say)
        found.timings["votes"] = time.perf_counter() - started
    # Last, so that a call stopped here has finished everything else.
    for reading in hs_readings:
        for mode in readings_on:
            started = time.perf_counter()
            settings = benchmark_settings(mode, sizes[mode], epochs)
            say(f"benchmark {mode!r}, HS-LSTM tier 1 per {reading}")
            _reading(found, mode, reading, settings, output_dir, num_splits, seeds, jobs, say)
            found.timings[f"{mode}, tier 1 per {reading}"] = time.perf_counter() - started
    found.earlier = _earlier_reading(output_dir, benchmarks)

    seconds = time.perf_counter() - began
    if doc_path:
        shown = {mode: sizes[mode] for mode in benchmarks} or {"end": sizes["end"]}
        page = results_page(found.tables, found.claims, found.positions, found.attention,
                            found.sigma, end, num_splits, seeds, seconds, found.timings, command,
                            reused=found.reused, sizes=shown, votes=found.votes,
                            readings=found.readings, earlier=found.earlier)
        _write(doc_path, page)
    return {"tables": found.tables, "claims": found.claims, "positions": found.positions,
            "attention": found.attention, "sigma": found.sigma, "votes": found.votes,
            "readings": found.readings, "seconds": seconds}


def protocol_folder(mode: str, reading: str | None = None) -> str:
    """The folder, under ``kavan results``' output, of benchmark ``mode``'s
    protocol, or of its HS-LSTM rows read with ``model.hs_tier1 = reading``."""
    return f"protocol_{mode}" if reading is None else f"protocol_{mode}_tier1_{reading}"


def benchmark_settings(mode: str, num_gifs: int | None = None, epochs: int = 10
                       ) -> DemoSettings:
    """The settings of benchmark ``mode``'s protocol in :func:`run_results`
    (``num_gifs``: ``None`` for :data:`BENCHMARK_GIFS`)."""
    return DemoSettings().with_overrides(
        synthetic={"num_gifs": num_gifs or BENCHMARK_GIFS[mode], "label_mode": mode},
        train={"epochs": epochs})


@dataclass
class _Found:
    """What the experiments of one call found, for the page."""

    tables: dict[str, str] = field(default_factory=dict)
    claims: dict[str, pd.DataFrame] = field(default_factory=dict)
    positions: pd.DataFrame | None = None
    attention: pd.DataFrame | None = None
    sigma: pd.DataFrame | None = None
    votes: pd.DataFrame | None = None
    readings: dict[tuple[str, str], tuple[str, pd.DataFrame]] = field(default_factory=dict)
    earlier: dict[str, tuple[str, pd.DataFrame]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    reused: int = 0


def _silent(line: str) -> None:
    del line


def _benchmark(found: _Found, mode: str, settings: DemoSettings, output_dir: str,
               num_splits: int, seeds: int, baselines: tuple[str, ...], jobs: int,
               say: Callable[[str], None]) -> None:
    """The ablation rows (and ``baselines``) under the protocol on one benchmark;
    on ``segment``, HS-LSTM's advantage by where the expression is."""
    manifest = generate_dataset(os.path.join(output_dir, f"data_{mode}"), settings.synthetic,
                                progress=True)
    config = demo_config(settings, output_dir)
    rows = read_manifest(manifest, config.labels)
    out = os.path.join(output_dir, protocol_folder(mode))
    frame = run_protocol(
        config, rows, out, num_splits=num_splits, seeds=seeds, baselines=baselines,
        # 512 histogram cells and ~500 training GIFs would make OLS interpolate.
        baseline_options={"color_histogram": {"bins": 4}},
        jobs=jobs, on_result=lambda r: say(format_result(r)),
    )
    found.reused += frame.attrs.get("reused_runs", 0)
    found.tables[mode] = results_markdown(summarise(frame), config,
                                          parameters=parameter_counts(config))
    found.claims[mode] = claim_table(frame)
    found.claims[mode].to_csv(os.path.join(out, "claims.csv"), index=False)
    if mode == "segment":
        where = {gif_id: generate_example(settings.synthetic, int(gif_id[3:])).position
                 for gif_id in rows["gif_id"].astype(str)}
        per_gif = pd.read_csv(os.path.join(out, "per_gif.csv"), dtype={"gif_id": str})
        found.positions = position_table(per_gif, where)
        found.positions.to_csv(os.path.join(out, "positions.csv"), index=False)


def _reading(found: _Found, mode: str, reading: str, settings: DemoSettings, output_dir: str,
             num_splits: int, seeds: int, jobs: int, say: Callable[[str], None]) -> None:
    """The ablation on one benchmark with HS-LSTM's tier 1 read as ``reading``: the
    HS-LSTM rows are trained, the plain LSTM rows reused from the default reading's
    protocol (their runs do not depend on HS-LSTM's readings)."""
    manifest = generate_dataset(os.path.join(output_dir, f"data_{mode}"), settings.synthetic)
    config = with_overrides(demo_config(settings, output_dir), model={"hs_tier1": reading})
    rows = read_manifest(manifest, config.labels)
    out = os.path.join(output_dir, protocol_folder(mode, reading))
    frame = run_protocol(config, rows, out, num_splits=num_splits, seeds=seeds, jobs=jobs,
                         reuse_from=(os.path.join(output_dir, protocol_folder(mode)),),
                         on_result=lambda r: say(format_result(r)))
    # The plain LSTM runs are this call's own (shared), not an earlier call's.
    shared = int((~frame["row"].isin(HS_ROWS)).sum())
    found.reused += frame.attrs.get("reused_runs", 0) - shared
    claims = hs_claims(claim_table(frame))
    claims.to_csv(os.path.join(out, "claims.csv"), index=False)
    found.readings[(mode, reading)] = (
        results_markdown(summarise(frame), config, parameters=parameter_counts(config)), claims)


#: Where a results folder keeps the runs of the development build whose
#: HS-LSTM restarted tier 1 at every node (CHANGELOG.md, 0.1.0): its
#: ``protocol_<benchmark>/results_per_split.csv``, shown on the page labelled
#: as that reading, never trained again.
EARLIER_READING = "tier1_restarted_per_node"


def _earlier_reading(output_dir: str,
                     benchmarks: tuple[str, ...]) -> dict[str, tuple[str, pd.DataFrame]]:
    """Per benchmark, the earlier reading's table and HS-LSTM claims, where kept."""
    kept = {}
    for mode in benchmarks:
        path = os.path.join(output_dir, EARLIER_READING, protocol_folder(mode),
                            "results_per_split.csv")
        if os.path.exists(path):
            frame = pd.read_csv(path)
            frame = frame[~frame["row"].isin(["color_histogram", "face_expression"])]
            claims = claim_table(frame)
            if len(claims):
                kept[mode] = (results_markdown(summarise(frame)), hs_claims(claims))
    return kept


def _attention_runs(found: _Found, settings: DemoSettings, output_dir: str,
                    say: Callable[[str], None]) -> pd.DataFrame:
    """Attention on faces with keypoint supervision on, off, and on with 30 % of
    the keypoints dropped; a run finished by an earlier call is reused."""
    synthetic = settings.synthetic
    config = demo_config(settings, output_dir)
    manifest = generate_dataset(os.path.join(output_dir, "data_end"), synthetic)
    dropped = replace(synthetic, keypoint_drop_rate=0.3)
    dropped_manifest = generate_dataset(os.path.join(output_dir, "data_drop30"), dropped)
    lines: list[dict[str, Any]] = []
    for title, w_kp, synth, path in (
        ("keypoint supervision on", config.loss.w_kp, synthetic, manifest),
        ("keypoint supervision off (w_kp = 0)", 0.0, synthetic, manifest),
        ("on, 30 % of keypoints dropped", config.loss.w_kp, dropped, dropped_manifest),
    ):
        data = read_manifest(path, config.labels)
        run_dir = os.path.join(output_dir, "attention", str(len(lines)))
        run = with_overrides(config, loss={"w_kp": w_kp}, train={"output_dir": run_dir})
        task = TrainingTask(run, split_frame(data, "train"), split_frame(data, "test"))
        key = attention_run_key(task, synth)
        kept = os.path.join(run_dir, ATTENTION_FILE)
        measured = _kept_measurement(kept, key)
        if measured is not None:
            say(f"attention: reusing the finished run with {title}")
            found.reused += 1
        else:
            say(f"attention: training with {title} ...")
            model = train(run, task.train_rows, verbose=0).model
            measured = attention_on_faces(model, task.test_rows, run, synth)
            atomic_json(kept, {"key": key, "measured": measured})
        lines.append({"setting": title, **measured})
    frame = pd.DataFrame(lines)
    frame.to_csv(os.path.join(output_dir, "attention_on_faces.csv"), index=False)
    return frame


def attention_run_key(task: TrainingTask, synthetic: SyntheticConfig) -> str:
    """The cache key of an attention run: the run's config and data
    (:func:`~kavan_tf.training.evaluation.run_key`), and the synthetic config
    the data was made with (the targets alone do not tell a dataset with
    dropped keypoints from the full one)."""
    made_with = json.dumps(asdict(synthetic), sort_keys=True, default=str)
    return run_key(task) + "-" + hashlib.sha256(made_with.encode()).hexdigest()[:16]


def _kept_measurement(path: str, key: str) -> dict | None:
    """The measurement an earlier call kept at ``path`` for the same ``key``, if any."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    return saved["measured"] if saved.get("key") == key else None


def _sigma_runs(found: _Found, settings: DemoSettings, output_dir: str,
                votes: tuple[float, ...], num_splits: int, jobs: int,
                say: Callable[[str], None]) -> pd.DataFrame:
    """The sigma-weighting experiment, and its verdicts per vote budget."""
    frame = sigma_experiment(
        os.path.join(output_dir, "sigma"), settings, votes=votes, num_splits=num_splits,
        jobs=jobs,
        on_result=lambda r: say(
            f"votes {r['votes']:g} split {r['split']} sigma_weights={r['sigma_weights']}: "
            f"Spearman {r['spearman']:.3f} nMSE {r['nmse']:.4f}"),
    )
    found.reused += frame.attrs.get("reused_runs", 0)
    sigma = sigma_claims(frame)
    sigma.to_csv(os.path.join(output_dir, "sigma_claims.csv"), index=False)
    return sigma


def _vote_runs(found: _Found, settings: DemoSettings, output_dir: str,
               budgets: tuple[float, ...], num_splits: int, seeds: int, jobs: int,
               say: Callable[[str], None]) -> pd.DataFrame:
    """The vote-training experiment, and its verdicts per vote budget."""
    frame = vote_experiment(
        os.path.join(output_dir, "votes"), settings, votes=budgets, num_splits=num_splits,
        seeds=seeds, jobs=jobs,
        on_result=lambda r: say(
            f"votes {r['votes']:g} split {r['split']} seed {r['seed']} {r['run']}: "
            f"Spearman {r['spearman']:.3f} nMSE {r['nmse']:.4f}"),
    )
    found.reused += frame.attrs.get("reused_runs", 0)
    verdicts = vote_claims(frame)
    if len(verdicts):
        # What the vote runs saw against what the budget holds, for the page.
        train_gifs = len(make_splits(settings.synthetic.num_gifs, 1, seed=0)[0][0])
        verdicts["votes_per_run"] = train_gifs // 2 * settings.config.train.epochs
        verdicts["dump_votes"] = verdicts["votes"].map(lambda budget: len(pd.read_csv(
            os.path.join(output_dir, "votes", f"votes{budget:g}", "votes.csv.gz"),
            usecols=[0])))
    verdicts.to_csv(os.path.join(output_dir, "vote_claims.csv"), index=False)
    return verdicts


def _write(path: str, page: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
