"""The Markdown of docs/results.md, from the tables and verdicts of ``kavan results``."""

from __future__ import annotations

import pandas as pd

from kavan_tf.experiments.demo import DemoSettings


def _interval(r) -> str:
    return f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"


def _metric_name(metric: str) -> str:
    return {"accuracy": "accuracy", "nmse": "nMSE", "spearman": "Spearman"}.get(metric, metric)


def results_page(tables, claims, positions, attention, sigma, settings: DemoSettings,
                 num_splits: int, seeds: int, seconds: float, timings: dict[str, float],
                 command: str = "kavan results", sizes: dict[str, int] | None = None,
                 reused: int = 0, votes: pd.DataFrame | None = None,
                 readings: dict | None = None, earlier: dict | None = None) -> str:
    """The Markdown of docs/results.md.

    Args:
        tables: Per benchmark, the Markdown table of the protocol's rows.
        claims: Per benchmark, :func:`~kavan_tf.experiments.claims.claim_table`.
        positions: :func:`~kavan_tf.experiments.claims.position_table`, or ``None``.
        attention: The attention-on-faces table, or ``None``.
        sigma: :func:`~kavan_tf.experiments.claims.sigma_claims`, or ``None``.
        settings: The demo settings of the ``end`` benchmark.
        num_splits: Splits of the protocol.
        seeds: Training seeds per split and row.
        seconds: The call's time.
        timings: Seconds per experiment.
        command: The command line that reproduces the page.
        sizes: GIFs per benchmark.
        reused: Training runs reused from an earlier call.
        votes: :func:`~kavan_tf.experiments.claims.vote_claims`, or ``None``.
        readings: ``{(benchmark, hs_tier1): (table, HS-LSTM claims)}`` of the
            other HS-LSTM readings run.
        earlier: ``{benchmark: (table, HS-LSTM claims)}`` of the development
            build whose tier 1 restarted at every node, where kept.
    """
    readings, earlier = readings or {}, earlier or {}
    lines = _introduction(tables, settings, num_splits, seeds, seconds, timings, command,
                          sizes or {"end": settings.synthetic.num_gifs}, reused)
    lines += _verdict_summary(claims, positions, sigma, votes, readings, earlier)
    lines += _paper_figures() if tables else []
    for mode, table in tables.items():
        lines += _benchmark_section(mode, table, claims[mode])
        if mode == "segment" and positions is not None and len(positions):
            lines += _positions_section(positions)
    if readings or earlier:
        lines += _readings_section(readings, earlier, list(tables))
    if attention is not None:
        lines += _attention_section(attention)
    if sigma is not None and len(sigma):
        lines += _sigma_section(sigma)
    if votes is not None and len(votes):
        lines += _votes_section(votes)
    return "\n".join(lines)


_DESCRIBED = {
    "end": "the emotion is the expression the face ends on (read off the last frames); "
           "the demo's benchmark.",
    "segment": "the expression is shown during one half of the GIF, early, in the middle "
               "or late (uniformly), and the face is neutral elsewhere; the emotion is that "
               "expression. A model must find and keep the expressive frames wherever they "
               "are: the test of HS-LSTM's claim that it keeps early frames an LSTM "
               "forgets.",
    "change": "the emotion is the direction in which the expression changes.",
}


