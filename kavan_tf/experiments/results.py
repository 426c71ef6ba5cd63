"""``kavan results``: the docs' results page, reproduced by one command.

1. Tables 1 and 2 of the paper on the synthetic benchmark: the five ablation
   rows and the two baselines under the SPEC 7 protocol (five seeded 80/20
   splits), the paper's GIFGIF figures beside them, labelled as other data.
2. Where the attention goes: the share of the attention mass that falls on
   the face (the synthetic data knows the head's outline in every frame),
   with keypoint supervision on, off, and with 30 % of keypoints dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pandas as pd

from kavan_tf.config import KavanConfig
from kavan_tf.data.files import atomic_json

logger = logging.getLogger(__name__)


def face_cell_weights(
    ellipse: np.ndarray, frame_size: tuple[int, int], grid: tuple[int, int], samples: int = 8
) -> np.ndarray:
    """Fraction of each feature-grid cell covered by the head (rotated ellipse).

    Args:
        ellipse: ``(cx, cy, half_width, half_height, roll_degrees)`` in GIF pixels.
        frame_size: ``(width, height)`` of the GIF.
        grid: ``(h, w)`` of the attention masks (frames are stretched to it).
        samples: Sub-samples per cell side.

    Returns:
        float ``[h, w]`` in ``[0, 1]``.
    """
    (width, height), (gh, gw) = frame_size, grid
    cx, cy, a, b, roll = (float(v) for v in ellipse)
    ys = (np.arange(gh * samples) + 0.5) / (gh * samples) * height - 0.5
    xs = (np.arange(gw * samples) + 0.5) / (gw * samples) * width - 0.5
    x, y = np.meshgrid(xs - cx, ys - cy)
    t = np.deg2rad(roll)
    u = x * np.cos(t) + y * np.sin(t)
    v = -x * np.sin(t) + y * np.cos(t)
    inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return inside.reshape(gh, samples, gw, samples).mean(axis=(1, 3))


def attention_on_faces(model, rows: pd.DataFrame, config: KavanConfig, synthetic) -> dict:
    """Mean attention mass on the head, and the head's share of the frame (chance).

    Args:
        model: A trained attention model.
        rows: Synthetic manifest rows to measure on.
        config: The model's experiment config.
        synthetic: The ``SyntheticConfig`` the rows were generated with.
    """
    from kavan_tf.data.pipeline import build_dataset
    from kavan_tf.data.sampling import sample_indices
    from kavan_tf.synthetic import generate_example
    from kavan_tf.training.trainer import feature_grid

    grid = feature_grid(config)
    dataset = build_dataset(rows, config, training=False, feature_grid=grid)
    attention = np.concatenate(
        [model.predict_on_batch(x)["attention"] for x, _ in dataset], axis=0
    )
    masses, shares = [], []
    for row_index, gif_id in enumerate(rows["gif_id"].astype(str)):
        example = generate_example(synthetic, int(gif_id[3:]))
        indices = sample_indices(len(example.frames), config.model.num_frames, training=False)
        for t, frame in enumerate(indices):
            cover = face_cell_weights(example.head_ellipses[frame], synthetic.frame_size, grid)
            masses.append(float((attention[row_index, t] * cover).sum()))
            shares.append(float(cover.mean()))
    return {"face_mass": float(np.mean(masses)), "uniform_mass": float(np.mean(shares))}


# ---------------------------------------------------------------- claims

#: The paper's claims as paired comparisons: (claim, better row, baseline row).
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("attention beats none (Soft-Att + LSTM vs LSTM)", "att_lstm", "lstm"),
    ("attention beats none (Soft-Att + HS-LSTM vs HS-LSTM)", "att_hslstm", "hslstm"),
    ("HS-LSTM beats LSTM (with Soft-Att)", "att_hslstm", "att_lstm"),
    ("HS-LSTM beats LSTM (without attention)", "hslstm", "lstm"),
    ("MTL beats regression only (MTL Soft-Att + HS-LSTM vs Soft-Att + HS-LSTM)",
     "mtl_att_hslstm", "att_hslstm"),
)
#: Metric -> +1 when higher is better, -1 when lower is better.
CLAIM_METRICS = {"accuracy": 1.0, "nmse": -1.0, "spearman": 1.0}


def paired_interval(differences: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t interval of paired differences: ``(mean, low, high)``.

    ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)``, with the sample standard
    deviation; ``nan`` bounds for fewer than two differences.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    mean = float(d.mean()) if d.size else float("nan")
    if d.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return mean, mean - half, mean + half


def claim_table(frame: pd.DataFrame, claims=CLAIMS, metrics=CLAIM_METRICS) -> pd.DataFrame:
    """Each claim's paired difference over the runs (split x seed) both rows share.

    The difference is signed so that a positive value favours the claim
    (``better - baseline`` for accuracy and Spearman, ``baseline - better``
    for nMSE). A claim holds on a metric when the whole 95 % interval is above
    0, is contradicted when it is below 0, and is undecided otherwise.
    """
    lines = []
    keyed = frame.set_index(["split", "seed", "row"])
    for claim, better, baseline in claims:
        if better not in set(frame["row"]) or baseline not in set(frame["row"]):
            continue
        a = keyed.xs(better, level="row")
        b = keyed.xs(baseline, level="row")
        common = a.index.intersection(b.index)
        for metric, sign in metrics.items():
            d = sign * (a.loc[common, metric].to_numpy() - b.loc[common, metric].to_numpy())
            mean, low, high = paired_interval(d)
            lines.append({"claim": claim, "metric": metric, "mean": mean, "low": low,
                          "high": high, "runs": len(d), "verdict": _verdict(low, high)})
    return pd.DataFrame(lines)


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "holds"
    if high < 0:
        return "contradicted"
    return "undecided"


def position_table(per_gif: pd.DataFrame, positions: dict[str, str], better: str = "att_hslstm",
                   baseline: str = "att_lstm") -> pd.DataFrame:
    """HS-LSTM's advantage by where the expression is shown (``label_mode="segment"``).

    Per run (split x seed) and position: the mean test nMSE of ``baseline``
    minus that of ``better`` over the GIFs of that position (positive favours
    ``better``), and the accuracy difference; paired intervals over runs.
    """
    data = per_gif.assign(position=per_gif["gif_id"].astype(str).map(positions))
    lines = []
    for position in ("early", "middle", "late"):
        subset = data[data["position"] == position]
        means = subset.groupby(["split", "seed", "row"])[["nmse", "correct"]].mean()
        if better not in means.index.get_level_values("row") or \
                baseline not in means.index.get_level_values("row"):
            continue
        a, b = means.xs(better, level="row"), means.xs(baseline, level="row")
        common = a.index.intersection(b.index)
        for metric, sign in (("nmse", -1.0), ("correct", 1.0)):
            d = sign * (a.loc[common, metric].to_numpy() - b.loc[common, metric].to_numpy())
            mean, low, high = paired_interval(d)
            lines.append({"position": position, "metric": "accuracy" if metric == "correct"
                          else "nmse", "gifs": int(len(subset) / max(1, len(means))),
                          "better": float(a[metric].mean()), "baseline": float(b[metric].mean()),
                          "mean": mean, "low": low, "high": high, "runs": len(d),
                          "verdict": _verdict(low, high)})
    return pd.DataFrame(lines)


def sigma_experiment(
    output_dir: str,
    settings,
    *,
    votes: tuple[float, ...] = (3.0, 12.0),
    spread: float = 1.0,
    num_splits: int = 5,
    row: str = "att_lstm",
    jobs: int = 1,
    on_result=None,
) -> pd.DataFrame:
    """Does weighting the loss by TrueSkill's sigma recover the true intensities better?

    For each vote budget: a synthetic benchmark (the true intensities are
    known) whose votes are simulated, ``votes`` per (GIF, emotion) on
    average, unevenly (``votes_spread=spread``) so that sigma varies between
    the emotions of a GIF; ``kavan votes`` turns them into TrueSkill scores
    and sigmas. ``row`` is trained on the scores of each split's training
    GIFs with ``loss.sigma_weights`` off and on (same seed), and evaluated
    against the **true** intensities of its test GIFs, ``jobs`` runs at a time
    (see :func:`kavan_tf.training.evaluation.run_tasks`).

    Returns:
        One line per (votes, split, weighting) with ``nmse``, ``spearman``
        and ``accuracy`` against the truth, and the sigmas' median and
        within-GIF spread.
    """
    from kavan_tf.data.gifgif import votes_to_manifest
    from kavan_tf.data.manifest import read_manifest, sigma_column
    from kavan_tf.experiments.demo import demo_config, synthetic_config
    from kavan_tf.synthetic import generate_dataset
    from kavan_tf.training.evaluation import (
        ROWS_BY_KEY,
        TrainingTask,
        make_splits,
        row_config,
        run_key,
        run_tasks,
    )
    from kavan_tf.training.trainer import with_overrides

    config = demo_config(settings, output_dir)
    lines: list[dict] = []
    reused = 0
    # Finished runs of an earlier call with the same output_dir are reused.
    table_path = os.path.join(output_dir, "sigma_weights.csv")
    earlier: dict[str, dict] = {}
    if os.path.exists(table_path):
        table = pd.read_csv(table_path)
        if "run_key" in table.columns:
            earlier = {str(r["run_key"]): r for r in table.dropna(subset=["run_key"])
                       .to_dict("records")}
    for budget in votes:
        root = os.path.join(output_dir, f"votes{budget:g}")
        synthetic = replace(synthetic_config(settings), votes_per_gif=float(budget),
                            votes_spread=float(spread))
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
        sigmas = voted[[sigma_column(e) for e in config.labels.emotions]].to_numpy()
        runs, tasks = [], []
        for split, (train_idx, test_idx) in enumerate(
                make_splits(len(truth), num_splits, seed=config.train.seed)):
            for weighted in (False, True):
                run = row_config(
                    with_overrides(config, loss={"sigma_weights": weighted},
                                   train={"seed": config.train.seed + split}),
                    ROWS_BY_KEY[row],
                    os.path.join(root, "runs", f"split{split}", "sigma" if weighted else "plain"),
                )
                runs.append({"votes": budget, "split": split, "sigma_weights": weighted})
                tasks.append(TrainingTask(run, voted.iloc[train_idx], truth.iloc[test_idx]))
        keys = [run_key(task) for task in tasks]
        finished = {i: earlier[key] for i, key in enumerate(keys) if key in earlier}
        pending = [i for i in range(len(tasks)) if i not in finished]

        for index in sorted(finished):
            if on_result is not None:
                on_result(finished[index])
        for done, metrics, _ in run_tasks([tasks[i] for i in pending], jobs):
            index = pending[done]
            finished[index] = {**runs[index],
                               **{m: metrics[m] for m in ("nmse", "spearman", "accuracy")},
                               "sigma_median": float(np.median(sigmas)),
                               "sigma_within_gif_std": float(np.mean(sigmas.std(axis=1))),
                               "run_key": keys[index]}
            pd.DataFrame(lines + [finished[i] for i in sorted(finished)]).to_csv(
                table_path, index=False)
            if on_result is not None:
                on_result(finished[index])
        lines += [finished[i] for i in sorted(finished)]
        reused += len(tasks) - len(pending)
    frame = pd.DataFrame(lines)
    frame.attrs["reused_runs"] = reused
    return frame


def sigma_claims(frame: pd.DataFrame) -> pd.DataFrame:
    """Per vote budget: paired differences (weighted minus plain) over splits."""
    lines = []
    for budget, group in frame.groupby("votes", sort=True):
        on = group[group["sigma_weights"]].set_index("split")
        off = group[~group["sigma_weights"]].set_index("split")
        common = on.index.intersection(off.index)
        for metric, sign in (("spearman", 1.0), ("nmse", -1.0), ("accuracy", 1.0)):
            d = sign * (on.loc[common, metric].to_numpy() - off.loc[common, metric].to_numpy())
            mean, low, high = paired_interval(d)
            lines.append({"votes": budget, "metric": metric,
                          "plain": float(off[metric].mean()), "weighted": float(on[metric].mean()),
                          "mean": mean, "low": low, "high": high, "runs": len(d),
                          "verdict": _verdict(low, high),
                          "sigma_median": float(group["sigma_median"].iloc[0]),
                          "sigma_within_gif_std": float(group["sigma_within_gif_std"].iloc[0])})
    return pd.DataFrame(lines)


BENCHMARKS = ("end", "segment")

BENCHMARK_GIFS = {"end": 640, "segment": 1280, "change": 640}
"""GIFs per benchmark: ``segment`` is learnable at this scale with twice the
demo's data only (docs/synthetic.md, the pilots)."""

