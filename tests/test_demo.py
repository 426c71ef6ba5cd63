"""The demo: full KAVAN must beat the plain LSTM and the mean predictor on synthetic GIFs,
and its model must export, serve and draw its report."""

import os

import pytest

from kavan_tf.experiments.demo import DemoSettings, run_demo


@pytest.mark.slow
def test_demo_beats_plain_lstm_and_mean_predictor_then_exports_and_reports(tmp_path):
    # A smaller run than `make demo` (400 GIFs, 8 epochs); seeded and deterministic.
    # One run covers both the claim and the export -> predict -> report path
    # (`make demo` and `kavan demo --quick` take the same steps).
    outputs = run_demo(str(tmp_path), settings=DemoSettings().with_overrides(
        synthetic={"num_gifs": 400}, train={"epochs": 8}))
    rows = outputs["rows"]
    full, plain, mean = (rows["MTL Soft-Att + HS-LSTM"], rows["SmallCNN + LSTM"],
                         rows["Mean predictor"])
    print({name: {k: round(v, 3) for k, v in m.items() if k != "per_emotion_nmse"}
           for name, m in rows.items()})
    assert full["accuracy"] > plain["accuracy"] and full["accuracy"] > mean["accuracy"]
    assert full["nmse"] < plain["nmse"] and full["nmse"] < mean["nmse"]
    assert full["nmse"] < 1.0
    assert 0.9 < mean["nmse"] < 1.1

    assert outputs["predict_status"] == 0
    assert os.path.isdir(outputs["saved_model"])
    overlays = [f for f in os.listdir(outputs["overlays"]) if f.endswith(".gif")]
    assert len(overlays) == 4
    page = open(outputs["report"], encoding="utf-8").read()
    assert page.count("<article") == 4 and "synthetic" in page
