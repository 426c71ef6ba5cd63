"""SavedModel export: signatures, in-graph decoding, versions, warm-up, model config."""

import os
import struct
import subprocess
import sys

import corpora
import numpy as np
import pytest
import tensorflow as tf
from built_gifs import built_gifs
from google.protobuf import text_format
from helpers import SIZE, T, signal_once_ready, tiny_model_config

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.gif import decode_gif
from kavan_tf.export import (
    FRAMES_SIGNATURE,
    GIFS_SIGNATURE,
    export_saved_model,
    list_versions,
    read_warmup_requests,
    tiny_gif,
)
from kavan_tf.export.gif_graph import eval_frame_indices
from kavan_tf.export.serving_graph import resize_stretch
from kavan_tf.labels import DEFAULT_CATEGORY_NAMES, EMOTIONS
from kavan_tf.models import KavanModel


@pytest.fixture(scope="module")
def model():
    keras_model = KavanModel(tiny_model_config())
    # Non-trivial BatchNorm statistics, so that training=False matters.
    for layer in keras_model.get_layer("backbone").layer.layers:
        if layer.name.startswith("bn"):
            mean, var = layer.moving_mean, layer.moving_variance
            mean.assign(np.full(mean.shape, 0.1, "float32"))
            var.assign(np.full(var.shape, 2.0, "float32"))
    return keras_model


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    return tmp_path_factory.mktemp("savedmodels")


@pytest.fixture(scope="module")
def exported(model, export_root):
    return export_saved_model(model, export_root, "kavan")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


def _reference_frames(gif: bytes) -> np.ndarray:
    """The reference decoder + TSN evaluation sampling + the graph's stretch."""
    frames = decode_gif(gif).frames
    indices = eval_frame_indices(len(frames), T)
    return resize_stretch(tf.gather(frames, indices), (SIZE, SIZE)).numpy()


def _keras(model, frames):
    return {k: np.asarray(v) for k, v in model(frames, training=False).items()}


def test_layout_and_versions(model, export_root, exported):
    model_dir = export_root / "kavan"
    assert exported == str(model_dir / "1")
    assert {"assets.extra", "saved_model.pb", "variables"} <= set(os.listdir(exported))
    assert os.path.isfile(os.path.join(exported, "assets.extra", "tf_serving_warmup_requests"))
    assert os.path.isfile(os.path.join(exported, "assets.extra", "kavan_export.json"))

    second = export_saved_model(model, export_root, "kavan")
    assert second == str(model_dir / "2")
    assert list_versions(model_dir) == [1, 2]
    with pytest.raises(FileExistsError, match="version 1"):
        export_saved_model(model, export_root, "kavan", version=1)
    # Nothing half-written is left behind.
    assert sorted(os.listdir(model_dir)) == ["1", "2", "models.config"]


def test_model_config_file(exported, export_root):
    from tensorflow_serving.config import model_server_config_pb2

    text = (export_root / "kavan" / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert entry.name == "kavan"
    assert entry.base_path == "/models/kavan"
    assert entry.model_platform == "tensorflow"


def _tensor_info(signature_text: str, kind: str, name: str) -> tuple[str, str]:
    """``(dtype, shape)`` of ``inputs['name']``/``outputs['name']`` in saved_model_cli text."""
    block = signature_text.split(f"{kind}['{name}'] tensor_info:")[1]
    dtype = block.split("dtype:")[1].split("\n")[0].strip()
    shape = block.split("shape:")[1].split("\n")[0].strip()
    return dtype, shape


def test_saved_model_cli_lists_both_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--all", "--dir", exported], capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
    ).stdout
    signatures = {
        name: shown.split(f"signature_def['{name}']:")[1].split("signature_def[")[0]
        for name in (GIFS_SIGNATURE, FRAMES_SIGNATURE)
    }
    assert _tensor_info(signatures[GIFS_SIGNATURE], "inputs", "gifs") == ("DT_STRING", "(-1)")
    assert _tensor_info(signatures[FRAMES_SIGNATURE], "inputs", "frames") == (
        "DT_FLOAT", f"(-1, {T}, {SIZE}, {SIZE}, 3)"
    )
    expected = {
        "intensities": ("DT_FLOAT", "(-1, 17)"),
        "category": ("DT_FLOAT", "(-1, 4)"),
        "attention": ("DT_FLOAT", f"(-1, {T}, 2, 2)"),
        "category_id": ("DT_INT32", "(-1)"),
        "category_name": ("DT_STRING", "(-1)"),
        "emotion_names": ("DT_STRING", "(-1, 17)"),
        "ranked_emotions": ("DT_STRING", "(-1, 17)"),
        "ranked_intensities": ("DT_FLOAT", "(-1, 17)"),
        "valence": ("DT_FLOAT", "(-1)"),
        "arousal": ("DT_FLOAT", "(-1)"),
    }
    for text in signatures.values():
        assert "Method name is: tensorflow/serving/predict" in text
        for name, info in expected.items():
            assert _tensor_info(text, "outputs", name) == info, name


