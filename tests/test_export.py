"""SavedModel export: signatures, in-graph decoding, versions, warm-up, model config."""

import io
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
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.gif import decode_gif
from kavan_tf.errors import GifDecodeError
from kavan_tf.export import (
    FRAMES_SIGNATURE,
    GIFS_SIGNATURE,
    BatchingParameters,
    export_saved_model,
    list_versions,
    rare_branches_gif,
    read_warmup_requests,
    tiny_gif,
    warmup_gifs,
)
from kavan_tf.export.gif_graph import eval_frame_indices
from kavan_tf.export.serving_graph import resize_stretch
from kavan_tf.labels import DEFAULT_CATEGORY_NAMES, EMOTIONS
from kavan_tf.models import KavanModel
from kavan_tf.predict import display_frames


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


def _model_frames(loaded, gif: bytes) -> np.ndarray:
    """The frames ``serving_default`` feeds the model for ``gif``: the
    SavedModel's decoder, then the graph's stretch."""
    decoded = loaded.decode_gif(tf.constant(gif))
    assert decoded["error"].numpy() == b""
    return resize_stretch(decoded["frames"], (SIZE, SIZE)).numpy()


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
    assert sorted(os.listdir(model_dir)) == ["1", "2", "batching_parameters.txt", "models.config"]


def test_model_config_file(exported, export_root):
    from tensorflow_serving.config import model_server_config_pb2

    text = (export_root / "kavan" / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert entry.name == "kavan"
    assert entry.base_path == "/models/kavan"
    assert entry.model_platform == "tensorflow"


def test_batching_parameters_file(export_root):
    """The server-side batching settings TF Serving reads with
    ``--batching_parameters_file``: its text format, and TF Serving's rule
    that the allowed sizes rise to ``max_batch_size``."""
    text = (export_root / "kavan" / "batching_parameters.txt").read_text()
    values: dict[str, list[int]] = {}
    for line in text.splitlines():
        name, value = line.split(maxsplit=1)
        number = value.removeprefix("{ value:").removesuffix("}").strip()
        values.setdefault(name.rstrip(":"), []).append(int(number))
    assert set(values) == {"max_batch_size", "batch_timeout_micros", "num_batch_threads",
                           "max_enqueued_batches", "allowed_batch_sizes"}
    allowed = values.pop("allowed_batch_sizes")
    assert allowed == sorted(set(allowed)) and allowed[-1] == values["max_batch_size"][0]
    assert all(len(v) == 1 and v[0] > 0 for v in values.values())
    defaults = BatchingParameters()
    assert values["max_batch_size"] == [defaults.max_batch_size]
    assert tuple(allowed) == defaults.allowed_batch_sizes


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
    # Each GIF's refusal, as a value.
    assert _tensor_info(signatures[GIFS_SIGNATURE], "outputs", "error") == ("DT_STRING", "(-1)")
    assert _tensor_info(signatures[GIFS_SIGNATURE], "outputs", "ok") == ("DT_BOOL", "(-1)")


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
    np.testing.assert_array_equal(np.stack([_model_frames(loaded, g) for g in gifs]), frames)
    assert served["ok"].numpy().all() and not any(served["error"].numpy())


def test_in_graph_pipeline_matches_python_pipeline_on_plain_gif(model, loaded):
    # A plain GIF (full frames, no transparency) smaller than the model's
    # frames: both decoders and both resizers agree exactly.
    gif = tiny_gif(5, (24, 20))
    decoded = decode_gif(gif)
    np.testing.assert_array_equal(tf.io.decode_gif(gif).numpy(), decoded.frames)
    indices = sampling.sample_indices(decoded.num_frames, T, training=False)
    python, _ = sampling.resize_frames(decoded.frames[indices], (SIZE, SIZE))
    np.testing.assert_array_equal(_model_frames(loaded, gif), python)
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


def _refusals() -> dict[str, bytes]:
    """One file of each way a GIF is refused."""
    good = tiny_gif(5, (24, 20))
    data_start = good.index(b"\x2c") + 10  # the first frame's code-size byte
    return {
        "not a GIF": b"definitely not a gif",
        "empty": b"",
        "nothing before the first frame": b"GIF89a" + b"\x01" * 40,
        "no image before the trailer": b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0, 0, 0) + b";",
        "limits exceeded": b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b";",
        "a frame's stream cut": good[: data_start + 3],
        "a bomb": b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0) + struct.pack(
            "<BHHHHB", 0x2C, 0, 0, 65535, 65535, 0) + b"\x08\x02\x00\x01\x00;",
    }


