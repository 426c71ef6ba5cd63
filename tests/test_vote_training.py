"""Training on GIFGIF votes: the vote index, its batches, and a few steps of training."""

import gzip
import logging
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers import tiny_config

from kavan_tf.cli import main
from kavan_tf.config import with_overrides
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import targets_of
from kavan_tf.data.vote_pipeline import build_vote_dataset, index_votes
from kavan_tf.losses.vote import A_WINS, B_WINS, DRAW
from kavan_tf.model_card import read_card
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.trainer import train, vote_data

GRID = (1, 1)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("voted")
    return str(generate_dataset(root, SyntheticConfig(num_gifs=8, frame_size=(48, 48),
                                                  num_frames=(4, 6), votes_per_gif=0.5,
                                                  votes_gzip=True)))


@pytest.fixture(scope="module")
def rows(manifest):
    return read_manifest(manifest).sort_values("gif_id").reset_index(drop=True)


def _config(tmp_path, **loss):
    config = tiny_config(tmp_path / "run", train={"epochs": 1, "learning_rate": 1e-2})
    return with_overrides(config, loss={"w_vote": 1.0, **loss})


def _dump(tmp_path, rows):
    """A gzipped dump with every corruption ``kavan votes`` skips, and votes on a GIF
    outside the manifest; the valid votes, as ``(left, right, emotion, outcome)``."""
    a, b, c = (str(g) for g in rows["gif_id"][:3])
    lines = [
        "\ufeffmetric,left,right,choice",
        f"amusement,{a},{b},left",
        f"amusement,,{b},left",  # empty id
        f"anger,{a}, ,right",  # empty id
        f"anger,{a},{b},maybe",  # unknown choice
        f"boredom,{a},{b},left",  # unknown emotion
        f"anger,{a},{b}",  # too few columns
        f"anger,{a},{b},left,extra",  # too many columns
        f"anger,{a},{a},left",  # self vote
        "",  # blank: ignored
        'anger,"' + "x" * 200_000 + f'",{b},left',  # over the csv field limit
        f"fear,{b},{c},neither",
        f"fear,{c},not_in_manifest,left",  # valid, but the GIF is not in the rows
        f"Anger ,{c},{a},right",
        f"pride,{b},{a},both",
    ]
    path = tmp_path / "votes.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return str(path), [(0, 1, "amusement", A_WINS), (1, 2, "fear", DRAW),
                       (2, 0, "anger", B_WINS), (1, 0, "pride", DRAW)]


def test_index_skips_corrupt_rows_and_gifs_outside_the_manifest(tmp_path, rows, caplog):
    config = _config(tmp_path)
    path, valid = _dump(tmp_path, rows)
    with caplog.at_level(logging.WARNING, logger="kavan_tf.data.vote_dump"):
        index = index_votes(path, rows, config, tmp_path / "index", chunk_size=2)
    assert index.report.skipped == {"malformed": 1, "wrong_columns": 2, "empty_id": 2,
                                    "unknown_emotion": 1, "unknown_choice": 1, "self_vote": 1}
    assert index.report.total_rows == 13
    assert (index.num_votes, index.not_in_manifest, index.draws) == (4, 1, 2)
    emotions = [e.lower() for e in config.labels.emotions]
    want = [(left, right, emotions.index(e), code - 1) for left, right, e, code in valid]
    np.testing.assert_array_equal(np.asarray(index.votes()), want)
    assert "4 votes kept" in index.summary() and "1 naming a GIF not in" in index.summary()
    assert "unknown_choice" in caplog.text