def _introduction(tables, settings: DemoSettings, num_splits: int, seeds: int, seconds: float,
                  timings: dict[str, float], command: str, sizes: dict[str, int],
                  reused: int) -> list[str]:
    """How the page was made, the setting, the benchmarks and how claims are judged."""
    spent = ", ".join(f"{name} {value / 60:.0f}" for name, value in timings.items())
    width, height = settings.synthetic.frame_size
    model, train = settings.config.model, settings.config.train
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
        f"Setting: {_sizes_text(sizes)} synthetic GIFs ({width} x {height}, see "
        f"[synthetic.md](synthetic.md)); small backbone trained from scratch, hidden size "
        f"{model.hidden_size}, {train.epochs} epochs, T = {model.num_frames}; "
        f"{num_splits} seeded 80/20 splits"
        + (f" x {seeds} training seeds = {num_splits * seeds} runs per row" if tables else "")
        + ". The paper's numbers are on GIFGIF (6,119 real GIFs, ResNet-50, ImageNet "
        "weights): **other data**, shown only for the shape of the tables, not for "
        "comparison.",
        "",
    ]
    if tables:
        lines += ["The benchmarks:", ""]
        lines += [f"- **`{mode}`**: {_DESCRIBED[mode]}" for mode in tables if mode in _DESCRIBED]
        missing = [mode for mode in ("end", "segment") if mode not in tables]
        if missing:
            lines.append("- Not run here: " + ", ".join(f"`{m}`" for m in missing)
                         + " (`--benchmarks`).")
        lines.append("")
    return lines + [
        "How the claims are judged (fixed before the runs): each claim compares two rows, or "
        "two settings, on the runs they share (same split, same seed). The difference is "
        "signed so that a positive value favours the claim; the table gives its mean and a "
        "95 % t interval over the runs. A claim **holds** when the whole interval is above "
        "0, is **contradicted** when it is below 0, and is **undecided** otherwise.",
        "",
    ]


def _benchmark_section(mode: str, table: str, claims: pd.DataFrame) -> list[str]:
    return [f"## Benchmark `{mode}`", "", table, "### Claims", "", *_claims_table(claims)]


def _paper_figures() -> list[str]:
    return [
        "**Which of the paper's figures are quoted.** The paper contradicts itself on two "
        "rows: its Section 4.2 text gives Soft-Att + LSTM 63.55 % and ResNet-50 + HS-LSTM "
        "62.55 %, while its Table 1 gives Soft-Att + LSTM 62.55 % and HS-LSTM 63.55 %. "
        "The tables below quote Table 1.",
        "",
    ]


#: How each reading of HS-LSTM's tier 1 is named on the page (docs/model.md).
_READING_TITLES = {
    "frame": "tier 1 steps once per frame (the default)",
    "node": "tier 1 steps once per node, on the node's mean frame",
}
_DEFAULT_READING = "tier 1 per frame, the default"
_EARLIER_TITLE = ("the development build's reading: tier 1 restarted from zeros at every "
                  "node (not this version's; kept as measured, never trained again)")


def _claims_table(claims: pd.DataFrame) -> list[str]:
    lines = ["| claim | metric | difference (favouring the claim) [95 % CI] | runs "
             "| verdict |", "|---|---|---|---|---|"]
    for _, r in claims.iterrows():
        lines.append(f"| {r['claim']} | {_metric_name(r['metric'])} | {_interval(r)} "
                     f"| {r['runs']} | {r['verdict']} |")
    return lines + [""]


def _readings_section(readings: dict, earlier: dict, benchmarks: list[str]) -> list[str]:
    lines = [
        "## HS-LSTM readings",
        "",
        "The benchmark sections above read HS-LSTM as docs/model.md's default: every "
        "tier carries its state from node to node, and tier 1 steps once per frame. "
        "Here the HS-LSTM rows are read otherwise, on the same splits and seeds, and "
        "judged against the same plain LSTM runs (they do not depend on the reading). "
        "Only the claims that involve an HS-LSTM row are repeated.",
        "",
    ]
    if not readings:
        lines += ["The other reading of this version, tier 1 once per node on the node's "
                  "mean frame (`model.hs_tier1 = \"node\"`), was not run for this page "
                  "(`kavan results --hs-readings node`).", ""]
    missing = [mode for mode in benchmarks if all(mode != m for m, _ in readings)]
    if readings and missing:
        lines += ["Not run with the other reading for this page: "
                  + ", ".join(f"`{m}`" for m in missing) + " (`--readings-on`).", ""]
    for (mode, reading), (table, claims) in readings.items():
        lines += [f"### `{mode}`, {_READING_TITLES.get(reading, reading)}", "", table,
                  *_claims_table(claims)]
    for mode, (table, claims) in earlier.items():
        lines += [f"### `{mode}`, {_EARLIER_TITLE}", "", table, *_claims_table(claims)]
    return lines