def test_serving_frames_equals_keras(model, loaded):
    frames = np.random.default_rng(0).uniform(0, 255, (2, T, SIZE, SIZE, 3)).astype("float32")
    served = {k: v.numpy() for k, v in loaded.signatures[FRAMES_SIGNATURE](
        frames=tf.constant(frames)).items()}
    expected = _keras(model, frames)
    for name in ("intensities", "category", "attention", "valence", "arousal"):
        np.testing.assert_allclose(served[name], expected[name], atol=1e-5, err_msg=name)
    # The circumplex quadrants of the default categories (docs/model.md#valence-and-arousal).
    np.testing.assert_allclose(served["valence"], served["category"] @ [1, 1, -1, -1], atol=1e-6)
    np.testing.assert_allclose(served["arousal"], served["category"] @ [1, -1, 1, -1], atol=1e-6)
    category_id = np.argmax(expected["category"], axis=-1)
    np.testing.assert_array_equal(served["category_id"], category_id)
    assert [n.decode() for n in served["category_name"]] == [
        DEFAULT_CATEGORY_NAMES[i] for i in category_id
    ]
    for row in range(2):
        assert tuple(n.decode() for n in served["emotion_names"][row]) == EMOTIONS
        order = np.argsort(-served["intensities"][row], kind="stable")
        assert [n.decode() for n in served["ranked_emotions"][row]] == [EMOTIONS[k] for k in order]
        np.testing.assert_array_equal(
            served["ranked_intensities"][row], served["intensities"][row][order]
        )