#: Where an attention run keeps its measurement, for the next call to reuse.
ATTENTION_FILE = "attention_on_faces.json"


def run_results(
    output_dir: str = "runs/results",
    doc_path: str | None = "docs/results.md",
    *,
    num_gifs: int | None = None,
    epochs: int = 10,
    num_splits: int = 5,
    seeds: int = 3,
    benchmarks: tuple[str, ...] = BENCHMARKS,
    baselines: tuple[str, ...] = ("color_histogram", "face_expression"),
    sigma_votes: tuple[float, ...] = (3.0, 12.0),
    attention: bool = True,
    jobs: int = 1,
    command: str = "kavan results",
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs everything on the results page and writes it.

    Args:
        output_dir: Datasets, runs and raw CSVs.
        doc_path: The Markdown page to write (``None``: only ``output_dir``).
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
        "attention", "sigma", "seconds"}``.
    """
    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.experiments.demo import DemoSettings, demo_config, synthetic_config
    from kavan_tf.synthetic import generate_dataset, generate_example
    from kavan_tf.training.evaluation import (
        TrainingTask,
        format_result,
        results_markdown,
        run_key,
        run_protocol,
        summarise,
    )
    from kavan_tf.training.trainer import split_frame, train, with_overrides

    say = on_progress or (lambda line: None)
    began = time.perf_counter()
    tables, claims, timings = {}, {}, {}
    reused = 0
    sizes = {mode: num_gifs or BENCHMARK_GIFS[mode] for mode in (*benchmarks, "end")}
    positions = None
    for index, mode in enumerate(benchmarks):
        started = time.perf_counter()
        settings = DemoSettings(num_gifs=sizes[mode], epochs=epochs, label_mode=mode)
        synthetic = synthetic_config(settings)
        manifest = generate_dataset(os.path.join(output_dir, f"data_{mode}"), synthetic,
                                    progress=True)
        config = demo_config(settings, output_dir)
        rows = read_manifest(manifest, config.labels)
        out = os.path.join(output_dir, f"protocol_{mode}")
        say(f"benchmark {mode!r}: {sizes[mode]} GIFs, {num_splits} splits x {seeds} seeds")
        frame = run_protocol(
            config, rows, out, num_splits=num_splits, seeds=seeds,
            baselines=baselines if index == 0 else (),
            # 512 histogram cells and ~500 training GIFs would make OLS interpolate.
            baseline_options={"color_histogram": {"bins": 4}},
            jobs=jobs, on_result=lambda r: say(format_result(r)),
        )
        reused += frame.attrs.get("reused_runs", 0)
        tables[mode] = results_markdown(summarise(frame), config)
        claims[mode] = claim_table(frame)
        claims[mode].to_csv(os.path.join(out, "claims.csv"), index=False)
        if mode == "segment":
            where = {gif_id: generate_example(synthetic, int(gif_id[3:])).position
                     for gif_id in rows["gif_id"].astype(str)}
            per_gif = pd.read_csv(os.path.join(out, "per_gif.csv"), dtype={"gif_id": str})
            positions = position_table(per_gif, where)
            positions.to_csv(os.path.join(out, "positions.csv"), index=False)
        timings[mode] = time.perf_counter() - started

    attention_frame = None
    if attention:
        started = time.perf_counter()
        settings = DemoSettings(num_gifs=sizes["end"], epochs=epochs)
        synthetic = synthetic_config(settings)
        config = demo_config(settings, output_dir)
        manifest = generate_dataset(os.path.join(output_dir, "data_end"), synthetic)
        attention_rows = []
        dropped = replace(synthetic, keypoint_drop_rate=0.3)
        dropped_manifest = generate_dataset(os.path.join(output_dir, "data_drop30"), dropped)
        for title, w_kp, synth, path in (
            ("keypoint supervision on", config.loss.w_kp, synthetic, manifest),
            ("keypoint supervision off (w_kp = 0)", 0.0, synthetic, manifest),
            ("on, 30 % of keypoints dropped", config.loss.w_kp, dropped, dropped_manifest),
        ):
            data = read_manifest(path, config.labels)
            run_dir = os.path.join(output_dir, "attention", str(len(attention_rows)))
            run = with_overrides(config, loss={"w_kp": w_kp}, train={"output_dir": run_dir})
            train_rows, test_rows = split_frame(data, "train"), split_frame(data, "test")
            # The run's config and data, and the keypoints the data was made
            # with (the targets alone do not tell the two datasets apart).
            key = run_key(TrainingTask(run, train_rows, test_rows)) + "-" + hashlib.sha256(
                json.dumps(asdict(synth), sort_keys=True, default=str).encode()).hexdigest()[:16]

            kept = os.path.join(run_dir, ATTENTION_FILE)
            measured = _kept_measurement(kept, key)
            if measured is not None:
                say(f"attention: reusing the finished run with {title}")
                reused += 1
            else:
                say(f"attention: training with {title} ...")
                model = train(run, train_rows, verbose=0).model
                measured = attention_on_faces(model, test_rows, run, synth)
                atomic_json(kept, {"key": key, "measured": measured})
            attention_rows.append({"setting": title, **measured})
        attention_frame = pd.DataFrame(attention_rows)
        attention_frame.to_csv(os.path.join(output_dir, "attention_on_faces.csv"), index=False)
        timings["attention"] = time.perf_counter() - started

    sigma = None
    if sigma_votes:
        started = time.perf_counter()
        settings = DemoSettings(num_gifs=sizes["end"], epochs=epochs)
        say(f"sigma weights: vote budgets {list(sigma_votes)}")
        frame = sigma_experiment(
            os.path.join(output_dir, "sigma"), settings, votes=tuple(sigma_votes),
            num_splits=num_splits, jobs=jobs,
            on_result=lambda r: say(
                f"votes {r['votes']:g} split {r['split']} sigma_weights={r['sigma_weights']}: "
                f"Spearman {r['spearman']:.3f} nMSE {r['nmse']:.4f}"),
        )
        reused += frame.attrs.get("reused_runs", 0)
        sigma = sigma_claims(frame)
        sigma.to_csv(os.path.join(output_dir, "sigma_claims.csv"), index=False)
        timings["sigma"] = time.perf_counter() - started

    seconds = time.perf_counter() - began
    settings = DemoSettings(num_gifs=sizes["end"], epochs=epochs)
    page = results_page(tables, claims, positions, attention_frame, sigma, settings,
                        num_splits, seeds, seconds, timings, command, reused=reused,
                        sizes={mode: sizes[mode] for mode in benchmarks} or {"end": sizes["end"]})
    if doc_path:
        with open(doc_path, "w", encoding="utf-8") as f:
            f.write(page)
    return {"tables": tables, "claims": claims, "positions": positions,
            "attention": attention_frame, "sigma": sigma, "seconds": seconds}


def _kept_measurement(path: str, key: str) -> dict | None:
    """The measurement an earlier call kept at ``path`` for the same ``key``, if any."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    return saved["measured"] if saved.get("key") == key else None