def test_a_refused_gif_fails_only_itself(model, loaded):
    """Batches mixing good GIFs with every way of being refused: each good GIF
    gets what it gets alone; each refused one its own error, in the reference
    decoder's words, and predictions no one can take for real ones."""
    serve = loaded.signatures[GIFS_SIGNATURE]
    goods = [tiny_gif(3, (20, 30)), tiny_gif(T, (32, 48))]
    alone = [serve(gifs=tf.constant([g])) for g in goods]
    for kind, bad in _refusals().items():
        with pytest.raises(GifDecodeError) as refused:
            decode_gif(bad)
        out = {k: v.numpy() for k, v in serve(gifs=tf.constant([goods[0], bad, goods[1]])).items()}
        assert out["error"][1].decode() == refused.value.cause, kind
        assert out["ok"].tolist() == [True, False, True], kind
        assert out["error"][0] == out["error"][2] == b""
        for row, single in ((0, alone[0]), (2, alone[1])):
            for name in ("intensities", "category", "attention", "valence", "arousal"):
                np.testing.assert_allclose(out[name][row], single[name].numpy()[0], atol=1e-6,
                                           err_msg=f"{kind}: {name}")
            for name in ("category_id", "category_name", "ranked_emotions"):
                np.testing.assert_array_equal(out[name][row], single[name].numpy()[0])
        for name in ("intensities", "category", "attention", "ranked_intensities", "valence",
                     "arousal"):
            assert np.isnan(out[name][1]).all(), (kind, name)
        assert out["category_id"][1] == -1 and out["category_name"][1] == b""
        assert not any(out["ranked_emotions"][1])
    # A batch of refusals only still answers, row by row.
    out = serve(gifs=tf.constant(list(_refusals().values())))
    assert not out["ok"].numpy().any() and all(out["error"].numpy())


def test_predict_with_frames_gives_the_served_outputs_and_the_display_frames(loaded):
    """The one extra function: serving_default's outputs and, from the same
    decoding, the sampled frames scaled as the predictor shows them."""
    small, large = tiny_gif(3, (20, 30)), tiny_gif(5, (600, 240))
    gifs = tf.constant([small, b"not a gif", large])
    out = {k: v.numpy() for k, v in loaded.predict_with_frames(gifs).items()}
    served = loaded.signatures[GIFS_SIGNATURE](gifs=gifs)
    for name in ("intensities", "error", "ok"):
        np.testing.assert_array_equal(out[name], served[name].numpy())
    assert out["display_size"].tolist() == [[20, 30], [0, 0], [480, 192]]
    assert out["source_size"].tolist() == [[20, 30], [0, 0], [600, 240]]
    for row, gif in ((0, small), (2, large)):
        decoded = decode_gif(gif)
        indices = sampling.sample_indices(decoded.num_frames, T, training=False)
        np.testing.assert_array_equal(out["frame_indices"][row], indices)
        height, width = out["display_size"][row]
        shown = out["display_frames"][row]
        # Pillow may run the passes in the other order when both axes shrink
        # (resize_stretch): then single pixels differ by one grey level.
        np.testing.assert_allclose(shown[:, :height, :width],
                                   display_frames(decoded.frames[indices]), atol=1)
        assert not shown[:, height:].any() and not shown[:, :, width:].any()


def test_labels_are_variables_of_the_saved_model(model, loaded):
    labels = model.label_config
    assert [n.decode() for n in loaded.emotion_names.numpy()] == list(labels.emotions)
    assert [n.decode() for n in loaded.category_names.numpy()] == list(labels.category_names)
    assert loaded.emotion_categories.numpy().tolist() == [
        int(c) for c in labels.emotion_to_category()]