def test_batches_hold_each_votes_two_gifs_and_codes(tmp_path, rows):
    config = _config(tmp_path)
    path, valid = _dump(tmp_path, rows)
    index = index_votes(path, rows, config, tmp_path / "index")
    scores, categories = targets_of(rows, config)
    emotions = [e.lower() for e in config.labels.emotions]
    seen = []
    for frames, targets in build_vote_dataset(index, rows, config, feature_grid=GRID, epoch=0):
        n = frames.shape[0]
        assert n % 2 == 0 and frames.shape[1:] == (4, 32, 32, 3)
        target = targets["intensities"].numpy()
        assert target.shape == (n, 2 * len(emotions)) and targets["attention"].shape[0] == n
        for v in range(n // 2):
            codes = target[2 * v, len(emotions):]
            assert not target[2 * v + 1, len(emotions):].any()
            (emotion,) = np.flatnonzero(codes)
            left = int(np.flatnonzero((scores == target[2 * v, :len(emotions)]).all(1))[0])
            right = int(np.flatnonzero((scores == target[2 * v + 1, :len(emotions)]).all(1))[0])
            assert list(targets["category"].numpy()[2 * v:2 * v + 2]) == \
                [categories[left], categories[right]]
            seen.append((left, right, emotions[emotion], int(codes[emotion])))
    assert sorted(seen) == sorted(valid)  # every vote once, shuffled into batches


def test_replicas_split_each_global_batch(tmp_path, rows):
    config = with_overrides(_config(tmp_path), data={"batch_size": 4})
    path, _ = _dump(tmp_path, rows)
    index = index_votes(path, rows, config, tmp_path / "index")
    whole = next(iter(build_vote_dataset(index, rows, config, feature_grid=GRID, epoch=3)))
    parts = [next(iter(build_vote_dataset(
        index, rows, config, feature_grid=GRID, epoch=3,
        input_context=tf.distribute.InputContext(2, k, 2)))) for k in range(2)]
    for key in ("intensities", "category"):
        np.testing.assert_array_equal(
            np.concatenate([p[1][key].numpy() for p in parts]), whole[1][key].numpy())
    np.testing.assert_array_equal(np.concatenate([p[0].numpy() for p in parts]),
                                  whole[0].numpy())


@pytest.mark.parametrize("w_rg", [0.0, 1.0])
def test_a_few_steps_on_votes_alone_and_with_regression(tmp_path, manifest, rows, w_rg):
    config = _config(tmp_path, w_rg=w_rg)
    votes = os.path.join(os.path.dirname(manifest), "votes.csv.gz")
    data, index = vote_data(votes, rows, config)
    assert index.num_votes > 0
    result = train(config, None, rows[:4], train_dataset=data, verbose=0)
    history = result.history
    assert np.isfinite(history["loss"]).all() and np.isfinite(history["val_loss"]).all()
    assert "val_intensities_spearman" in history


def test_kavan_train_votes(tmp_path, manifest, capsys):
    votes = os.path.join(os.path.dirname(manifest), "votes.csv.gz")
    out = tmp_path / "cli"
    config = tmp_path / "config.json"
    _config(tmp_path).save(str(config))
    assert main(["train", "--config", str(config), "--manifest", manifest, "--votes", votes,
                 "--out", str(out), "--set", "loss.w_rg=0", "--votes-per-epoch", "6"]) == 0
    card = read_card(str(out / "model.keras"))
    assert card["data"]["train_votes"] > 6 and card["data"]["votes_not_in_manifest"] == 0
    assert card["data"]["votes_per_epoch"] == 6
    assert "votes kept" in capsys.readouterr().out
    assert main(["train", "--config", str(config), "--manifest", manifest, "--votes", votes,
                 "--set", "loss.w_vote=0", "--out", str(tmp_path / "none")]) != 0
    assert "needs loss.w_vote > 0" in capsys.readouterr().err
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0]


def test_votes_per_epoch_draws_a_new_subset_each_epoch(tmp_path, rows):
    config = _config(tmp_path)
    path, valid = _dump(tmp_path, rows)
    data, index = vote_data(path, rows, config, index_dir=str(tmp_path / "index"),
                            votes_per_epoch=2)
    assert data.num_examples == 2 and index.num_votes == len(valid)

    def codes(epoch):
        (_, targets), = list(data.build(epoch, None))
        return targets["intensities"].numpy()

    firsts = [codes(epoch) for epoch in range(6)]
    assert all(c.shape[0] == 4 for c in firsts)
    assert any(not np.array_equal(firsts[0], c) for c in firsts[1:])
    np.testing.assert_array_equal(codes(0), firsts[0])  # an epoch is seeded


MIRRORED_VOTES = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kavan_tf.config import KavanConfig, with_overrides
from kavan_tf.data.manifest import read_manifest
from kavan_tf.training.trainer import train, vote_data
config = KavanConfig.from_file(sys.argv[1])
rows = read_manifest(sys.argv[2])
losses = {}
for strategy in ("none", "mirrored"):
    run = with_overrides(config, train={"distribute": strategy,
                                        "output_dir": config.train.output_dir + strategy})
    data, _ = vote_data(sys.argv[3], rows, run, votes_per_epoch=8)
    losses[strategy] = train(run, None, train_dataset=data, verbose=0).history["loss"]
print("LOSSES", json.dumps(losses))
"""


@pytest.mark.slow
def test_vote_training_under_mirrored_strategy_matches_one_device(tmp_path, manifest,
                                                                  run_script):
    """Two replicas, each with half of every global batch of votes: the same
    losses as one device."""
    config = with_overrides(_config(tmp_path), train={"epochs": 2})
    config.save(str(tmp_path / "config.json"))
    votes = os.path.join(os.path.dirname(manifest), "votes.csv.gz")
    out = run_script(MIRRORED_VOTES.replace("sys.argv[1]", repr(str(tmp_path / "config.json")))
                     .replace("sys.argv[2]", repr(manifest)).replace("sys.argv[3]", repr(votes)))
    line = next(x for x in out.splitlines() if x.startswith("LOSSES"))
    losses = __import__("json").loads(line.split(" ", 1)[1])
    assert len(losses["none"]) == 2
    np.testing.assert_allclose(losses["mirrored"], losses["none"], rtol=1e-5)


def test_a_vote_whose_gif_fails_to_decode_is_left_out(tmp_path, rows, caplog):
    config = _config(tmp_path)
    path, valid = _dump(tmp_path, rows)
    broken = rows.copy()
    bad = tmp_path / "broken.gif"
    bad.write_bytes(b"GIF89a not really")
    broken.loc[2, "path"] = str(bad)  # the third GIF: two of the four votes name it
    index = index_votes(path, broken, config, tmp_path / "index")
    with caplog.at_level(logging.WARNING, logger="kavan_tf.data.vote_pipeline"):
        pairs = sum(frames.shape[0] // 2 for frames, _ in build_vote_dataset(
            index, broken, config, feature_grid=GRID, epoch=0))
    assert pairs == sum(2 not in (left, right) for left, right, _, _ in valid) == 2
    assert "broken.gif" in caplog.text
