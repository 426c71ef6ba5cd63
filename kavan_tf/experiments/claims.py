"""Judging the paper's claims from paired runs: mean differences and t intervals.

Each claim compares two rows (or two settings) on the runs they share (same
split, same seed). The difference is signed so that a positive value favours
the claim; a claim **holds** on a metric when the whole 95 % interval is above
0, is **contradicted** when it is below 0, and is **undecided** otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

#: The paper's claims as paired comparisons: (claim, better row, baseline row).
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("attention beats none (Soft-Att + LSTM vs LSTM)", "att_lstm", "lstm"),
    ("attention beats none (Soft-Att + HS-LSTM vs HS-LSTM)", "att_hslstm", "hslstm"),
    ("HS-LSTM beats LSTM (with Soft-Att)", "att_hslstm", "att_lstm"),
    ("HS-LSTM beats LSTM (without attention)", "hslstm", "lstm"),
    ("MTL beats regression only (MTL Soft-Att + HS-LSTM vs Soft-Att + HS-LSTM)",
     "mtl_att_hslstm", "att_hslstm"),
)
#: The rows with an HS-LSTM, whose claims depend on how HS-LSTM is read.
HS_ROWS = ("hslstm", "att_hslstm", "mtl_att_hslstm")


def hs_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """The lines of a :func:`claim_table` whose claim involves an HS-LSTM row."""
    involved = {claim for claim, better, baseline in CLAIMS
                if better in HS_ROWS or baseline in HS_ROWS}
    return claims[claims["claim"].isin(involved)].reset_index(drop=True)


#: Metric -> +1 when higher is better, -1 when lower is better.
CLAIM_METRICS = {"accuracy": 1.0, "nmse": -1.0, "spearman": 1.0}


def paired_interval(differences: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t interval of paired differences: ``(mean, low, high)``.

    ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)``, with the sample standard
    deviation; ``nan`` bounds for fewer than two differences.
    """
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
                          "high": high, "runs": len(d), "verdict": verdict(low, high)})
    return pd.DataFrame(lines)


def verdict(low: float, high: float) -> str:
    """``"holds"``, ``"contradicted"`` or ``"undecided"`` for an interval of a
    difference that favours the claim when positive."""
    if low > 0:
        return "holds"
    if high < 0:
        return "contradicted"
    return "undecided"


def position_table(per_gif: pd.DataFrame, positions: Mapping[str, str | None],
                   better: str = "att_hslstm", baseline: str = "att_lstm") -> pd.DataFrame:
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
                          "verdict": verdict(low, high)})
    return pd.DataFrame(lines)


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
                          "verdict": verdict(low, high),
                          "sigma_median": float(group["sigma_median"].iloc[0]),
                          "sigma_within_gif_std": float(group["sigma_within_gif_std"].iloc[0])})
    return pd.DataFrame(lines)


#: The vote experiment's claims: (claim, better run, baseline run).
VOTE_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("the vote loss beats score regression", "votes", "regression"),
    ("votes + regression beat score regression", "both", "regression"),
    ("votes + regression beat the vote loss alone", "both", "votes"),
)


def vote_claims(frame: pd.DataFrame) -> pd.DataFrame:
    """Per vote budget and claim: paired differences over the runs (split x seed)
    both ways of training share, for Spearman and nMSE against the truth."""
    lines = []
    for budget, group in frame.groupby("votes", sort=True):
        keyed = group.set_index(["split", "seed", "run"])
        present = set(group["run"])
        for claim, better, baseline in VOTE_CLAIMS:
            if better not in present or baseline not in present:
                continue
            a = keyed.xs(better, level="run")
            b = keyed.xs(baseline, level="run")
            common = a.index.intersection(b.index)
            for metric, sign in (("spearman", 1.0), ("nmse", -1.0)):
                d = sign * (a.loc[common, metric].to_numpy() - b.loc[common, metric].to_numpy())
                mean, low, high = paired_interval(d)
                lines.append({"votes": budget, "claim": claim, "metric": metric,
                              "better": float(a.loc[common, metric].mean()),
                              "baseline": float(b.loc[common, metric].mean()),
                              "mean": mean, "low": low, "high": high, "runs": len(d),
                              "verdict": verdict(low, high)})
    return pd.DataFrame(lines)