def test_the_decoder_is_traced_once_small_and_on_the_cpu(exported):
    """Every endpoint calls one decoder function, which holds no large
    constants and whose ops are placed on the CPU (docs/serving.md)."""
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(exported, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    library = saved.meta_graphs[0].graph_def.library.function
    decoders = [f for f in library if f.signature.name.startswith("__inference__decode_distinct_")]
    assert len(decoders) == 1
    constant_bytes = sum(node.attr["value"].tensor.ByteSize() for f in library
                         for node in f.node_def if node.op == "Const")
    assert constant_bytes < 256 * 1024
    # The decoder's functions: the one above and those it calls, transitively.
    by_name = {f.signature.name: f for f in library}
    reached, todo = set(), [decoders[0].signature.name]
    while todo:
        name = todo.pop()
        if name in reached or name not in by_name:
            continue
        reached.add(name)
        for node in by_name[name].node_def:
            for value in node.attr.values():
                if value.func.name:
                    todo.append(value.func.name)
                todo.extend(f.name for f in value.list.func)
    decode_ops = [node for name in reached for node in by_name[name].node_def
                  if node.op in ("DecodeGif", "DecodeRaw", "StatelessWhile", "While")]
    assert len(reached) > 1 and decode_ops
    assert all("CPU" in node.device for node in decode_ops), {
        node.op: node.device for node in decode_ops if "CPU" not in node.device}


def test_warmup_requests_parse_and_replay(exported, loaded):
    logs = read_warmup_requests(
        os.path.join(exported, "assets.extra", "tf_serving_warmup_requests")
    )
    # The default warm-up GIFs: a plain one, and one that takes the decoder's
    # branches built on first use. Both are served the reference frames.
    assert len(logs) == 2
    for log, expected in zip(logs, warmup_gifs(T), strict=True):
        request = log.predict_log.request
        assert request.model_spec.name == "kavan"
        assert request.model_spec.signature_name == GIFS_SIGNATURE
        gifs = tf.make_ndarray(request.inputs["gifs"])
        assert gifs.tolist() == [expected]
        out = loaded.signatures[GIFS_SIGNATURE](gifs=tf.constant(gifs))
        assert out["category_name"].shape == (1,) and out["ok"].numpy().all()
        np.testing.assert_array_equal(_model_frames(loaded, expected), _reference_frames(expected))


def test_rare_branches_gif_holds_tiny_gifs_frames_laid_out_unusually():
    gif = rare_branches_gif(T)
    np.testing.assert_array_equal(decode_gif(gif).frames,
                                  decode_gif(tiny_gif(T, disposal=3)).frames)
    with Image.open(io.BytesIO(gif)) as image:
        image.seek(1)
        assert image.disposal_method == 3
    # Ten comment extensions in a row after the global colour table ...
    table = 3 << ((gif[10] & 7) + 1)
    pos = 13 + table
    for _ in range(10):
        assert gif[pos:pos + 3] == bytes([0x21, 0xFE, 1]) and gif[pos + 4] == 0
        pos += 5
    # ... and the first frame's LZW data in sub-blocks of 1, 2, 3, ... bytes.
    assert gif[pos:pos + 2] == bytes([0x21, 0xF9])
    pos += 8
    assert gif[pos] == 0x2C
    flags = gif[pos + 9]
    pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
    lengths = []
    while gif[pos]:
        lengths.append(gif[pos])
        pos += 1 + gif[pos]
    assert len(lengths) > 3 and lengths[:-1] == list(range(1, len(lengths)))


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
    out = tf.saved_model.load(path).signatures[GIFS_SIGNATURE](gifs=tf.constant([big]))
    with pytest.raises(GifDecodeError, match="max_frame_pixels=10000") as refused:
        decode_gif(big, max_frame_pixels=100 * 100)
    assert out["error"].numpy()[0].decode() == refused.value.cause


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
    frames[1, ::2] = 255  # white rows: the largest sums the int32 arithmetic meets
    expected = _pillow_integer_resize(frames, target)
    np.testing.assert_array_equal(resize_stretch(frames, target).numpy(), expected)
    graph = tf.function(lambda f: resize_stretch(f, target),
                        input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
    np.testing.assert_array_equal(graph(frames).numpy(), expected)


FRESH_PROCESS = """
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
gifs = [open(p, "rb").read() for p in sys.argv[3:]]
# A mixed batch: the files, with a file that is not a GIF in the middle.
batch = tf.constant(gifs[:1] + [b"not a gif"] + gifs[1:])
out = loaded.signatures["serving_default"](gifs=batch)
np.savez(sys.argv[2], *[loaded.decode_gif(tf.constant(g))["frames"].numpy() for g in gifs])
assert out["intensities"].shape == (len(gifs) + 1, 17)
assert out["valence"].shape == out["arousal"].shape == (len(gifs) + 1,)
assert out["ok"].numpy().tolist() == [True, False] + [True] * (len(gifs) - 1)
assert not np.isnan(np.delete(out["intensities"].numpy(), 1, axis=0)).any()
assert not any(name.startswith("kavan_tf") for name in sys.modules), "package imported"
print("SERVED", out["category_name"].numpy().tolist())
print("REFUSED", out["error"].numpy()[1].decode())
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
    out = tmp_path / "frames.npz"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(exported), str(out), *map(str, paths)],
        capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SERVED" in result.stdout
    with pytest.raises(GifDecodeError) as refused:
        decode_gif(b"not a gif")
    assert f"REFUSED {refused.value.cause}" in result.stdout
    served = np.load(out)
    for i, path in enumerate(paths):
        decoded = decode_gif(path)
        indices = sampling.sample_indices(decoded.num_frames, T, training=False)
        np.testing.assert_array_equal(served[f"arr_{i}"], decoded.frames[indices],
                                      err_msg=str(path))


SESSION_LOADER = """
import sys, numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    # The loader of TF Serving's C++ SavedModelBundle: import the graph, run
    # the SavedModel's restore op, then run signatures by tensor name.
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], sys.argv[1])
    feeds = {"serving_frames": np.load(sys.argv[3]),
             "serving_default": np.array([open(sys.argv[4], "rb").read(), b"not a gif"],
                                         dtype=object)}
    results = {}
    for name, value in feeds.items():
        signature = meta_graph.signature_def[name]
        (input_info,) = signature.inputs.values()
        outputs = {key: signature.outputs[key].name for key in ("intensities", "ok")
                   if key in signature.outputs}
        for key, value_out in session.run(outputs, {input_info.name: value}).items():
            results[f"{name}/{key}"] = value_out
