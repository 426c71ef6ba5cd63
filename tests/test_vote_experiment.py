"""The vote-training experiment: claims from paired runs, and its plumbing at a tiny size."""

import pandas as pd
import pytest

from kavan_tf.experiments.claims import vote_claims


def _lines(better_by):
    return pd.DataFrame([
        {"votes": 3.0, "split": s, "seed": k, "run": run,
         "spearman": 0.5 + better_by.get(run, 0.0) + 0.01 * s - 0.003 * k,
         "nmse": 0.9 - better_by.get(run, 0.0) + 0.02 * s, "accuracy": 0.5}
        for s in range(3) for k in range(2) for run in ("regression", "votes", "both")])


def test_vote_claims_pair_runs_by_split_and_seed():
    table = vote_claims(_lines({"votes": 0.05, "both": -0.02}))
    verdicts = {(r["claim"], r["metric"]): r["verdict"] for _, r in table.iterrows()}
    assert verdicts == {
        ("the vote loss beats score regression", "spearman"): "holds",
        ("the vote loss beats score regression", "nmse"): "holds",
        ("votes + regression beat score regression", "spearman"): "contradicted",
        ("votes + regression beat score regression", "nmse"): "contradicted",
        ("votes + regression beat the vote loss alone", "spearman"): "contradicted",
        ("votes + regression beat the vote loss alone", "nmse"): "contradicted",
    }
    assert (table["runs"] == 6).all()
    row = table[(table["claim"] == "the vote loss beats score regression")
                & (table["metric"] == "spearman")].iloc[0]
    assert row["mean"] == pytest.approx(0.05) and row["better"] - row["baseline"] == \
        pytest.approx(0.05)


@pytest.mark.slow
def test_vote_experiment_runs_and_states_its_verdicts(tmp_path):
    """40 GIFs, 1 epoch, 2 splits, 1 seed, one vote budget: the plumbing, not a result."""
    from kavan_tf.experiments.demo import DemoSettings
    from kavan_tf.experiments.results import run_results
    from kavan_tf.experiments.vote_training import vote_experiment

    settings = {"num_gifs": 40, "epochs": 1, "num_splits": 2, "seeds": 1, "benchmarks": (),
                "sigma_votes": (), "vote_budgets": (3.0,), "attention": False}
    doc = tmp_path / "results.md"
    lines: list[str] = []
    out = run_results(str(tmp_path / "runs"), str(doc), on_progress=lines.append, **settings)
    runs = pd.read_csv(tmp_path / "runs" / "votes" / "vote_training.csv")
    assert sorted(runs["run"]) == sorted(["regression", "votes", "both"] * 2)
    assert runs[["spearman", "nmse"]].notna().all().all()
    verdicts = out["votes"]
    assert len(verdicts) == 6 and set(verdicts["runs"]) == {2}
    page = doc.read_text()
    assert "## Learning from the votes themselves" in page
    for _, r in verdicts.iterrows():
        assert f"| {r['claim']} |" in page and f"**{r['verdict']}**" in page
    assert sum(line.startswith("votes 3 split") for line in lines) == 6
    # Called again on the same folder, every run is reused, none trained.
    again = vote_experiment(str(tmp_path / "runs" / "votes"), DemoSettings().with_overrides(
        synthetic={"num_gifs": 40}, train={"epochs": 1}), votes=(3.0,), num_splits=2, seeds=1)
    assert again.attrs["reused_runs"] == 6
    pd.testing.assert_frame_equal(again.reset_index(drop=True), runs, check_dtype=False)
