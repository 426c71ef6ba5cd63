"""LiteRT and ONNX exports of the frames model (issue 34), each run by its own runtime."""

import io
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import SIZE, T, tiny_model_config
from PIL import Image

from kavan_tf.cli import main
from kavan_tf.data import sampling
from kavan_tf.data.gif import decode_gif
from kavan_tf.export import formats
from kavan_tf.export.frames_graph import EXPORT_INFO_FILE, ExportFormatError
from kavan_tf.export.litert import export_litert
from kavan_tf.export.onnx import export_onnx
from kavan_tf.export.serving_module import KavanServingModule
from kavan_tf.inference import for_inference
from kavan_tf.model_card import CARD_FILE, build_card, write_card
from kavan_tf.models import KavanModel

ort = pytest.importorskip("onnxruntime")
litert = pytest.importorskip("ai_edge_litert.interpreter")

BATCH = 2


def _model(temporal: str) -> KavanModel:
    keras.utils.set_random_seed(3)
    model = KavanModel(tiny_model_config(temporal=temporal))
    model(np.zeros((1, T, SIZE, SIZE, 3), "float32"))
    # Non-trivial BatchNorm statistics, so that the folding matters.
    for layer in model.get_layer("backbone").layer.layers:
        if layer.name.startswith("bn"):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, "float32"))
    return model


def _gif(seed: int, n: int = 7) -> bytes:
    """A GIF Pillow builds: moving coloured blocks on noise, 40x28, ``n`` frames."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        pixels = rng.integers(0, 256, (28, 40, 3), dtype=np.uint8)
        pixels[4 + k: 14 + k, 5 + 3 * k: 17 + 3 * k] = (200, 30 * k, 90)
        frames.append(Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=80,
                   loop=0)
    return out.getvalue()


def _decoded_frames() -> np.ndarray:
    """Two GIFs through the reference decoder + evaluation sampling + stretch: the
    frames ``serving_default`` gives the model (tests/test_export.py checks they agree)."""
    batch = []
    for seed in (1, 2):
        decoded = decode_gif(_gif(seed))
        indices = sampling.sample_indices(decoded.num_frames, T, training=False)
        frames, _ = sampling.resize_frames(decoded.frames[indices], (SIZE, SIZE))
        batch.append(frames)
    return np.stack(batch).astype("float32")


INPUTS = {
    "random": lambda: np.random.default_rng(0).uniform(0, 255, (BATCH, T, SIZE, SIZE, 3))
    .astype("float32"),
    "decoded": _decoded_frames,
}


@pytest.fixture(scope="module", params=["hslstm", "lstm"])
def exported(request, tmp_path_factory):
    model = _model(request.param)
    fast = for_inference(model, "float32")
    root = tmp_path_factory.mktemp(f"formats-{request.param}")
    return model, KavanServingModule(model), {
        "litert": export_litert(fast, root / "litert", batch=BATCH),
        "onnx": export_onnx(fast, root / "onnx"),
    }


def _run(fmt: str, path: str, frames: np.ndarray) -> dict[str, np.ndarray]:
    if fmt == "litert":
        runner = litert.Interpreter(model_path=path).get_signature_runner("serving_default")
        return dict(runner(frames=frames))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"frames": frames})))


@pytest.mark.parametrize("fmt", ["litert", "onnx"])
@pytest.mark.parametrize("inputs", ["random", "decoded"])
def test_runtime_matches_keras(exported, fmt, inputs):
    model, module, paths = exported
    frames = INPUTS[inputs]()
    out = _run(fmt, paths[fmt], frames)
    # serving_frames of the Keras model as trained (not folded): every output, by name.
    served = module.serve_frames(tf.constant(frames))
    expected = {k: v.numpy() for k, v in served.items()}
    assert set(out) == set(expected)
    for key, value in expected.items():
        if value.dtype == object:
            np.testing.assert_array_equal(np.asarray(out[key]).astype(str), value.astype(str),
                                          err_msg=key)
        elif value.dtype.kind == "f":
            np.testing.assert_allclose(out[key], value, atol=1e-3, err_msg=key)
        else:
            np.testing.assert_array_equal(out[key], value, err_msg=key)
    keras_out = model(frames, training=False)
    for key in ("intensities", "category", "attention"):
        np.testing.assert_allclose(out[key], np.asarray(keras_out[key]), atol=1e-3, err_msg=key)


def test_folders_hold_info(exported):
    _, _, paths = exported
    for fmt, path in paths.items():
        info = json.loads(open(os.path.join(os.path.dirname(path), EXPORT_INFO_FILE)).read())
        assert info["file"] == os.path.basename(path)
        assert info["batch"] == (BATCH if fmt == "litert" else None)
        assert info["inputs"]["frames"].startswith("float32 [")


def test_cli_reports_a_failing_format_and_writes_the_other(tmp_path, monkeypatch, capsys):
    model_path = tmp_path / "model.keras"
    _model("hslstm").save(model_path)
    card = build_card({"model": {"temporal": "hslstm"}}, {"synthetic": True})
    write_card(card, str(tmp_path / CARD_FILE))

    def fail(model, folder, batch, model_card=None):
        raise ExportFormatError("litert", "HS-LSTM: the TFLite converter failed: (simulated)")

    monkeypatch.setattr(formats, "export_litert", fail)
    out = tmp_path / "exports"
    assert main(["export", str(model_path), "--format", "litert", "--format", "onnx",
                 "--export-dir", str(out)]) == 1
    shown = capsys.readouterr()
    assert "cannot export to litert: HS-LSTM: the TFLite converter failed" in shown.err
    assert f"ONNX model written to {out / 'kavan-onnx' / 'model.onnx'}" in shown.out
    written = json.loads((out / "kavan-onnx" / CARD_FILE).read_text())
    assert written["data"] == card["data"]
    assert written["export"]["format"] == "onnx" and written["export"]["precision"] == "float32"
    assert not (out / "kavan-litert").exists()
