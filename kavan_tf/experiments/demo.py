"""``kavan demo``: the whole pipeline on the built-in synthetic GIFs, on a laptop CPU.

Generates a synthetic dataset (real GIF, keypoint and manifest files), trains
full KAVAN (MTL Soft-Att + HS-LSTM, small backbone) and the plain LSTM
baseline on its train split, evaluates both and the mean predictor on its test
split, exports a SavedModel, predicts a few GIFs and writes attention overlays.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kavan_tf.config import KavanConfig, with_overrides
from kavan_tf.data.manifest import read_manifest
from kavan_tf.data.pipeline import targets_of
from kavan_tf.export import export_saved_model
from kavan_tf.inference import for_inference
from kavan_tf.losses import gif_nmse
from kavan_tf.predict import draw_results, load_predictor, predict_paths
from kavan_tf.synthetic import SyntheticConfig, generate_dataset
from kavan_tf.training.evaluation import ROWS_BY_KEY, evaluate_model, row_config
from kavan_tf.training.trainer import split_frame, train

logger = logging.getLogger(__name__)


#: How the demo's experiment differs from :class:`KavanConfig`'s defaults: the
#: small backbone trained from scratch, a small state, more epochs' worth of
#: learning rate, on one device.
DEMO_CONFIG: dict[str, dict[str, Any]] = {
    "model": {"backbone": "small", "backbone_weights": None, "trainable_backbone": True,
              "hidden_size": 64},
    "data": {"batch_size": 16},
    "train": {"epochs": 10, "learning_rate": 3e-3, "distribute": "none"},
}
#: How the demo's dataset differs from :class:`SyntheticConfig`'s defaults.
#: ``label_mode="end"`` with large faces: the emotion is read off the face over
#: the GIF's last frames, which a small CNN trained from scratch on a few
#: hundred GIFs can learn on a CPU in minutes (``"change"`` needs far more data).
DEMO_DATA: dict[str, Any] = {
    "num_gifs": 640, "frame_size": (64, 64), "face_scale": (0.27, 0.3), "label_mode": "end",
}


def _demo_experiment() -> KavanConfig:
    return KavanConfig.from_dict(DEMO_CONFIG)


def _demo_data() -> SyntheticConfig:
    return SyntheticConfig(**DEMO_DATA)


@dataclass(frozen=True)
class DemoSettings:
    """The demo run: its experiment config and its synthetic dataset (the
    defaults take about 2 minutes on 2 CPU cores).

    Attributes:
        config: The experiment; the model's ``image_size`` follows the
            frames and ``train.output_dir`` the run's folder
            (:func:`demo_config`).
        synthetic: The synthetic GIFs it trains and tests on.

    Example: ``DemoSettings().with_overrides(synthetic={"num_gifs": 96},
    train={"epochs": 2})``.
    """

    config: KavanConfig = field(default_factory=_demo_experiment)
    synthetic: SyntheticConfig = field(default_factory=_demo_data)

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls().with_overrides(
            synthetic={"num_gifs": 96}, model={"hidden_size": 32}, train={"epochs": 2}
        )

    def with_overrides(
        self, *, synthetic: dict[str, Any] | None = None, **sections: dict[str, Any]
    ) -> DemoSettings:
        """A copy with some fields of the dataset (``synthetic``) and of some
        config sections (as :func:`kavan_tf.config.with_overrides`) replaced."""
        return DemoSettings(
            config=with_overrides(self.config, **sections),
            synthetic=replace(self.synthetic, **(synthetic or {})),
        )


def demo_config(settings: DemoSettings, output_dir: str) -> KavanConfig:
    """The experiment config of the demo, writing to ``output_dir``, its model's
    input the size of the synthetic frames."""
    width, height = settings.synthetic.frame_size
    return with_overrides(
        settings.config, model={"image_size": (height, width)}, train={"output_dir": output_dir}
    )


def mean_predictor_metrics(
    train_targets: np.ndarray, test_targets: np.ndarray, config: KavanConfig
) -> dict[str, float]:
    """Metrics of predicting the training mean of every emotion."""
    prediction = np.broadcast_to(train_targets.mean(axis=0), test_targets.shape)
    per_emotion = ((prediction - test_targets) ** 2).mean(0) / (test_targets.var(0) + 1e-8)
    categories = config.labels.category_of(test_targets)
    return {
        "accuracy": float(np.mean(config.labels.category_of(prediction) == categories)),
        "nmse": float(np.mean(gif_nmse(test_targets, prediction, config.loss.nmse_epsilon))),
        "emotion_nmse": float(per_emotion.mean()),
    }


def run_demo(
    output_dir: str = "runs/demo",
    quick: bool = False,
    settings: DemoSettings | None = None,
    export: bool = True,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the demo (``kavan demo`` prints its steps and :func:`summary_table`).

    Args:
        output_dir: Everything goes here (dataset, runs, SavedModel, overlays).
        quick: Smaller settings (for a smoke test).
        settings: Explicit sizes (override ``quick``).
        export: Export a SavedModel and predict through it.
        on_progress: Called with a line as each step starts (e.g. ``print``);
            the data generation and the training show progress bars as well.

    Returns:
        ``{"rows": {name: metrics}, "seconds": float}`` and, with ``export``,
        ``"saved_model"``, ``"overlays"``, ``"report"``, ``"predictions"``
        (:class:`kavan_tf.predict.GifResult` s) and ``"predict_status"`` (0
        when every GIF was predicted).
    """
    settings = settings or (DemoSettings.quick() if quick else DemoSettings())
    say = on_progress or _silent
    began = time.perf_counter()
    os.makedirs(output_dir, exist_ok=True)
    say(f"[1/5] Generating {settings.synthetic.num_gifs} synthetic GIFs ...")
    manifest = generate_dataset(
        os.path.join(output_dir, "data"),
        settings.synthetic,
        progress=True,
    )
    base = demo_config(settings, output_dir)
    rows = read_manifest(manifest, base.labels)
    train_rows, test_rows = split_frame(rows, "train"), split_frame(rows, "test")

    results: dict[str, dict[str, float]] = {}
    models = {}
    for step, key in ((2, "mtl_att_hslstm"), (3, "lstm")):
        row = ROWS_BY_KEY[key]
        config = row_config(base, row, os.path.join(output_dir, "runs", key))
        title = row.label(config)
        say(f"[{step}/5] Training {title} ({config.train.epochs} epochs) ...")
        result = train(config, train_rows, verbose=2)
        results[title] = evaluate_model(result.model, test_rows, config)
        models[key] = result
    results["Mean predictor"] = mean_predictor_metrics(
        targets_of(train_rows, base)[0], targets_of(test_rows, base)[0], base
    )

    outputs: dict[str, Any] = {"rows": results}
    if export:
        outputs.update(_export_and_predict(models["mtl_att_hslstm"], test_rows, output_dir, say))
    outputs["seconds"] = time.perf_counter() - began
    return outputs


