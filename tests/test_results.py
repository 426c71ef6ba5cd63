"""The results page: attention on faces, paired intervals and the claims' verdicts."""

import numpy as np
import pandas as pd
import pytest

from kavan_tf.experiments.claims import claim_table, paired_interval, position_table
from kavan_tf.experiments.face_attention import face_cell_weights


def test_face_cell_weights_cover_the_ellipse():
    everything = face_cell_weights(np.array([31.5, 31.5, 200, 200, 0]), (64, 64), (4, 4))
    np.testing.assert_allclose(everything, 1.0)
    # A circle inside the top-left cell (pixels 0..15) covers only that cell.
    corner = face_cell_weights(np.array([7.5, 7.5, 6, 6, 0]), (64, 64), (4, 4), samples=32)
    assert corner[0, 0] > 0.4 and corner.sum() == corner[0, 0]
    np.testing.assert_allclose(corner[0, 0], np.pi * 36 / 256, atol=0.03)


def test_face_cell_weights_rotation():
    wide = np.array([31.5, 31.5, 30, 4, 0])
    tall = np.array([31.5, 31.5, 30, 4, 90])
    a = face_cell_weights(wide, (64, 64), (4, 4), samples=16)
    b = face_cell_weights(tall, (64, 64), (4, 4), samples=16)
    np.testing.assert_allclose(a, b.T, atol=1e-6)


def test_paired_interval_is_the_t_interval():
    mean, low, high = paired_interval(np.array([1.0, 2.0, 3.0]))
    # mean 2, sd 1, t(0.975, 2) = 4.302653: 2 -+ 4.302653 / sqrt(3).
    assert mean == 2.0
    assert low == pytest.approx(2.0 - 2.484138, abs=1e-5)
    assert high == pytest.approx(2.0 + 2.484138, abs=1e-5)
    assert np.isnan(paired_interval(np.array([1.0]))[1])


def _runs(values_a, values_b, metric="nmse"):
    lines = []
    for i, (a, b) in enumerate(zip(values_a, values_b, strict=True)):
        for row, value in (("a", a), ("b", b)):
            lines.append({"split": i // 2, "seed": i % 2, "row": row, "accuracy": value,
                          "nmse": value, "spearman": value})
    return pd.DataFrame(lines)


def test_claims_are_signed_to_favour_the_claim():
    frame = _runs([0.5, 0.52, 0.49, 0.51], [0.6, 0.61, 0.58, 0.62])
    table = claim_table(frame, claims=[("a beats b", "a", "b")]).set_index("metric")
    # Lower nMSE is better: a's nMSE is lower, so the claim holds on nMSE ...
    assert table.loc["nmse", "verdict"] == "holds" and table.loc["nmse", "mean"] > 0
    # ... and the same numbers as accuracies contradict it.
    assert table.loc["accuracy", "verdict"] == "contradicted"
    assert (table["runs"] == 4).all()
    noisy = claim_table(_runs([0.5, 0.7, 0.4, 0.6], [0.6, 0.5, 0.55, 0.52]),
                        claims=[("a beats b", "a", "b")])
    assert set(noisy["verdict"]) == {"undecided"}


def test_position_table_splits_the_test_gifs_by_position():
    lines = []
    for split in range(3):
        for gif, position in (("syn0", "early"), ("syn1", "late")):
            # "better" wins on early GIFs only.
            better = 0.3 if position == "early" else 0.5
            lines += [{"split": split, "seed": 0, "row": "att_hslstm", "gif_id": gif,
                       "nmse": better + 0.01 * split, "correct": 1},
                      {"split": split, "seed": 0, "row": "att_lstm", "gif_id": gif,
                       "nmse": 0.5 + 0.02 * split, "correct": 0}]
    table = position_table(pd.DataFrame(lines), {"syn0": "early", "syn1": "late"})
    nmse = table[table["metric"] == "nmse"].set_index("position")
    assert nmse.loc["early", "verdict"] == "holds"
    assert nmse.loc["early", "mean"] == pytest.approx(0.2 + 0.01, abs=1e-9)
    assert nmse.loc["late", "verdict"] == "undecided"
    assert "middle" not in nmse.index


def test_results_page_states_each_verdict():
    from kavan_tf.experiments.claims import sigma_claims
    from kavan_tf.experiments.demo import DemoSettings
    from kavan_tf.experiments.results_page import results_page

    claims = claim_table(_runs([0.5, 0.52, 0.49, 0.51], [0.6, 0.61, 0.58, 0.62]),
                         claims=[("a beats b", "a", "b")])
    sigma = sigma_claims(pd.DataFrame([
        {"votes": 3.0, "split": s, "sigma_weights": w, "nmse": 0.9 - 0.05 * w + 0.01 * s,
         "spearman": 0.5 + 0.05 * w + 0.01 * s, "accuracy": 0.5, "sigma_median": 6.0,
         "sigma_within_gif_std": 1.5}
        for s in range(3) for w in (False, True)]))
    page = results_page({"end": "TABLE"}, {"end": claims}, None, None, sigma, DemoSettings(),
                        3, 1, 120.0, {"end": 60.0, "sigma": 60.0},
                        command="kavan results --seeds 1")
    assert "`kavan results --seeds 1`" in page and "TABLE" in page
    summary = page[page.index("## Which claims hold"):page.index("## Benchmark `end`")]
    end_line = next(line for line in summary.splitlines() if line.startswith("- `end`: a beats b"))
    assert [part.split(" (")[0] for part in end_line.split(": ", 2)[2].split("), ")] == [
        "accuracy **contradicted**", "nMSE **holds**", "Spearman **contradicted**"]
    mean, low, high = (claims.loc[claims["metric"] == "nmse", c].item()
                       for c in ("mean", "low", "high"))
    assert f"nMSE **holds** ({mean:+.3f} [{low:+.3f}, {high:+.3f}])" in end_line
    votes_line = next(line for line in summary.splitlines() if line.startswith("- 3 votes"))
    assert "sigma weights recover the true intensities better: Spearman **holds**" in votes_line
    assert "nMSE **holds**" in votes_line and "accuracy **undecided**" in votes_line


