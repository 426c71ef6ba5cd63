"""Prediction on GIF files: predictors, bad files, output formats, overlays, CLI entry points."""

import csv
import dataclasses
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from built_gifs import built_gifs
from helpers import SIZE, T, tiny_model_config
from PIL import Image

from kavan_tf.cli import main
from kavan_tf.data.gif import decode_gif
from kavan_tf.errors import GifDecodeError
from kavan_tf.export import export_keras_file, export_saved_model, tiny_gif
from kavan_tf.labels import DEFAULT_CATEGORY_NAMES, EMOTIONS
from kavan_tf.models import KavanModel
from kavan_tf.predict import (
    GifResult,
    KerasPredictor,
    ReportWriter,
    SavedModelPredictor,
    draw_results,
    format_table,
    load_predictor,
    overlay_frames,
    predict_paths,
    write_csv,
    write_jsonl,
    write_overlays,
    write_results,
)
from kavan_tf.predict import inputs as inputs_module
from kavan_tf.predict.inputs import DISPLAY_MAX, display_frames
from kavan_tf.predict.overlays import MIN_SIDE, supervision_heatmaps, upsample_masks


@pytest.fixture(scope="module")
def keras_path(tmp_path_factory):
    model = KavanModel(tiny_model_config())
    path = tmp_path_factory.mktemp("model") / "kavan.keras"
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def keras_predictor(keras_path):
    predictor = load_predictor(keras_path)
    assert isinstance(predictor, KerasPredictor)
    return predictor


@pytest.fixture(scope="module")
def model_dir(keras_predictor, tmp_path_factory):
    root = tmp_path_factory.mktemp("savedmodels")
    export_saved_model(keras_predictor.model, root, "kavan")
    return root / "kavan"


@pytest.fixture(scope="module")
def saved_predictor(model_dir):
    # GIF bytes to the graph's decoder, as TF Serving clients send them.
    return load_predictor(model_dir, decoder="graph")


@pytest.fixture(scope="module")
def gif_dir(tmp_path_factory):
    # GIFs smaller than the model's frames, so that the in-graph and the Python
    # pipelines give identical frames.
    root = tmp_path_factory.mktemp("gifs")
    (root / "good1.gif").write_bytes(tiny_gif(3, (20, 24)))
    (root / "sub").mkdir()
    (root / "sub" / "good2.GIF").write_bytes(tiny_gif(6, (16, 30)))
    (root / "bad.gif").write_bytes(b"this is not a gif at all")
    (root / "notes.txt").write_text("not a gif, not listed")
    return root


def _names(results):
    return [os.path.relpath(r.path, os.path.dirname(results[0].path)) for r in results]


