"""Typed config: defaults, validation naming the bad argument, files."""

import json

import numpy as np
import pytest

from kavan_tf.config import (
    DataConfig,
    KavanConfig,
    LabelConfig,
    LossConfig,
    ModelConfig,
    PredictConfig,
    TrainConfig,
    with_overrides,
)


def test_defaults_are_the_paper():
    config = KavanConfig()
    assert config.model.backbone == "resnet50"
    assert (config.model.tiers, config.model.node_size, config.model.num_frames) == (2, 4, 8)
    assert config.model.hidden_size == 2048 and config.model.attention_size == 32
    assert config.data.heatmap_grid == 64 and config.data.heatmap_sigma == 5.0
    assert config.labels.num_emotions == 17 and config.labels.num_categories == 4


def test_category_of_top_emotion():
    labels = LabelConfig()
    scores = np.zeros((2, 17))
    scores[0, labels.emotions.index("fear")] = 1.0
    scores[1, labels.emotions.index("relief")] = 1.0
    assert labels.category_of(scores).tolist() == [2, 1]


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: ModelConfig(num_frames=6, node_size=4), "node_size=4"),
        (lambda: ModelConfig(num_frames=0), "num_frames=0"),
        (lambda: ModelConfig(temporal="gru"), "temporal='gru'"),
        (lambda: ModelConfig(tiers=1), "tiers=1"),
        (lambda: ModelConfig(input_mode="pixels"), "input_mode='pixels'"),
        (lambda: ModelConfig(dropout=1.5), "dropout=1.5"),
        (lambda: ModelConfig(temporal_dtype="int8"), "temporal_dtype='int8'"),
        (lambda: ModelConfig(image_size=(0, 5)), "image_size"),
        (lambda: LossConfig(w_c=-1.0), "w_c=-1.0"),
        (lambda: LossConfig(w_kp=-0.1), "w_kp=-0.1"),
        (lambda: LossConfig(w_rank=-2), "w_rank=-2"),
        (lambda: LossConfig(rank_surrogate="exp"), "rank_surrogate='exp'"),
        (lambda: DataConfig(sampling="random"), "sampling='random'"),
        (lambda: DataConfig(background=(0, 0, 300)), "background"),
        (lambda: DataConfig(heatmap_norm="l2"), "heatmap_norm='l2'"),
        (lambda: TrainConfig(epochs=0), "epochs=0"),
        (lambda: TrainConfig(mixed_precision="fp8"), "mixed_precision='fp8'"),
        (lambda: LabelConfig(category_members=(("anger",),) * 4), "category_members"),
    ],
)
def test_bad_values_name_the_argument(make, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ValueError, match=r"model\.hiden_size.*hidden_size"):
        KavanConfig.from_dict({"model": {"hiden_size": 3}})
    with pytest.raises(ValueError, match=r"config\.modle"):
        KavanConfig.from_dict({"modle": {}})


def test_mistyped_value_is_rejected():
    with pytest.raises(ValueError, match=r"model\.hidden_size.*'big'"):
        KavanConfig.from_dict({"model": {"hidden_size": "big"}})
    with pytest.raises(ValueError, match=r"model\.attention"):
        KavanConfig.from_dict({"model": {"attention": "yes"}})


def test_files_round_trip(tmp_path):
    config = KavanConfig.from_dict(
        {"model": {"backbone": "small", "hidden_size": 16, "image_size": [64, 64]},
         "loss": {"w_kp": 2.0}}
    )
    path = tmp_path / "config.json"
    config.save(path)
    assert KavanConfig.from_file(path) == config
    toml = tmp_path / "config.toml"
    toml.write_text('[model]\nbackbone = "small"\nhidden_size = 16\nimage_size = [64, 64]\n'
                    "[loss]\nw_kp = 2.0\n")
    assert KavanConfig.from_file(toml) == config


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        KavanConfig.from_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"epochs": -1}}))
    with pytest.raises(ValueError, match=r"bad\.json.*epochs=-1"):
        KavanConfig.from_file(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\n")
    with pytest.raises(ValueError, match="broken.toml"):
        KavanConfig.from_file(broken)


def test_predict_defaults_are_the_config_and_the_cli_reads_them():
    from kavan_tf.cli import build_parser

    assert KavanConfig().predict == PredictConfig(top_k=3, batch_size=8)
    args = build_parser().parse_args(["predict", "a.gif", "--model", "m"])
    assert (args.top_k, args.batch_size) == (PredictConfig.top_k, PredictConfig.batch_size)
    with pytest.raises(ValueError, match="predict.top_k"):
        PredictConfig(top_k=0)


def test_with_overrides_refuses_an_unknown_section():
    config = with_overrides(KavanConfig(), predict={"top_k": 5})
    assert config.predict.top_k == 5
    with pytest.raises(ValueError, match="Unknown key `config.modle`. Did you mean `model`"):
        with_overrides(KavanConfig(), modle={"hidden_size": 3})