def test_serving_default_equals_keras_on_decoded_frames(model, loaded):
    # Fewer frames than T (repeated), exactly T, and more; none of them 32 x 32.
    gifs = [tiny_gif(3, (20, 30)), tiny_gif(T, (32, 48)), tiny_gif(9, (40, 24))]
    served = loaded.signatures[GIFS_SIGNATURE](gifs=tf.constant(gifs))
    frames = np.stack([_reference_frames(g) for g in gifs])
    expected = _keras(model, frames)
    for name in ("intensities", "category", "attention", "valence", "arousal"):
        np.testing.assert_allclose(served[name].numpy(), expected[name], atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(loaded.decode_gifs(tf.constant(gifs)).numpy(), frames)


def test_in_graph_pipeline_matches_python_pipeline_on_plain_gif(model, loaded):
    # A plain GIF (full frames, no transparency) smaller than the model's
    # frames: both decoders and both resizers agree exactly.
    gif = tiny_gif(5, (24, 20))
    decoded = decode_gif(gif)
    np.testing.assert_array_equal(tf.io.decode_gif(gif).numpy(), decoded.frames)
    indices = sampling.sample_indices(decoded.num_frames, T, training=False)
    python, _ = sampling.resize_frames(decoded.frames[indices], (SIZE, SIZE))
    np.testing.assert_array_equal(loaded.decode_gifs(tf.constant([gif])).numpy()[0], python)
    served = loaded.signatures[GIFS_SIGNATURE](gifs=tf.constant([gif]))
    expected = _keras(model, python[None].astype("float32"))
    np.testing.assert_allclose(served["intensities"].numpy(), expected["intensities"], atol=1e-5)


@pytest.mark.parametrize(
    "num_frames, expected",
    [(1, [0, 0, 0, 0]), (2, [0, 0, 1, 1]), (3, [0, 1, 1, 2]), (4, [0, 1, 2, 3]),
     (8, [1, 3, 5, 7]), (10, [1, 3, 6, 8])],
)
def test_eval_frame_indices(num_frames, expected):
    assert eval_frame_indices(tf.constant(num_frames), T).numpy().tolist() == expected


def test_eval_indices_match_python_sampling():
    for num_samples in (1, 4, 8, 16):
        graph = tf.function(lambda n, t=num_samples: eval_frame_indices(n, t))
        for n in range(1, 200):
            python = sampling.sample_indices(n, num_samples, training=False)
            np.testing.assert_array_equal(python, graph(tf.constant(n)).numpy(), err_msg=f"n={n}")


@pytest.mark.parametrize(
    "source, target",
    [((24, 20), (32, 32)), ((7, 9), (64, 48)), ((32, 50), (32, 17)), ((40, 33), (40, 21)),
     ((200, 120), (32, 120)), ((1, 1), (5, 3))],
)
def test_resize_equals_pillow_exactly(source, target):
    # Upscaling, and shrinking one axis only: the pass order cannot matter.
    frames = np.random.default_rng(2).integers(0, 256, (2, *source, 3), dtype=np.uint8)
    python, _ = sampling.resize_frames(frames, target, mode="stretch")
    np.testing.assert_array_equal(resize_stretch(frames, target).numpy(), python)


def test_resize_within_one_grey_level_of_pillow():
    rng = np.random.default_rng(3)
    for _ in range(10):
        source = tuple(int(v) for v in rng.integers(33, 300, 2))
        target = tuple(int(v) for v in rng.integers(8, 33, 2))
        frames = rng.integers(0, 256, (1, *source, 3), dtype=np.uint8)
        python, _ = sampling.resize_frames(frames, target, mode="stretch")
        difference = np.abs(resize_stretch(frames, target).numpy() - python)
        assert difference.max() <= 1, (source, target)
        assert difference.mean() < 0.3, (source, target)


def test_invalid_bytes_are_an_error_status_not_a_crash(loaded):
    serve = loaded.signatures[GIFS_SIGNATURE]
    refused = tf.errors.InvalidArgumentError
    with pytest.raises(refused, match=r"gifs\[1\]: cannot decode GIF: not a GIF file"):
        serve(gifs=tf.constant([tiny_gif(), b"definitely not a gif"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="GIF"):
        serve(gifs=tf.constant([b"GIF89a" + b"\x01" * 40]))
    with pytest.raises(refused, match=r"gifs\[0\]: cannot decode GIF: not a GIF"):
        serve(gifs=tf.constant([b""]))
    bomb = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b";"
    with pytest.raises(tf.errors.InvalidArgumentError, match="exceeds max_frame_pixels"):
        serve(gifs=tf.constant([bomb]))
    # The process lives on and serves good requests.
    out = serve(gifs=tf.constant([tiny_gif()]))
    assert out["intensities"].shape == (1, 17)


def test_warmup_requests_parse_and_replay(exported, loaded):
    logs = read_warmup_requests(
        os.path.join(exported, "assets.extra", "tf_serving_warmup_requests")
    )
    assert len(logs) == 1
    request = logs[0].predict_log.request
    assert request.model_spec.name == "kavan"
    assert request.model_spec.signature_name == GIFS_SIGNATURE
    gifs = tf.make_ndarray(request.inputs["gifs"])
    assert gifs.shape == (1,) and gifs[0].startswith(b"GIF89a")
    out = loaded.signatures[GIFS_SIGNATURE](gifs=tf.constant(gifs))
    assert out["category_name"].shape == (1,)


def test_explicit_version_custom_warmup_and_limits(model, tmp_path):
    gifs = [tiny_gif(2), tiny_gif(6, (16, 16))]
    path = export_saved_model(
        model, tmp_path, "m", version=5, warmup_gifs=gifs, serving_base_path="/srv/m",
        data_config=DataConfig(max_frame_pixels=100 * 100),
    )
    assert path == str(tmp_path / "m" / "5")
    logs = read_warmup_requests(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
    assert [tf.make_ndarray(log.predict_log.request.inputs["gifs"])[0] for log in logs] == gifs
    assert 'base_path: "/srv/m"' in (tmp_path / "m" / "models.config").read_text()
    big = tiny_gif(2, (120, 100))
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_frame_pixels=10000"):
        tf.saved_model.load(path).signatures[GIFS_SIGNATURE](gifs=tf.constant([big]))


def test_bad_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="name="):
        export_saved_model(model, tmp_path, "../escape")
    with pytest.raises(ValueError, match="version=0"):
        export_saved_model(model, tmp_path, "kavan", version=0)
    with pytest.raises(ValueError, match="KavanModel"):
        export_saved_model(object(), tmp_path)
    with pytest.raises(ValueError, match="warmup_gifs"):
        export_saved_model(model, tmp_path, "w", warmup_gifs=[])
    with pytest.raises(ValueError, match=r"warmup_gifs=\[<6 bytes>, str\]"):
        export_saved_model(model, tmp_path, "w", warmup_gifs=[b"GIF89a", "x.gif"])
    features = KavanModel(tiny_model_config(input_mode="features", feature_shape=(2, 2, 8)))
    with pytest.raises(ValueError, match="input_mode='features'"):
        export_saved_model(features, tmp_path)


def test_failed_export_leaves_nothing_behind(model, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path, "kavan")
    assert os.listdir(tmp_path / "kavan") == []


def _pillow_integer_resize(frames, target):
    """Pillow's 8-bit bilinear arithmetic, horizontal pass first, in numpy int64."""
    from kavan_tf.export.serving_graph import _pillow_bilinear_taps

    def one_pass(x, out_size):  # along axis 1 of [N, in, M, C]
        indices, weights = (t.numpy() for t in _pillow_bilinear_taps(x.shape[1], out_size))
        total = np.einsum("ok,nokmc->nomc", weights.astype(np.int64),
                          x[:, indices].astype(np.int64))
        return np.clip((total + (1 << 21)) >> 22, 0, 255).astype(np.uint8)

    x = one_pass(frames.transpose(0, 2, 1, 3), target[1]).transpose(0, 2, 1, 3)
    return one_pass(x, target[0]).astype(np.float32)


@pytest.mark.parametrize("path", ["blocks", "taps", "chunked taps, frame by frame"])
@pytest.mark.parametrize(
    "source, target",
    [((240, 240), (224, 224)), ((281, 500), (224, 224)), ((1000, 33), (17, 224)),
     ((3, 700), (224, 9)), ((224, 224), (224, 224)), ((2, 1), (1, 2)),
     ((2500, 40), (13, 224))],
)
def test_resize_equals_pillow_integer_arithmetic(monkeypatch, path, source, target):
    # Shrinking both axes (the usual case; Pillow may then change the pass
    # order), large downscales (many taps), upscales, and output sizes that
    # are not a multiple of the 8-pixel blocks, through both ways of
    # computing a pass: equal to the integer arithmetic, tap by tap.
    from kavan_tf.export import serving_graph

    if path != "blocks":  # the memory-bounded pass that large frames take
        monkeypatch.setattr(serving_graph, "_BLOCK_PASS_BYTES", 0)
    if path.startswith("chunked"):  # what a 1 x 65535 frame takes
        monkeypatch.setattr(serving_graph, "_TAP_CHUNK_ELEMENTS", 50_000)
        monkeypatch.setattr(serving_graph, "_BATCHED_RESIZE_ELEMENTS", 10)
    frames = np.random.default_rng(7).integers(0, 256, (2, *source, 3), dtype=np.uint8)
    expected = _pillow_integer_resize(frames, target)
    np.testing.assert_array_equal(resize_stretch(frames, target).numpy(), expected)
    graph = tf.function(lambda f: resize_stretch(f, target),
                        input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
    np.testing.assert_array_equal(graph(frames).numpy(), expected)


FRESH_PROCESS = """
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
gifs = tf.constant([open(p, "rb").read() for p in sys.argv[3:]])
out = loaded.signatures["serving_default"](gifs=gifs)
np.save(sys.argv[2], loaded.decode_gifs(gifs).numpy())
assert out["intensities"].shape == (len(sys.argv) - 3, 17)
assert out["valence"].shape == out["arousal"].shape == (len(sys.argv) - 3,)
assert not any(name.startswith("kavan_tf") for name in sys.modules), "package imported"
print("SERVED", out["category_name"].numpy().tolist())
"""


def test_fresh_process_without_the_package_serves_the_reference_frames(exported, tmp_path):
    """What TF Serving does: load the SavedModel with TensorFlow alone and send
    GIFs with transparency and disposal 2 and 3; the frames fed to the model
    are the reference decoder's. The GIFs are built here; the corpora's GIFs
    with those features go in the same request when the corpora are present."""
    gifs = built_gifs()
    paths = []
    for name in ("restore_background", "restore_previous", "disposal_mix"):
        paths.append(tmp_path / f"{name}.gif")
        paths[-1].write_bytes(gifs[name])
    testdata = corpora.testdata_path()
    if testdata is not None:
        root = testdata / "gifs"
        paths += [
            root / "gif-test-suite" / "animated_transparent_frame_restorebackground_loop.gif",
            root / "gif-test-suite" / "animated_transparent_restoreprev_loop.gif",
            root / "pillow" / "dispose_bgnd_transparency.gif",
        ]
    out = tmp_path / "frames.npy"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(exported), str(out), *map(str, paths)],
        capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SERVED" in result.stdout
    served = np.load(out)
    for i, path in enumerate(paths):
        decoded = decode_gif(path)
        indices = sampling.sample_indices(decoded.num_frames, T, training=False)
        python, _ = sampling.resize_frames(decoded.frames[indices], (SIZE, SIZE))
        np.testing.assert_allclose(served[i], python, atol=1, err_msg=str(path))


@pytest.mark.slow
def test_kavan_export_ended_by_sigterm_leaves_no_staging_folder(model, tmp_path):
    """SIGTERM during the export: the command ends with status 143 and removes
    its staging folder; no version is written."""
    import signal

    model.save(tmp_path / "model.keras")
    out = tmp_path / "savedmodels"
    code, stderr, _ = signal_once_ready(
        [sys.executable, "-m", "kavan_tf.cli", "export", str(tmp_path / "model.keras"),
         "--export-dir", str(out), "--name", "kavan"],
        lambda process: bool(list(out.glob("kavan/.tmp-export-*"))), signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, stderr[-2000:]
    assert "kavan export: terminated (SIGTERM)" in stderr
    assert sorted(p.name for p in (out / "kavan").iterdir()) == []
