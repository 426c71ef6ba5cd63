"""Keras Tuner search over loss weights and learning rate: hypermodel, search, CLI."""

import json
import os

import keras_tuner
import numpy as np
import pandas as pd
import pytest
from helpers import TINY_MODEL, tiny_config

from kavan_tf import cli
from kavan_tf.config import KavanConfig
from kavan_tf.data.manifest import read_manifest
from kavan_tf.experiments.tuning import (
    RESULTS_CSV,
    RESULTS_MD,
    KavanHyperModel,
    SearchSpace,
    holdout_split,
    resolve_objective,
    run_tuning,
)
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.trainer import configure_run

# Keras Tuner 1.4 still calls threading.currentThread().getName().
pytestmark = [
    pytest.mark.filterwarnings("ignore:currentThread:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:getName:DeprecationWarning"),
]



def _config(**model) -> KavanConfig:
    return tiny_config(model=model, train={"epochs": 1})


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return generate_dataset(root, SyntheticConfig(num_gifs=12, frame_size=(32, 32),
                                                  num_frames=(4, 6), label_mode="end"))


def test_build_applies_hyperparameters():
    hp = keras_tuner.HyperParameters()
    for name, value in (("w_c", 2.5), ("w_rank", 0.5), ("w_kp", 3.0), ("learning_rate", 5e-3)):
        hp.Fixed(name, value)
    model = KavanHyperModel(_config()).build(hp)
    loss_config = model.get_compile_config()["loss_config"]
    assert (loss_config["w_c"], loss_config["w_rank"], loss_config["w_kp"]) == (2.5, 0.5, 3.0)
    assert model.loss["intensities"].rank_weight == 0.5
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-3)


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def test_executions_of_a_trial_get_successive_seeds():
    hypermodel = KavanHyperModel(_config())
    hp = keras_tuner.HyperParameters()
    first, second = hypermodel.build(hp), hypermodel.build(hp)
    fresh = hypermodel.build(keras_tuner.HyperParameters())
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(first), _weights(second)))
    for a, b in zip(_weights(first), _weights(fresh), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_on_rows_is_the_same_in_every_trial(manifest):
    rows = read_manifest(manifest)
    config = _config()
    configure_run(config)
    hypermodel = KavanHyperModel(config)
    histories = []
    for _ in range(2):
        hp = keras_tuner.HyperParameters()
        model = hypermodel.build(hp)
        history = hypermodel.fit(hp, model, rows.iloc[:8], validation_data=rows.iloc[8:],
                                 epochs=1, verbose=0)
        histories.append(history.history)
    assert "val_intensities_nmse" in histories[0]
    assert histories[0] == histories[1]


def test_search_space_is_log_scaled_with_config_defaults():
    config = _config()
    hp = keras_tuner.HyperParameters()
    KavanHyperModel(config, SearchSpace(learning_rate=(1e-3, 1e-2))).build(hp)
    space = {p.name: p for p in hp.space}
    assert list(space) == ["w_c", "w_rank", "w_kp", "learning_rate"]
    assert all(p.sampling == "log" for p in space.values())
    assert (space["w_c"].min_value, space["w_c"].max_value) == (0.1, 3.0)
    assert (space["w_rank"].min_value, space["w_rank"].max_value) == (0.01, 1.0)
    assert (space["w_kp"].min_value, space["w_kp"].max_value) == (0.1, 10.0)
    assert hp.values["w_c"] == config.loss.w_c
    # The config's 1e-4 lies below the range, so the default is clipped into it.
    assert hp.values["learning_rate"] == 1e-3


def test_unused_weights_are_not_searched():
    hp = keras_tuner.HyperParameters()
    KavanHyperModel(_config(attention=False, multitask=False)).build(hp)
    assert [p.name for p in hp.space] == ["w_rank", "learning_rate"]


def test_objectives():
    nmse = resolve_objective("nmse")
    assert (nmse.name, nmse.direction) == ("val_intensities_nmse", "min")
    accuracy = resolve_objective("val_category_accuracy")
    assert (accuracy.name, accuracy.direction) == ("val_category_accuracy", "max")
    assert isinstance(accuracy, keras_tuner.Objective)


@pytest.mark.parametrize("objective", ["val_mse", "accuracy_", "", None])
def test_bad_objective_is_named(objective, manifest, tmp_path):
    rows = read_manifest(manifest)
    with pytest.raises(ValueError, match=f"objective={objective!r}"):
        run_tuning(_config(), rows, rows, tmp_path, objective=objective)
    assert not os.path.exists(tmp_path / RESULTS_CSV)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [({"algorithm": "grid"}, "algorithm='grid'"), ({"max_trials": 0}, "max_trials=0"),
     ({"epochs": 0}, "epochs=0"), ({"executions_per_trial": 0}, "executions_per_trial=0")],
)
def test_bad_search_arguments(kwargs, fragment, manifest, tmp_path):
    rows = read_manifest(manifest)
    with pytest.raises(ValueError, match=fragment):
        run_tuning(_config(), rows, rows, tmp_path, **kwargs)


