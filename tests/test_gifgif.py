"""Tests for the GIFGIF vote dump -> TrueSkill -> manifest path.

The decisions: docs/decisions.md#gifgif-votes-and-trueskill-scores.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from kavan_tf.config import LabelConfig
from kavan_tf.data.gifgif import rate_votes, ratings_to_frame, votes_to_manifest
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.trueskill import (
    TrueSkillParams,
    TrueSkillRatings,
    rate_1vs1,
    vote_waves,
)
from kavan_tf.data.vote_dump import VoteReport
from kavan_tf.errors import ManifestError, VoteFileError
from kavan_tf.labels import EMOTIONS

SIGMA0 = 25.0 / 3.0
HEADER = "metric,left,right,choice"

# --- An independent, literal implementation of GIFGIF's TrueSkill -----------------------

_N = NormalDist()


def _cdf(x):
    # NormalDist.cdf is 0.5 * (1 + erf(.)), which loses digits in the lower tail.
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


_BETA2 = SIGMA0**2 / 4.0
_TAU2 = SIGMA0**2 / 10000.0
_MARGIN = _N.inv_cdf((0.13 + 1.0) / 2.0) * math.sqrt(2.0 * _BETA2 + 2.0 * SIGMA0**2)


def reference_rate(mu_a, sigma_a, mu_b, sigma_b, drawn):
    """Herbrich et al. 2007, two players, ``a`` the winner unless drawn; sigmas in/out."""
    var_a = sigma_a**2 + _TAU2
    var_b = sigma_b**2 + _TAU2
    c2 = 2.0 * _BETA2 + var_a + var_b
    c = math.sqrt(c2)
    t = (mu_a - mu_b) / c
    e = _MARGIN / c
    if drawn:
        den = _cdf(e - t) - _cdf(-e - t)
        v = (_N.pdf(-e - t) - _N.pdf(e - t)) / den
        w = v * v + ((e - t) * _N.pdf(e - t) + (e + t) * _N.pdf(e + t)) / den
    else:
        x = t - e
        v = _N.pdf(x) / _cdf(x)
        w = v * (v + x)
    return (
        mu_a + var_a / c * v,
        math.sqrt(var_a * (1.0 - var_a / c2 * w)),
        mu_b - var_b / c * v,
        math.sqrt(var_b * (1.0 - var_b / c2 * w)),
    )


def reference_scores(votes, emotions=EMOTIONS):
    """Scores a list of ``(metric, left, right, choice)`` votes, all valid, in order."""
    ratings: dict[tuple[str, str], tuple[float, float]] = {}
    for metric, left, right, choice in votes:
        a, b = (right, left) if choice == "right" else (left, right)
        ra = ratings.get((a, metric), (25.0, SIGMA0))
        rb = ratings.get((b, metric), (25.0, SIGMA0))
        mu_a, s_a, mu_b, s_b = reference_rate(*ra, *rb, choice in ("neither", "both"))
        ratings[(a, metric)] = (mu_a, s_a)
        ratings[(b, metric)] = (mu_b, s_b)
    return ratings


def random_votes(rng, num_votes, num_gifs, emotions=EMOTIONS[:3]):
    ids = [f"g{k:03d}" for k in range(num_gifs)]
    votes = []
    for _ in range(num_votes):
        left, right = rng.choice(len(ids), 2, replace=False)
        choice = rng.choice(
            ["left", "right", "neither", "equal", "both"], p=[0.4, 0.4, 0.1, 0.05, 0.05]
        )
        votes.append((str(rng.choice(emotions)), ids[left], ids[right], str(choice)))
    return votes


def write_dump(path, lines, compress=False):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)
    return str(path)


def vote_lines(votes):
    return [HEADER] + [",".join(v) for v in votes]


# --- TrueSkill math --------------------------------------------------------------------


def test_params_are_gifgifs():
    p = TrueSkillParams()
    assert p.mu0 == 25.0 and p.sigma0 == pytest.approx(SIGMA0)
    assert p.beta**2 == pytest.approx(SIGMA0**2 / 4)
    assert p.tau**2 == pytest.approx(SIGMA0**2 / 10000)
    assert p.draw_margin == pytest.approx(_MARGIN, rel=1e-12)


@pytest.mark.parametrize(
    "bad", [{"sigma0": 0.0}, {"beta": -1.0}, {"tau": -0.1}, {"draw_probability": 1.0}]
)
def test_params_reject_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrueSkillParams(**bad)


@pytest.mark.parametrize("drawn", [False, True])
@pytest.mark.parametrize(
    "mu_a, sigma_a, mu_b, sigma_b",
    [(25, SIGMA0, 25, SIGMA0), (30, 2.0, 20, 5.0), (10, 1.0, 40, 1.5), (45, 3.0, 5, 0.5)],
)
def test_rate_1vs1_matches_reference(mu_a, sigma_a, mu_b, sigma_b, drawn):
    got = rate_1vs1(mu_a, sigma_a**2, mu_b, sigma_b**2, drawn, TrueSkillParams())
    want = reference_rate(mu_a, sigma_a, mu_b, sigma_b, drawn)
    np.testing.assert_allclose(
        [got[0], math.sqrt(got[1]), got[2], math.sqrt(got[3])], want, rtol=1e-10, atol=1e-10
    )


def test_draw_between_equals_keeps_means():
    mu_a, s2_a, mu_b, s2_b = rate_1vs1(25.0, SIGMA0**2, 25.0, SIGMA0**2, True, TrueSkillParams())
    assert mu_a == pytest.approx(25.0) and mu_b == pytest.approx(25.0)
    assert s2_a < SIGMA0**2 and s2_b == pytest.approx(s2_a)


def test_win_moves_means_apart():
    mu_w, _, mu_l, _ = rate_1vs1(25.0, SIGMA0**2, 25.0, SIGMA0**2, False, TrueSkillParams())
    assert mu_w > 25.0 > mu_l
    assert mu_w - 25.0 == pytest.approx(25.0 - mu_l)


def _random_arrays(rng, num_ratings, num_votes, draw_rate=0.2):
    a = rng.integers(0, num_ratings, num_votes)
    b = (a + rng.integers(1, num_ratings, num_votes)) % num_ratings
    return a, b, rng.random(num_votes) < draw_rate


@pytest.mark.parametrize("method", ["sequential", "waves"])
def test_sequence_matches_reference(method):
    rng = np.random.default_rng(1)
    a, b, d = _random_arrays(rng, 20, 600)
    ratings = TrueSkillRatings(20)
    ratings.apply(a, b, d, method=method)
    state = [(25.0, SIGMA0)] * 20
    for i, j, drawn in zip(a, b, d, strict=True):
        mu_i, s_i, mu_j, s_j = reference_rate(*state[i], *state[j], drawn)
        state[i], state[j] = (mu_i, s_i), (mu_j, s_j)
    np.testing.assert_allclose(ratings.mu, [s[0] for s in state], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ratings.sigma, [s[1] for s in state], rtol=0, atol=1e-9)


def test_matches_trueskill_package():
    import trueskill  # test extra: an independent implementation
    p = TrueSkillParams()
    draw_probability = 2 * _N.cdf(p.draw_margin / (math.sqrt(2) * p.beta)) - 1
    assert draw_probability == pytest.approx(0.2856, abs=1e-4)
    env = trueskill.TrueSkill(
        mu=25.0, sigma=SIGMA0, beta=SIGMA0 / 2, tau=SIGMA0 / 100, draw_probability=draw_probability
    )
    rng = np.random.default_rng(2)
    a, b, d = _random_arrays(rng, 30, 800)
    players = [env.create_rating() for _ in range(30)]
    for i, j, drawn in zip(a, b, d, strict=True):
        players[i], players[j] = trueskill.rate_1vs1(
            players[i], players[j], drawn=bool(drawn), env=env
        )
    ratings = TrueSkillRatings(30)
    ratings.apply(a, b, d)
    np.testing.assert_allclose(ratings.mu, [r.mu for r in players], rtol=0, atol=3e-6)
    np.testing.assert_allclose(ratings.sigma, [r.sigma for r in players], rtol=0, atol=3e-6)


def test_vote_waves_by_hand():
    waves = vote_waves(np.array([0, 2, 1, 0, 4]), np.array([1, 3, 2, 3, 5]), 6)
    np.testing.assert_array_equal(waves, [0, 0, 1, 1, 0])


def test_waves_keep_order_and_disjoint_ratings():
    rng = np.random.default_rng(3)
    a, b, _ = _random_arrays(rng, 50, 2000)
    waves = vote_waves(a, b, 50)
    for k in np.unique(waves):
        members = np.concatenate([a[waves == k], b[waves == k]])
        assert len(set(members.tolist())) == len(members)
    for r in range(50):
        touched = waves[(a == r) | (b == r)]
        assert np.all(np.diff(touched) > 0)


def test_large_waves_equal_sequential_across_calls():
    # Many ratings make waves far larger than the scalar cut-off: the
    # vectorised path, with draws, must equal the plain loop.
    rng = np.random.default_rng(4)
    a, b, d = _random_arrays(rng, 3000, 20000, draw_rate=0.3)
    seq = TrueSkillRatings(3000)
    seq.apply(a, b, d, method="sequential")
    waves = TrueSkillRatings(3000)
    for part in np.array_split(np.arange(20000), 3):
        waves.apply(a[part], b[part], d[part], method="waves")
    assert waves.num_waves < 200
    np.testing.assert_allclose(waves.mu, seq.mu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(waves.sigma, seq.sigma, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["sequential", "waves"])
def test_extreme_mismatch_stays_finite(method):
    ratings = TrueSkillRatings(400)
    ratings.mu[:200] = -500.0
    ratings.mu[200:] = 500.0
    # The much weaker rating wins (v -> -x), and the two draw far apart.
    a = np.arange(200)
    b = np.arange(200, 400)
    ratings.apply(a, b, np.arange(200) % 2 == 0, method=method)
    assert np.all(np.isfinite(ratings.mu)) and np.all(ratings.sigma > 0)
    assert np.all(ratings.mu[:200] > -500.0) and np.all(ratings.mu[200:] < 500.0)


def test_grow_starts_new_ratings_at_the_prior():
    ratings = TrueSkillRatings(2)
    ratings.apply(np.array([0]), np.array([1]), np.array([False]))
    ratings.grow(5000)
    assert ratings.mu[0] > 25.0
    np.testing.assert_array_equal(ratings.mu[2:], 25.0)
    np.testing.assert_allclose(ratings.sigma[2:], SIGMA0)


@pytest.mark.parametrize(
    "winner, loser, draw, method, match",
    [
        ([0, 1], [1], [False, False], "waves", "one length"),
        ([0], [5], [False], "waves", "out of range"),
        ([-1], [0], [False], "waves", "out of range"),
        ([2], [2], [False], "waves", "against itself"),
        ([0], [1], [False], "magic", "method"),
    ],
)
def test_apply_rejects_bad_votes(winner, loser, draw, method, match):
    with pytest.raises(ValueError, match=match):
        TrueSkillRatings(3).apply(np.array(winner), np.array(loser), np.array(draw), method=method)


# --- Reading dumps ---------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["votes.csv", "votes.csv.gz"])
def test_scores_match_reference_gzip_detected_by_magic(tmp_path, compress, name):
    votes = random_votes(np.random.default_rng(5), 300, 12)
    path = write_dump(tmp_path / name, vote_lines(votes), compress=compress)
    rated = rate_votes(path, chunk_size=37)
    want = reference_scores(votes)
    index = {gid: k for k, gid in enumerate(rated.gif_ids)}
    for (gid, metric), (mu, sigma) in want.items():
        k = EMOTIONS.index(metric)
        assert rated.mu[index[gid], k] == pytest.approx(mu, abs=1e-9)
        assert rated.sigma[index[gid], k] == pytest.approx(sigma, abs=1e-9)
    # Emotions never voted on stay at the prior.
    np.testing.assert_array_equal(rated.mu[:, 3:], 25.0)
    np.testing.assert_allclose(rated.sigma[:, 3:], SIGMA0)
    assert rated.report.votes_applied == rated.report.total_rows == 300
    assert rated.report.draws == sum(v[3] in ("neither", "both") for v in votes)
    assert rated.n_votes.sum() == 600


def test_chunking_and_method_do_not_change_results(tmp_path):
    votes = random_votes(np.random.default_rng(6), 500, 8, emotions=EMOTIONS)
    path = write_dump(tmp_path / "v.csv", vote_lines(votes))
    one = rate_votes(path, chunk_size=100_000, method="sequential")
    many = rate_votes(path, chunk_size=7, method="waves")
    assert one.gif_ids == many.gif_ids
    np.testing.assert_allclose(one.mu, many.mu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(one.sigma, many.sigma, rtol=0, atol=1e-10)


def test_equal_is_a_left_win_and_both_a_draw(tmp_path):
    lines = [HEADER, "anger,a,b,left", "anger,c,d,equal", "fear,a,b,neither", "fear,c,d,both"]
    rated = rate_votes(write_dump(tmp_path / "v.csv", lines))
    mu = dict(zip(rated.gif_ids, rated.mu, strict=True))
    anger, fear = EMOTIONS.index("anger"), EMOTIONS.index("fear")
    assert mu["c"][anger] == mu["a"][anger] > 25.0 > mu["d"][anger] == mu["b"][anger]
    assert mu["a"][fear] == mu["c"][fear] == pytest.approx(25.0)
    assert rated.report.draws == 2


def test_names_are_matched_loosely_and_header_order_is_free(tmp_path):
    lines = ["Choice , Right,left,METRIC,extra", " LEFT ,b, a ,Anger,x", "right,b,a,anger,y"]
    rated = rate_votes(write_dump(tmp_path / "v.csv", lines))
    assert rated.report.votes_applied == 2
    assert rated.gif_ids == ["a", "b"]
    anger = EMOTIONS.index("anger")
    # `a` is left: it won the first vote and lost the second.
    want = reference_scores([("anger", "a", "b", "left"), ("anger", "a", "b", "right")])
    assert rated.mu[0, anger] == pytest.approx(want[("a", "anger")][0], abs=1e-12)


def test_bad_rows_are_skipped_and_counted(tmp_path, caplog):
    lines = [
        "\ufeff" + HEADER,
        "anger,a,b,left",
        "anger,,b,left",  # empty id
        "anger,a, ,right",  # empty id
        "anger,a,b,maybe",  # unknown choice
        "boredom,a,b,left",  # unknown emotion
        "anger,a,b",  # too few columns
        "anger,a,b,left,extra",  # too many columns
        "anger,a,a,left",  # self vote
        "",  # blank: ignored
        'anger,"' + "x" * 200_000 + '",b,left',  # over the csv field limit
        "fear,b,c,neither",
    ]
    with caplog.at_level(logging.WARNING, logger="kavan_tf.data.vote_dump"):
        rated = rate_votes(write_dump(tmp_path / "v.csv", lines, compress=True))
    report = rated.report
    assert report.skipped == {
        "malformed": 1,
        "wrong_columns": 2,
        "empty_id": 2,
        "unknown_emotion": 1,
        "unknown_choice": 1,
        "self_vote": 1,
    }
    assert report.total_rows == 10
    assert report.votes_applied == 2
    assert report.rows_skipped == 8
    assert rated.gif_ids == ["a", "b", "c"]
    np.testing.assert_array_equal(rated.n_votes, [1, 2, 1])
    assert "unknown_choice" in caplog.text and "v.csv" in caplog.text
    assert "8 skipped" in report.summary()


def test_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.csv.gz"
    with pytest.raises(VoteFileError, match="nope.csv.gz.*not found"):
        rate_votes(missing)


@pytest.mark.parametrize(
    "lines, match",
    [
        ([], "empty file"),
        (["anger,a,b,left"], "missing"),
        (["metric,left,right,winner", "anger,a,b,left"], r"missing \['choice'\]"),
    ],
)
def test_bad_header_is_an_error(tmp_path, lines, match):
    path = tmp_path / "votes.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(VoteFileError, match=match) as info:
        rate_votes(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_is_an_error(tmp_path):
    data = gzip.compress(
        ("\n".join(vote_lines(random_votes(np.random.default_rng(7), 2000, 9)))).encode()
    )
    path = tmp_path / "votes.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VoteFileError, match="votes.csv.gz"):
        rate_votes(path)


def test_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_bytes(HEADER.encode() + b"\nanger,\xff\xfe,b,left\n")
    # Text is decoded ahead of the CSV reader: the line it had reached, from 1.
    with pytest.raises(VoteFileError, match=r"not UTF-8 text at or after line [12]:"):
        rate_votes(path)
    # A .gz name on data that is not gzip says so.
    named = tmp_path / "votes.csv.gz"
    named.write_bytes(b"\xff\xfe" + bytes(range(256)))
    with pytest.raises(VoteFileError, match="the data is not gzip"):
        rate_votes(named)


# --- Manifest output -------------------------------------------------------------------


def _small_dump(tmp_path, compress=False):
    votes = [
        ("anger", "a", "b", "left"),
        ("anger", "b", "c", "right"),
        ("fear", "a", "c", "neither"),
        ("happiness", "d", "a", "left"),
        ("happiness", "c", "a", "both"),
    ]
    return votes, write_dump(tmp_path / "votes.csv", vote_lines(votes), compress=compress)


@pytest.mark.parametrize("compress", [False, True])
def test_votes_to_manifest_writes_all_columns(tmp_path, compress):
    votes, dump = _small_dump(tmp_path, compress)
    out = tmp_path / "out" / "manifest.csv"
    report = votes_to_manifest(dump, out, progress=False)
    assert isinstance(report, VoteReport) and report.output_path == str(out)
    assert report.gifs_rated == report.gifs_written == 4
    raw = pd.read_csv(out, dtype={"gif_id": str})
    sigmas = [f"{e}_sigma" for e in EMOTIONS]
    assert list(raw.columns) == ["gif_id", "path", *EMOTIONS, *sigmas, "n_votes"]
    assert list(raw["gif_id"]) == ["a", "b", "c", "d"]
    assert list(raw["path"]) == ["a.gif", "b.gif", "c.gif", "d.gif"]
    assert list(raw["n_votes"]) == [4, 2, 3, 1]
    want = reference_scores(votes)
    for (gid, metric), (mu, sigma) in want.items():
        row = raw.set_index("gif_id").loc[gid]
        assert row[metric] == pytest.approx(mu, abs=1e-12)
        assert row[f"{metric}_sigma"] == pytest.approx(sigma, abs=1e-12)
    assert (raw.set_index("gif_id").loc["d", ["anger", "fear", "surprise"]] == 25.0).all()
    frame = read_manifest(out)
    assert frame["path"].iloc[0] == os.path.join(str(tmp_path / "out"), "a.gif")


def test_images_dir_min_votes_and_drop_missing(tmp_path):
    _, dump = _small_dump(tmp_path)
    images = tmp_path / "gifs"
    images.mkdir()
    for gid in ("a", "b"):
        (images / f"{gid}.gif").write_bytes(b"GIF89a")
    out = tmp_path / "data" / "manifest.csv"
    report = votes_to_manifest(dump, out, images_dir=images, progress=False)
    assert report.gifs_missing_file == 2 and report.gifs_written == 4
    raw = pd.read_csv(out)
    assert raw["path"].iloc[0] == os.path.join("..", "gifs", "a.gif")
    assert read_manifest(out)["path"].iloc[0] == str(images / "a.gif")

    report = votes_to_manifest(
        dump, out, images_dir=images, min_votes=2, drop_missing=True, progress=False
    )
    # d (1 vote) fails min_votes first; c has no file.
    assert report.gifs_below_min_votes == 1
    assert report.gifs_missing_file == 1
    assert report.gifs_written == 2
    assert list(read_manifest(out)["gif_id"]) == ["a", "b"]


def test_no_gif_left_is_an_error(tmp_path):
    _, dump = _small_dump(tmp_path)
    with pytest.raises(ManifestError, match="no GIF left"):
        votes_to_manifest(dump, tmp_path / "m.csv", min_votes=100, progress=False)
    assert not (tmp_path / "m.csv").exists()


def test_bad_options(tmp_path):
    _, dump = _small_dump(tmp_path)
    rated = rate_votes(dump)
    with pytest.raises(ValueError, match="min_votes"):
        ratings_to_frame(rated, min_votes=-1)
    with pytest.raises(ValueError, match="images_dir"):
        ratings_to_frame(rated, drop_missing=True)
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        ratings_to_frame(rated, images_dir=tmp_path / "no-such-dir")
    with pytest.raises(ValueError, match="images_dir"):
        votes_to_manifest(dump, tmp_path / "m.csv", drop_missing=True, progress=False)


def test_parquet_needs_pyarrow(tmp_path):
    _, dump = _small_dump(tmp_path)
    out = tmp_path / "m.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ManifestError, match="pyarrow"):
            votes_to_manifest(dump, out, progress=False)
        return
    votes_to_manifest(dump, out, progress=False)
    assert list(read_manifest(out)["gif_id"]) == ["a", "b", "c", "d"]


def test_progress_bar(tmp_path, capsys):
    _, dump = _small_dump(tmp_path)
    votes_to_manifest(dump, tmp_path / "m.csv", progress=True)
    assert "GIFGIF votes" in capsys.readouterr().err
    votes_to_manifest(dump, tmp_path / "m.csv", progress=False)
    assert "GIFGIF votes" not in capsys.readouterr().err


def test_custom_labels(tmp_path):
    labels = LabelConfig(
        emotions=("joy", "gloom"),
        category_names=("up", "down"),
        category_members=(("joy",), ("gloom",)),
    )
    dump = write_dump(tmp_path / "v.csv", [HEADER, "joy,a,b,left", "anger,a,b,left"])
    out = tmp_path / "m.csv"
    report = votes_to_manifest(dump, out, labels=labels, progress=False)
    assert report.unknown_emotion == 1
    frame = read_manifest(out, labels=labels)
    assert list(frame.columns[:6]) == ["gif_id", "path", "joy", "gloom", "joy_sigma", "gloom_sigma"]