assert not any(name.startswith("kavan_tf") for name in sys.modules), "package imported"
np.savez(sys.argv[2], **results)
"""


def test_a_graph_loader_like_tf_serving_serves_the_trained_weights(model, loaded, exported,
                                                                    tmp_path):
    """TF Serving restores variables by running the SavedModel's restore op on
    its graph, not through the Python object graph. Every variable the served
    functions read must be the one that op restores: the outputs equal the
    Keras model's, and the GIF signature's equal ``tf.saved_model.load``'s."""
    frames = np.random.default_rng(1).uniform(0, 255, (2, T, SIZE, SIZE, 3)).astype("float32")
    np.save(tmp_path / "frames.npy", frames)
    gif = tiny_gif(T)
    (tmp_path / "one.gif").write_bytes(gif)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", SESSION_LOADER, str(exported), str(tmp_path / "out.npz"),
         str(tmp_path / "frames.npy"), str(tmp_path / "one.gif")],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "out.npz")
    np.testing.assert_allclose(served["serving_frames/intensities"],
                               _keras(model, frames)["intensities"], atol=1e-5)
    alone = loaded.signatures[GIFS_SIGNATURE](gifs=tf.constant([gif, b"not a gif"]))
    np.testing.assert_allclose(served["serving_default/intensities"][0],
                               alone["intensities"].numpy()[0], atol=1e-5)
    assert served["serving_default/ok"].tolist() == [True, False]


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