@pytest.mark.parametrize(
    "values, fragment", [({"w_c": (1.0, 0.5)}, "w_c=(1.0, 0.5)"), ({"w_kp": (0, 1)}, "w_kp=(0, 1)")]
)
def test_bad_search_space(values, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        SearchSpace(**values)


def test_holdout_split():
    rows = pd.DataFrame({"gif_id": [f"g{i}" for i in range(10)]})
    train, val = holdout_split(rows, 0.3, seed=1)
    assert len(train) == 7 and len(val) == 3
    assert sorted(train["gif_id"].tolist() + val["gif_id"].tolist()) == sorted(rows["gif_id"])
    assert train.index.is_monotonic_increasing and val.index.is_monotonic_increasing
    again = holdout_split(rows, 0.3, seed=1)[1]
    assert val.equals(again)
    with pytest.raises(ValueError, match="fraction=1.5"):
        holdout_split(rows, 1.5)


def test_run_tuning_writes_trials_best_first(manifest, tmp_path):
    rows = read_manifest(manifest)
    train_rows, val_rows = rows.iloc[:8], rows.iloc[8:]
    out = tmp_path / "tuning"
    table = run_tuning(_config(), train_rows, val_rows, out, objective="val_intensities_nmse",
                       max_trials=2, epochs=1, seed=3)
    assert len(table) == 2
    assert table["rank"].tolist() == [1, 2]
    assert table["score"].is_monotonic_increasing
    assert np.all(np.isfinite(table[["w_c", "w_rank", "w_kp", "learning_rate", "score"]]))
    assert table["score"].tolist() == table["val_intensities_nmse"].tolist()
    assert table.iloc[0]["w_c"] != table.iloc[1]["w_c"]
    written = pd.read_csv(out / RESULTS_CSV, dtype={"trial_id": str})
    pd.testing.assert_frame_equal(written, table, check_dtype=False)
    markdown = (out / RESULTS_MD).read_text()
    assert "val_intensities_nmse" in markdown and "lower is better" in markdown
    assert len([line for line in markdown.splitlines() if line.startswith("| ")]) == 3
    # A finished search is reloaded, not run again.
    again = run_tuning(_config(), train_rows, val_rows, out, objective="val_intensities_nmse",
                       max_trials=2, epochs=1, seed=3)
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.slow
def test_cli_tune_without_split_column(manifest, tmp_path, capsys):
    rows = pd.read_csv(manifest).drop(columns=["split"])
    no_split = manifest.parent / "no_split.csv"
    rows.to_csv(no_split, index=False)
    out = tmp_path / "cli"
    status = cli.main(["tune", "--manifest", str(no_split), "--out", str(out), "--trials", "1",
                       "--epochs", "1", "--objective", "accuracy", "--fit-verbose", "0",
                       *[f"--set=model.{k}={json.dumps(v)}" for k, v in TINY_MODEL.items()],
                       "--set=data.batch_size=4", "--set=train.distribute=none"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "val_category_accuracy" in printed and "higher is better" in printed
    assert (out / RESULTS_CSV).is_file()


def test_cli_tune_bad_objective(manifest, tmp_path, capsys):
    status = cli.main(["tune", "--manifest", str(manifest), "--out", str(tmp_path),
                       "--objective", "f1"])
    assert status == 2
    assert "objective='f1'" in capsys.readouterr().err