def _interval(r) -> str:
    return f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"


def _metric_name(metric: str) -> str:
    return {"accuracy": "accuracy", "nmse": "nMSE", "spearman": "Spearman"}.get(metric, metric)


def results_page(tables, claims, positions, attention, sigma, settings, num_splits: int,
                 seeds: int, seconds: float, timings: dict[str, float],
                 command: str = "kavan results", sizes: dict[str, int] | None = None,
                 reused: int = 0) -> str:
    """The Markdown of docs/results.md."""
    spent = ", ".join(f"{name} {value / 60:.0f}" for name, value in timings.items())
    lines = [
        "# Results",
        "",
        f"Reproduce everything on this page with `{command}` (writes this file). This run "
        f"took {seconds / 60:.0f} minutes on the 2-core CPU machine ({spent} minutes)"
        + (f", reusing {reused} finished training runs of an earlier call with the same "
           "`--out`, whose time is not in these figures" if reused else "") + ". "
        "The runtime of a call from scratch, and the raw CSVs: "
        "[results_runs/README.md](results_runs/README.md).",
        "",
        f"Setting: {_sizes_text(sizes or {'end': settings.num_gifs})} synthetic GIFs "
        f"({settings.frame_size} x "
        f"{settings.frame_size}, see [synthetic.md](synthetic.md)); small backbone trained "
        f"from scratch, hidden size {settings.hidden_size}, {settings.epochs} epochs, T = 8; "
        f"{num_splits} seeded 80/20 splits"
        + (f" x {seeds} training seeds = {num_splits * seeds} runs per row" if tables else "")
        + ". The paper's numbers are on GIFGIF (6,119 real GIFs, ResNet-50, ImageNet "
        "weights): **other data**, shown only for the shape of the tables, not for "
        "comparison.",
        "",
    ]
    described = {
        "end": "the emotion is the expression the face ends on (read off the last frames); "
               "the demo's benchmark.",
        "segment": "the expression is shown during one half of the GIF, early, in the middle "
                   "or late (uniformly), and the face is neutral elsewhere; the emotion is that "
                   "expression. A model must find and keep the expressive frames wherever they "
                   "are: the test of HS-LSTM's claim that it keeps early frames an LSTM "
                   "forgets.",
        "change": "the emotion is the direction in which the expression changes.",
    }
    if tables:
        lines += ["The benchmarks:", ""]
        lines += [f"- **`{mode}`**: {described[mode]}" for mode in tables if mode in described]
        missing = [mode for mode in ("end", "segment") if mode not in tables]
        if missing:
            lines.append("- Not run here: " + ", ".join(f"`{m}`" for m in missing)
                         + " (`--benchmarks`).")
        lines.append("")
    lines += [
        "How the claims are judged (fixed before the runs): each claim compares two rows, or "
        "two settings, on the runs they share (same split, same seed). The difference is "
        "signed so that a positive value favours the claim; the table gives its mean and a "
        "95 % t interval over the runs. A claim **holds** when the whole interval is above "
        "0, is **contradicted** when it is below 0, and is **undecided** otherwise.",
        "",
    ]
    lines += _verdict_summary(claims, positions, sigma)
    for mode, table in tables.items():
        lines += [f"## Benchmark `{mode}`", "", table, "### Claims", "",
                  "| claim | metric | difference (favouring the claim) [95 % CI] | runs "
                  "| verdict |", "|---|---|---|---|---|"]
        for _, r in claims[mode].iterrows():
            lines.append(f"| {r['claim']} | {_metric_name(r['metric'])} | {_interval(r)} "
                         f"| {r['runs']} | {r['verdict']} |")
        lines.append("")
        if mode == "segment" and positions is not None and len(positions):
            lines += [
                "### HS-LSTM's advantage by where the expression is",
                "",
                "Soft-Att + HS-LSTM against Soft-Att + LSTM, on the test GIFs whose "
                "expression is early, in the middle or late; mean over runs, and the paired "
                "difference (favouring HS-LSTM) with its 95 % interval.",
                "",
                "| position | metric | test GIFs per run | HS-LSTM | LSTM | difference [95 % CI] "
                "| verdict |",
                "|---|---|---|---|---|---|---|",
            ]
            for _, r in positions.iterrows():
                lines.append(
                    f"| {r['position']} | {_metric_name(r['metric'])} | {r['gifs']} "
                    f"| {r['better']:.3f} | {r['baseline']:.3f} | {_interval(r)} "
                    f"| {r['verdict']} |")
            lines.append("")
    if attention is not None:
        lines += [
            "## Where the attention goes",
            "",
            "Benchmark `end`, MTL Soft-Att + HS-LSTM, one run each. Share of the attention "
            "mass (the masks alpha of Eq. 6) on the grid cells covered by the head, averaged "
            "over the sampled frames of the test split; `uniform` is the head's share of the "
            "frame, what uniform attention would put there.",
            "",
            "| training | attention mass on the face | uniform |",
            "|---|---|---|",
        ]
        for _, r in attention.iterrows():
            lines.append(f"| {r['setting']} | {r['face_mass']:.3f} | {r['uniform_mass']:.3f} |")
        lines.append("")
    if sigma is not None and len(sigma):
        lines += [
            "## Per-label uncertainty: weighting the loss by TrueSkill's sigma",
            "",
            "Benchmark `end` with simulated GIFGIF votes (a Thurstone judge, noise 0.3), "
            "spread unevenly over the (GIF, emotion) pairs (`votes_spread = 1`) so that "
            "sigma varies between the emotions of a GIF; `kavan votes` turns them into "
            "TrueSkill scores and sigmas. Soft-Att + LSTM is trained on the scores with "
            "`loss.sigma_weights` off and on (`w_k = E u_k / sum_j u_j`, `u_k = 1 / "
            "(sigma_k^2 + s0^2)`, s0 = 1 score point), on the same splits and seeds, and "
            "judged against the **true** intensities of the test GIFs, which the votes only "
            "estimate. Difference = weighted minus plain (nMSE: plain minus weighted).",
            "",
            "| votes per (GIF, emotion) | sigma median (within-GIF std) | metric | plain "
            "| sigma-weighted | difference [95 % CI] | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in sigma.iterrows():
            lines.append(
                f"| {r['votes']:g} | {r['sigma_median']:.2f} ({r['sigma_within_gif_std']:.2f}) "
                f"| {_metric_name(r['metric'])} | {r['plain']:.3f} | {r['weighted']:.3f} "
                f"| {_interval(r)} | {r['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def _sizes_text(sizes: dict[str, int]) -> str:
    """``{"end": 640, "segment": 1280}`` -> "640 (`end`) and 1280 (`segment`)"."""
    if len(set(sizes.values())) == 1:
        return f"{next(iter(sizes.values()))} per benchmark" if len(sizes) > 1 else \
            f"{next(iter(sizes.values()))}"
    return " and ".join(f"{n} (`{mode}`)" for mode, n in sizes.items())


def _verdicts(group: pd.DataFrame) -> str:
    """"accuracy holds (+0.232 [+0.194, +0.270]), nMSE undecided (...)"."""
    return ", ".join(f"{_metric_name(r['metric'])} **{r['verdict']}** ({_interval(r)})"
                     for _, r in group.iterrows())


def _verdict_summary(claims, positions, sigma) -> list[str]:
    lines = ["## Which claims hold", "",
             "Each claim's verdict per metric, with its paired difference (favouring the "
             "claim) and 95 % interval; the sections below give the tables.", ""]
    for mode, frame in claims.items():
        for claim, group in frame.groupby("claim", sort=False):
            lines.append(f"- `{mode}`: {claim}: {_verdicts(group)}.")
    if positions is not None and len(positions):
        for position, group in positions.groupby("position", sort=False):
            lines.append(f"- `segment`, expression {position}: HS-LSTM beats LSTM: "
                         f"{_verdicts(group)}.")
    if sigma is not None and len(sigma):
        for budget, group in sigma.groupby("votes", sort=True):
            lines.append(f"- {budget:g} votes: sigma weights recover the true intensities "
                         f"better: {_verdicts(group)}.")
    lines.append("")
    return lines