def _silent(line: str) -> None:
    del line


def _export_and_predict(result, test_rows, output_dir: str, say) -> dict[str, Any]:
    say("[4/5] Exporting a SavedModel (batch norm folded, as `kavan export`) ...")
    path = export_saved_model(
        for_inference(result.model), os.path.join(output_dir, "savedmodels"), "kavan"
    )
    say(f"      {path}")
    say("[5/5] Predicting a few GIFs with the SavedModel: attention overlays and a report ...")
    gifs = test_rows["path"].astype(str).tolist()[:4]
    overlay_dir = os.path.join(output_dir, "overlays")
    report = os.path.join(output_dir, "report.html")
    results = predict_paths(load_predictor(str(path)), gifs, keep_frames=True)
    draw_results(results, overlay_dir, report,
                 note="a demo model, trained on synthetic cartoon GIFs")
    return {"saved_model": str(path), "overlays": overlay_dir, "report": report,
            "predictions": results, "predict_status": 0 if all(r.ok for r in results) else 1}


def summary_table(results: dict[str, dict[str, float]]) -> str:
    """A short Markdown table of accuracy and nMSE per model."""
    lines = [
        "",
        "| Model (synthetic test split) | Accuracy % | nMSE per GIF | nMSE per emotion |",
        "|---|---|---|---|",
    ]
    for name, m in results.items():
        lines.append(
            f"| {name} | {100 * m['accuracy']:.1f} | {m['nmse']:.3f} | {m['emotion_nmse']:.3f} |"
        )
    return "\n".join(lines)