@pytest.mark.slow
def test_attention_runs_are_reused_when_run_again(tmp_path):
    """A second ``kavan results`` in the same folder reuses the attention runs
    (and their measurements) instead of training them again."""
    from kavan_tf.experiments.results import run_results

    settings = {"num_gifs": 6, "epochs": 1, "num_splits": 2, "seeds": 1, "benchmarks": (),
                "sigma_votes": (), "attention": True}
    lines: list[str] = []
    first = run_results(str(tmp_path), None, on_progress=lines.append, **settings)
    assert sum("attention: training with" in line for line in lines) == 3
    assert (first["attention"]["face_mass"] >= 0).all()
    lines.clear()
    again = run_results(str(tmp_path), None, on_progress=lines.append, **settings)
    assert not any("training with" in line for line in lines)
    assert sum("attention: reusing" in line for line in lines) == 3
    pd.testing.assert_frame_equal(first["attention"], again["attention"])


@pytest.mark.slow
def test_another_hs_lstm_reading_trains_only_the_hs_lstm_rows(tmp_path):
    """``hs_readings`` runs the HS-LSTM rows again with tier 1 per node, reuses
    the plain LSTM runs, and the page states which reading each verdict is for."""
    from kavan_tf.experiments.claims import HS_ROWS
    from kavan_tf.experiments.results import run_results

    doc = tmp_path / "results.md"
    lines: list[str] = []
    out = run_results(str(tmp_path / "runs"), str(doc), num_gifs=8, epochs=1, num_splits=2,
                      seeds=1, benchmarks=("end",), baselines=(), sigma_votes=(),
                      attention=False, hs_readings=("node",), on_progress=lines.append)
    node = pd.read_csv(tmp_path / "runs" / "protocol_end_tier1_node" / "results_per_split.csv")
    default = pd.read_csv(tmp_path / "runs" / "protocol_end" / "results_per_split.csv")
    same = node.merge(default, on=["split", "seed", "row"], suffixes=("_node", ""))
    plain = same[~same["row"].isin(HS_ROWS)]
    hs = same[same["row"].isin(HS_ROWS)]
    assert len(plain) == 4 and len(hs) == 6
    assert (plain["run_key_node"] == plain["run_key"]).all()
    assert (plain["nmse_node"] == plain["nmse"]).all()
    assert (hs["run_key_node"] != hs["run_key"]).all()
    claims = out["readings"][("end", "node")][1]
    assert set(claims["claim"]) == {c for c in claims["claim"] if "HS-LSTM" in c} and len(claims)
    page = doc.read_text()
    summary = page[page.index("## Which claims hold"):page.index("## Benchmark `end`")]
    assert "HS-LSTM beats LSTM (with Soft-Att) (tier 1 per node):" in summary
    assert "HS-LSTM beats LSTM (with Soft-Att) (tier 1 per frame, the default):" in summary
    assert "### `end`, tier 1 steps once per node" in page
    assert "Section 4.2" in page and "quote Table 1" in page
    # Each row's size beside its result; HS-LSTM's temporal module is the larger.
    table = page[page.index("## Benchmark `end`"):]
    sizes = {line.split(" | ")[0].strip("| "): int(line.split(" | ")[3].replace(",", ""))
             for line in table.splitlines()[:12] if line.startswith("| Soft-Att")}
    assert sizes["Soft-Att + HS-LSTM"] > sizes["Soft-Att + LSTM"] > 0


def test_the_page_names_the_command_that_reproduces_it():
    from kavan_tf.cli import build_parser
    from kavan_tf.cli.results import _results_command

    words = ["results", "--benchmarks", "end", "segment", "--sigma-votes", "3",
             "--vote-budgets", "3", "12", "--hs-readings", "node", "--readings-on", "end",
             "--jobs", "2"]
    command = _results_command(build_parser().parse_args(words))
    assert command == ("kavan results --epochs 10 --splits 5 --seeds 3 --benchmarks end segment "
                       "--sigma-votes 3 --vote-budgets 3 12 --hs-readings node --readings-on end "
                       "--jobs 2")
    again = build_parser().parse_args(command.split()[1:])
    assert (again.hs_readings, again.readings_on) == (["node"], ["end"])


def test_a_reading_on_a_benchmark_not_run_is_refused_before_any_training(tmp_path):
    from kavan_tf.experiments.results import run_results

    with pytest.raises(ValueError, match=r"readings_on=\['segment'\].*benchmarks=\['end'\]"):
        run_results(str(tmp_path), None, benchmarks=("end",), hs_readings=("node",),
                    readings_on=("segment",))
    assert not any(tmp_path.iterdir())
