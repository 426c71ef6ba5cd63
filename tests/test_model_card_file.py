"""The model card inside the ``.keras`` file, and loading after ``import kavan_tf`` alone."""

import json
import shutil
import zipfile

import pytest
from helpers import tiny_model_config

from kavan_tf.cli import main
from kavan_tf.config import KavanConfig
from kavan_tf.export import keras_file
from kavan_tf.inference import for_inference
from kavan_tf.model_card import (
    CARD_FILE,
    KERAS_CARD_ENTRY,
    build_card,
    card_of,
    read_card,
    set_card,
)
from kavan_tf.models import KavanModel

DATA = {"manifest": None, "sha256": "0" * 64, "train_gifs": 8, "val_gifs": 0,
        "synthetic": True, "label_mode": "change"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model saved with its card, and its inference copy, in a run folder."""
    run = tmp_path_factory.mktemp("run")
    model = KavanModel(tiny_model_config())
    card = json.loads(json.dumps(build_card(KavanConfig().to_dict(), DATA, {"val_loss": [0.5]})))
    set_card(model, card)
    model.save(run / "model.keras")
    inference = for_inference(model)
    set_card(inference, card)
    inference.save(run / "inference.keras")
    return run, card


def test_card_survives_a_copy_info_and_export(saved, tmp_path, capsys, monkeypatch):
    run, card = saved
    with zipfile.ZipFile(run / "model.keras") as archive:
        assert json.loads(archive.read(KERAS_CARD_ENTRY)) == card
    copy = tmp_path / "elsewhere" / "copied.keras"
    copy.parent.mkdir()
    shutil.copy(run / "model.keras", copy)
    assert not (copy.parent / CARD_FILE).exists()
    assert read_card(str(copy)) == card
    capsys.readouterr()
    assert main(["info", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == card
    # kavan export hands the file's card to the writer (which writes it into
    # the SavedModel's assets: tests/test_cli.py), and the exported copy carries it.
    shipped = []
    monkeypatch.setattr(keras_file, "export_saved_model",
                        lambda model, *args, model_card, **kwargs: shipped.append(
                            (card_of(model), model_card)) or "exported")
    assert main(["export", str(copy), "--export-dir", str(tmp_path), "--no-fold-batch-norm"]) == 0
    (carried, served), = shipped
    assert carried == served and served["data"] == DATA
    assert served["export"]["precision"] == "float32" and served["export"]["from"] == str(copy)


def test_set_card_checks_its_argument():
    with pytest.raises(ValueError, match="kavan-model-card-v1"):
        set_card(object(), {"format": "something else"})


LOAD = """
import sys
paths = {paths!r}
import kavan_tf
assert "keras" not in sys.modules and "tensorflow" not in sys.modules, "import kavan_tf is heavy"
import keras
from kavan_tf.model_card import card_of
for path in paths:
    model = keras.saving.load_model(path)
    print(type(model).__name__, card_of(model)["epochs"], sorted(model.output))
"""


def test_import_kavan_tf_is_enough_to_load_in_a_fresh_process(saved, run_script):
    run, _ = saved
    shown = run_script(LOAD.format(paths=[str(run / "model.keras"), str(run / "inference.keras")]))
    outputs = "['arousal', 'attention', 'category', 'intensities', 'valence']"
    assert shown.splitlines() == [f"KavanModel 1 {outputs}",
                                          f"InferenceModel 1 {outputs}"]
    assert card_of(KavanModel(tiny_model_config())) is None