def _positions_section(positions: pd.DataFrame) -> list[str]:
    lines = [
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
    return lines


def _attention_section(attention: pd.DataFrame) -> list[str]:
    lines = [
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
    return lines


def _sigma_section(sigma: pd.DataFrame) -> list[str]:
    lines = [
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
    return lines


def _votes_section(votes: pd.DataFrame) -> list[str]:
    lines = [
        "## Learning from the votes themselves",
        "",
        "The sigma experiment's benchmark (`end`, simulated votes spread unevenly). "
        "Soft-Att + LSTM is trained three ways on the same splits and seeds: on the "
        "TrueSkill scores (`regression`), on the votes between training GIFs alone "
        "(`votes`: `loss.w_vote = 1`, `loss.w_rg = 0`, the Thurstone likelihood with its "
        "anchor, docs/model.md#learning-from-the-votes) and on both (`w_vote = w_rg = 1`); "
        "a vote run's epoch is half as many votes as training GIFs, so every run sees as "
        "many GIFs. Judged against the **true** intensities of the test GIFs. "
        "Difference = better minus baseline (nMSE: baseline minus better).",
        "",
        *_vote_budget_note(votes),
        "| votes per (GIF, emotion) | claim | metric | better | baseline "
        "| difference [95 % CI] | runs | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in votes.iterrows():
        lines.append(
            f"| {r['votes']:g} | {r['claim']} | {_metric_name(r['metric'])} "
            f"| {r['better']:.3f} | {r['baseline']:.3f} | {_interval(r)} | {r['runs']} "
            f"| {r['verdict']} |")
    lines.append("")
    return lines


def _vote_budget_note(votes: pd.DataFrame) -> list[str]:
    """What a vote run saw, against what each budget's dump holds."""
    if "votes_per_run" not in votes.columns:
        return []
    dumps = votes.drop_duplicates("votes")
    held = " and ".join(f"{int(r['dump_votes']):,} ({r['votes']:g} votes per (GIF, emotion))"
                        for _, r in dumps.iterrows())
    return [
        f"Equal work is not equal information: a vote run sees "
        f"{int(votes['votes_per_run'].iloc[0]):,} votes in all, while the dumps hold {held} "
        "votes, about 64 % of them between two training GIFs; the regression reads "
        "TrueSkill scores made from all of a budget's votes. The budget therefore changes "
        "the vote runs little, and the comparison is at equal training cost, not equal "
        "data.",
        "",
    ]


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


def _verdict_summary(claims, positions, sigma, votes=None, readings=None,
                     earlier=None) -> list[str]:
    lines = ["## Which claims hold", "",
             "Each claim's verdict per metric, with its paired difference (favouring the "
             "claim) and 95 % interval; the sections below give the tables. A claim that "
             "involves HS-LSTM names the reading it was measured on (docs/model.md, "
             "\"HS-LSTM readings\").", ""]
    for mode, frame in claims.items():
        for claim, group in frame.groupby("claim", sort=False):
            reading = f" ({_DEFAULT_READING})" if "HS-LSTM" in claim else ""
            lines.append(f"- `{mode}`: {claim}{reading}: {_verdicts(group)}.")
    for (mode, reading), (_, frame) in (readings or {}).items():
        for claim, group in frame.groupby("claim", sort=False):
            lines.append(f"- `{mode}`: {claim} (tier 1 per {reading}): {_verdicts(group)}.")
    for mode, (_, frame) in (earlier or {}).items():
        for claim, group in frame.groupby("claim", sort=False):
            lines.append(f"- `{mode}`: {claim} (development build, tier 1 restarted per "
                         f"node): {_verdicts(group)}.")
    if positions is not None and len(positions):
        for position, group in positions.groupby("position", sort=False):
            lines.append(f"- `segment`, expression {position}: HS-LSTM beats LSTM "
                         f"({_DEFAULT_READING}): "
                         f"{_verdicts(group)}.")
    if sigma is not None and len(sigma):
        for budget, group in sigma.groupby("votes", sort=True):
            lines.append(f"- {budget:g} votes: sigma weights recover the true intensities "
                         f"better: {_verdicts(group)}.")
    if votes is not None and len(votes):
        for (budget, claim), group in votes.groupby(["votes", "claim"], sort=False):
            lines.append(f"- {budget:g} votes: {claim} (true intensities): "
                         f"{_verdicts(group)}.")
    lines.append("")
    return lines