def _check_good(result, top_k=3):
    assert result.ok and result.error is None
    assert list(result.intensities) == list(EMOTIONS)
    assert all(-1.0 <= v <= 1.0 for v in result.intensities.values())
    values = [v for _, v in result.top_emotions]
    assert len(values) == top_k and values == sorted(values, reverse=True)
    assert result.top_emotions[0][1] == max(result.intensities.values())
    assert result.category_name == DEFAULT_CATEGORY_NAMES[result.category_id]
    # Every category is named, also those no GIF of the batch fell into.
    assert list(result.category_probabilities) == list(DEFAULT_CATEGORY_NAMES)
    assert sum(result.category_probabilities.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_savedmodel_directory_with_a_corrupt_file(saved_predictor, gif_dir, batch_size):
    results = predict_paths(saved_predictor, [gif_dir], batch_size=batch_size, progress=False)
    assert _names(results) == ["bad.gif", "good1.gif", os.path.join("sub", "good2.GIF")]
    bad, *good = results
    assert not bad.ok and bad.error.startswith(str(gif_dir / "bad.gif"))
    assert "not a GIF" in bad.error and "Graph execution" not in bad.error
    assert bad.intensities == {} and bad.category_name is None
    for result in good:
        _check_good(result)


def test_keras_and_savedmodel_predictors_agree(keras_predictor, saved_predictor, gif_dir):
    paths = [gif_dir / "good1.gif", gif_dir / "bad.gif", gif_dir / "sub" / "good2.GIF",
             gif_dir / "missing.gif"]
    from_keras = predict_paths(keras_predictor, paths, batch_size=2, progress=False, top_k=5)
    from_saved = predict_paths(saved_predictor, paths, batch_size=2, progress=False, top_k=5)
    assert [r.ok for r in from_keras] == [r.ok for r in from_saved] == [True, False, True, False]
    for a, b in zip(from_keras, from_saved, strict=True):
        if a.ok:
            _check_good(a, top_k=5)
            np.testing.assert_allclose(
                list(a.intensities.values()), list(b.intensities.values()), atol=1e-5
            )
            assert a.category_id == b.category_id
            # Valence and arousal: the model's outputs, through both predictors.
            probabilities = list(a.category_probabilities.values())
            assert a.valence == pytest.approx(np.dot(probabilities, [1, 1, -1, -1]), abs=1e-5)
            assert a.arousal == pytest.approx(np.dot(probabilities, [1, -1, 1, -1]), abs=1e-5)
            assert (b.valence, b.arousal) == pytest.approx((a.valence, a.arousal), abs=1e-5)
    assert "cannot decode GIF: not a GIF file" in from_keras[1].error
    # One message whichever decoder refused the file.
    assert from_keras[1].error == from_saved[1].error
    assert "cannot read the file" in from_keras[3].error
    assert from_keras[3].error == from_saved[3].error


def test_python_decoder_for_savedmodels(keras_predictor, model_dir, tmp_path, monkeypatch):
    # A GIF with a transparent colour and disposal 2 (built_gifs): both the
    # python decoder and the SavedModel's graph decoder give the .keras
    # predictor's frames.
    path = tmp_path / "restore_background.gif"
    path.write_bytes(built_gifs()["restore_background"])
    python = load_predictor(model_dir)  # the reference decoder by default
    assert isinstance(python, SavedModelPredictor) and python.image_size == (SIZE, SIZE)
    (expected,) = predict_paths(keras_predictor, [path], progress=False, keep_frames=True)
    graph_calls = []
    with monkeypatch.context() as patched:
        patched.setattr(SavedModelPredictor, "run_gifs",
                        lambda self, gifs, **k: graph_calls.append(len(gifs)))
        (same,) = predict_paths(python, [path], progress=False, keep_frames=True)
    assert graph_calls == []  # no GIF bytes went to the graph
    (graph,) = predict_paths(
        load_predictor(model_dir, decoder="graph"), [path], progress=False, keep_frames=True
    )
    np.testing.assert_array_equal(same.frames, expected.frames)
    np.testing.assert_allclose(
        list(same.intensities.values()), list(expected.intensities.values()), atol=1e-5
    )
    np.testing.assert_array_equal(graph.frames, expected.frames)
    with pytest.raises(ValueError, match="decoder='pil'"):
        load_predictor(model_dir, decoder="pil")


def test_load_predictor_paths(model_dir, keras_path, tmp_path):
    assert isinstance(load_predictor(model_dir / "1"), SavedModelPredictor)
    # A version folder without a SavedModel in it is passed over.
    (model_dir / "9").mkdir()
    try:
        assert load_predictor(model_dir).path == str(model_dir / "1")
    finally:
        (model_dir / "9").rmdir()
    with pytest.raises(FileNotFoundError, match="no such model"):
        load_predictor(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="saved_model.pb"):
        load_predictor(tmp_path)
    (tmp_path / "model.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=r"expected a \.keras file"):
        load_predictor(tmp_path / "model.h5")


def _results():
    good = GifResult(
        path="a/cat.gif",
        intensities={e: (-0.5 if e != "happiness" else 0.75) for e in EMOTIONS},
        top_emotions=[("happiness", 0.75), ("amusement", -0.5)],
        category_name="pleasure-arousal",
        category_id=0,
        category_probabilities={name: 0.25 for name in DEFAULT_CATEGORY_NAMES},
        valence=0.5,
        arousal=-0.25,
    )
    bad = GifResult(path="b/broken.gif", error="b/broken.gif: cannot decode GIF: truncated")
    return [good, bad]


def test_format_table():
    lines = format_table(_results()).splitlines()
    assert lines[0].split() == ["path", "category", "valence", "arousal", "top", "emotions"]
    assert lines[1].split() == [
        "a/cat.gif", "pleasure-arousal", "+0.50", "-0.25", "happiness", "+0.750,", "amusement",
        "-0.500"
    ]
    assert lines[2].startswith("b/broken.gif ")
    assert "ERROR" in lines[2] and lines[2].endswith("cannot decode GIF: truncated")
    # Columns line up.
    assert lines[1].index("pleasure-arousal") == lines[2].index("ERROR")


def test_write_jsonl():
    buffer = io.StringIO()
    write_jsonl(_results(), buffer)
    good, bad = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert good["path"] == "a/cat.gif" and good["category"] == "pleasure-arousal"
    assert good["category_id"] == 0 and good["error"] is None
    assert good["valence"] == 0.5 and good["arousal"] == -0.25 and bad["valence"] is None
    assert good["top_emotions"][0] == {"emotion": "happiness", "intensity": 0.75}
    assert list(good["intensities"]) == list(EMOTIONS)
    assert bad["error"].endswith("truncated") and bad["category"] is None
    assert bad["intensities"] == {} and bad["top_emotions"] == []


def test_write_csv(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(_results(), path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "category", "category_id", "valence", "arousal",
                             "top_emotions", *EMOTIONS, "error"]
    assert float(rows[0]["valence"]) == 0.5 and float(rows[0]["arousal"]) == -0.25
    assert rows[1]["valence"] == ""
    assert rows[0]["top_emotions"] == "happiness:0.750000;amusement:-0.500000"
    assert float(rows[0]["happiness"]) == 0.75 and rows[0]["error"] == ""
    assert rows[1]["category"] == "" and rows[1]["happiness"] == ""
    assert rows[1]["error"] == "b/broken.gif: cannot decode GIF: truncated"


def test_overlay_frames_colours():
    frames = np.full((2, 8, 8, 3), 100, np.uint8)
    attention = np.zeros((2, 2, 2), np.float32)
    attention[:, 0, 0] = 1.0
    np.testing.assert_array_equal(overlay_frames(frames, attention, alpha=0.0), frames)
    colour = overlay_frames(frames, attention, alpha=1.0)
    # Jet: the peak is dark red, zero attention dark blue.
    np.testing.assert_array_equal(colour[0, 0, 0], [128, 0, 0])
    np.testing.assert_array_equal(colour[0, -1, -1], [0, 0, 128])
    with pytest.raises(ValueError, match="same T"):
        overlay_frames(frames, attention[:1])


@pytest.mark.parametrize("which", ["keras", "saved"])
def test_overlays_are_animated_gifs_at_the_gifs_size(which, keras_predictor, saved_predictor,
                                                     gif_dir, tmp_path):
    predictor = keras_predictor if which == "keras" else saved_predictor
    results = predict_paths(predictor, [gif_dir], progress=False, keep_frames=True)
    sizes = {}
    for result in results:
        if result.ok:
            # The sampled frames at the GIF's own size, not the model's 32 x 32.
            reference = decode_gif(result.path).frames
            np.testing.assert_array_equal(result.frames, reference[result.frame_indices])
            assert result.attention.shape == (T, 2, 2)
            sizes[os.path.basename(result.path)] = reference.shape[1:3]
    written = write_overlays(results, tmp_path)
    assert [os.path.basename(p) for p in written] == [
        "good1.attention.gif", "good2.attention.gif"
    ]
    for path in written:
        height, width = sizes[os.path.basename(path).replace(".attention.gif", ".gif")
                              .replace("good2.gif", "good2.GIF")]
        with Image.open(path) as image:
            assert image.format == "GIF" and image.is_animated
            assert image.n_frames == T
            # Small GIFs are drawn at MIN_SIDE on the long side, with the panel beside.
            assert image.size[1] == max(round(height * MIN_SIDE / max(height, width)), 140)
            assert image.size[0] >= round(width * MIN_SIDE / max(height, width)) + 100


@pytest.mark.parametrize("which", ["keras", "saved"])
def test_large_gifs_keep_frames_capped_at_480_from_one_decoding(
        which, keras_predictor, saved_predictor, tmp_path, monkeypatch):
    path = tmp_path / "large.gif"
    path.write_bytes(tiny_gif(5, (300, 640)))
    reference = decode_gif(path).frames
    decoded = []
    real = inputs_module.decode_media
    monkeypatch.setattr(inputs_module, "decode_media",
                        lambda *a, **k: decoded.append(a) or real(*a, **k))
    predictor = keras_predictor if which == "keras" else saved_predictor
    (result,) = predict_paths(predictor, [path], progress=False, keep_frames=True)
    assert result.ok and result.source_size == (300, 640)
    assert result.frames.shape == (T, 225, DISPLAY_MAX, 3)
    np.testing.assert_array_equal(result.frames,
                                  display_frames(reference[result.frame_indices]))
    # One decoding per file: the graph path decodes in the SavedModel only.
    assert len(decoded) == (1 if which == "keras" else 0)
    (overlay,) = write_overlays([result], tmp_path / "overlays")
    with Image.open(overlay) as image:
        assert image.size[1] == 225 and image.size[0] > DISPLAY_MAX


def test_kavan_predict_writes_each_format_and_reports_failures(keras_path, model_dir, gif_dir,
                                                                tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    status = main(["predict", str(gif_dir), "--model", str(model_dir), "--format", "jsonl",
                   "--output", str(out), "--overlay", str(tmp_path / "overlays")])
    assert status == 1  # bad.gif failed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["error"] is None for r in records] == [False, True, True]
    assert sorted(os.listdir(tmp_path / "overlays")) == [
        "good1.attention.gif", "good2.attention.gif"
    ]
    err = capsys.readouterr().err
    assert "1 of 3 file(s) could not be predicted" in err
    assert f"Wrote 2 attention overlay(s) to {tmp_path / 'overlays'}" in err

    status = main(["predict", str(gif_dir / "good1.gif"), "--model", str(keras_path),
                   "--top-k", "2"])
    assert status == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("path") and table[1].startswith(str(gif_dir / "good1.gif"))

    assert main(["predict", str(gif_dir / "good1.gif"), "--model", str(keras_path),
                 "--format", "csv", "--output", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text().startswith("path,category,category_id,")
    with pytest.raises(ValueError, match="output_format='xml'"):
        write_results([], "xml", io.StringIO())


def test_export_keras_file(keras_path, gif_dir, tmp_path, capsys):
    path = export_keras_file(keras_path, tmp_path, "emo", warmup_gifs=[gif_dir / "good1.gif"])
    assert path == str(tmp_path / "emo" / "1")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert main(["export", str(keras_path), "--export-dir", str(tmp_path), "--name", "emo"]) == 0
    assert capsys.readouterr().out.strip() == f"SavedModel written to {tmp_path / 'emo' / '2'}"
    with pytest.raises(FileNotFoundError, match="no such model file"):
        export_keras_file(tmp_path / "missing.keras", tmp_path)


def test_upsampled_attention_is_smooth_and_cropped_to_the_picture():
    masks = np.zeros((1, 2, 2), np.float32)
    masks[0, 0, 0] = 1.0
    full = upsample_masks(masks, (40, 40))
    assert full[0, 0, 0] == full.max() == 1.0
    assert len(np.unique(full)) > 20  # a gradient, not four blocks
    assert np.all(np.diff(full[0, 0, 10:30]) < 0)
    # Letterboxed: the picture fills the middle half of the model's rows.
    np.testing.assert_allclose(upsample_masks(masks, (20, 40), (0.0, 0.25, 1.0, 0.5)),
                               full[:, 10:30], atol=1e-6)


def test_overlays_show_the_supervision_heatmaps_of_training(keras_path, keras_predictor,
                                                            tmp_path):
    from kavan_tf.config import KavanConfig
    from kavan_tf.data.pipeline import load_example
    from kavan_tf.synthetic import SyntheticConfig, generate_dataset

    generate_dataset(tmp_path / "synth", SyntheticConfig(num_gifs=2, frame_size=(48, 48),
                                                         num_frames=(5, 9)))
    gif = tmp_path / "synth" / "gifs" / "syn00000.gif"
    points = tmp_path / "synth" / "keypoints" / "syn00000.json"
    (result,) = predict_paths(keras_predictor, [gif], progress=False, keep_frames=True)
    heatmaps = supervision_heatmaps(result, str(points))
    config = KavanConfig.from_dict({"model": {"image_size": [SIZE, SIZE], "num_frames": T}})
    example = load_example(str(gif), str(points), config, training=False, feature_grid=(2, 2))
    # The heatmaps training computes for the same sampled frames.
    np.testing.assert_allclose(heatmaps, example.heatmaps, atol=1e-6)
    assert example.mask.sum() > 0

    for keypoints in (tmp_path / "synth" / "keypoints", tmp_path / "synth" / "manifest.csv"):
        out = tmp_path / f"overlays-{keypoints.suffix or 'dir'}"
        assert main(["predict", str(gif), "--model", str(keras_path), "--overlay", str(out),
                     "--keypoints", str(keypoints)]) == 0
        with Image.open(out / "syn00000.attention.gif") as image:
            with_heatmaps = image.size
    assert main(["predict", str(gif), "--model", str(keras_path),
                 "--overlay", str(tmp_path / "plain")]) == 0
    with Image.open(tmp_path / "plain" / "syn00000.attention.gif") as image:
        plain = image.size
    # A second view of the frames, as wide as the first, beside it.
    assert with_heatmaps[1] == plain[1] and with_heatmaps[0] >= plain[0] + MIN_SIDE
    with pytest.raises(FileNotFoundError, match="no such keypoint file"):
        draw_results([result], tmp_path / "x", keypoints=tmp_path / "nope")


def test_one_graph_call_per_batch_and_the_reference_decoders_words(saved_predictor, gif_dir,
                                                                    monkeypatch):
    calls = []
    real = SavedModelPredictor.run_gifs
    monkeypatch.setattr(SavedModelPredictor, "run_gifs",
                        lambda self, gifs, **k: calls.append(len(gifs)) or real(self, gifs, **k))
    batch = predict_paths(saved_predictor, [gif_dir], batch_size=8, progress=False)
    assert calls == [3]  # the bad GIF answered in the same call: no retry
    bad = gif_dir / "bad.gif"
    assert batch[0].error == str(GifDecodeError(str(bad), decode_error_cause(bad)))
    # The good GIFs of the mixed batch get what they get alone (up to the
    # batch size's rounding).
    for path, result in zip([gif_dir / "good1.gif", gif_dir / "sub" / "good2.GIF"], batch[1:],
                            strict=True):
        (alone,) = predict_paths(saved_predictor, [path], progress=False)
        assert alone.category_id == result.category_id
        np.testing.assert_allclose(list(alone.intensities.values()),
                                   list(result.intensities.values()), atol=1e-5)


def decode_error_cause(path):
    with pytest.raises(GifDecodeError) as refused:
        decode_gif(path)
    return refused.value.cause


def test_results_are_built_once(keras_predictor, gif_dir):
    (result,) = predict_paths(keras_predictor, [gif_dir / "good1.gif"], progress=False,
                              keep_frames=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.model_size = (1, 1)
    # Every field set by the predictor, none patched in afterwards.
    assert result.model_size == (SIZE, SIZE) and result.media_format == "GIF"
    assert result.source_size == (20, 24) and len(result.frame_indices) == T
    assert result.emotion_categories == keras_predictor.emotion_categories
    small = result.without_frames()
    assert small.frames is None and small.attention is None and small == result


def test_savedmodels_without_labels_are_refused(tmp_path):
    module = tf.Module()
    module.frames = tf.function(
        lambda frames: {"intensities": tf.reduce_mean(frames, [1, 2, 3])},
        input_signature=[tf.TensorSpec([None, T, SIZE, SIZE, 3], tf.float32, name="frames")])
    module.gifs = tf.function(lambda gifs: {"n": tf.strings.length(gifs)},
                              input_signature=[tf.TensorSpec([None], tf.string, name="gifs")])
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={
        "serving_frames": module.frames.get_concrete_function(),
        "serving_default": module.gifs.get_concrete_function()})
    with pytest.raises(ValueError, match="no labels .* export the model again"):
        load_predictor(tmp_path)


def test_kavan_predict_draws_each_batch_as_it_comes(keras_path, gif_dir, tmp_path, monkeypatch,
                                                    capsys):
    # What the overlay folder holds whenever the model is called, and what the
    # page is built from.
    seen, kept = [], []
    real_predict, real_close = KerasPredictor.predict, ReportWriter.close

    def predict(self, items, **kwargs):
        seen.append(sorted(os.listdir(tmp_path / "overlays")))
        return real_predict(self, items, **kwargs)

    def close(self):
        kept.extend(self.results)
        return real_close(self)

    monkeypatch.setattr(KerasPredictor, "predict", predict)
    monkeypatch.setattr(ReportWriter, "close", close)
    status = main(["predict", str(gif_dir), "--model", keras_path, "--batch-size", "1",
                   "--overlay", str(tmp_path / "overlays"), "--report",
                   str(tmp_path / "report.html")])
    assert status == 1
    # bad.gif, good1.gif, sub/good2.GIF: good1's overlay is written before good2 is predicted.
    assert seen == [[], [], ["good1.attention.gif"]]
    assert [os.path.basename(r.path) for r in kept] == ["bad.gif", "good1.gif", "good2.GIF"]
    assert all(r.frames is None and r.attention is None for r in kept)
    assert sum(r.ok for r in kept) == 2
    # Only the page is left beside it: the images were embedded.
    assert sorted(os.listdir(tmp_path)) == ["overlays", "report.html"]
    err = capsys.readouterr().err
    assert "Wrote 2 attention overlay(s)" in err and "Wrote the report to" in err


def test_kavan_predict_without_files(keras_path, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "--model", keras_path]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["path  category  valence  arousal  top emotions"]
    assert captured.err.splitlines()[-1] == "No GIF, WebP, PNG or video files found"
