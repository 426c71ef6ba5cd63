"""`kavan predict --report`: one self-contained HTML page, rendered in headless Chromium."""

import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from helpers import T, tiny_model_config
from PIL import Image

from kavan_tf.export import tiny_gif
from kavan_tf.labels import EMOTIONS
from kavan_tf.models import KavanModel
from kavan_tf.predict import draw_results, load_predictor, predict_paths, write_report
from kavan_tf.predict.report import render_report

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                       "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    model = KavanModel(tiny_model_config())
    path = tmp_path_factory.mktemp("model") / "kavan.keras"
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    for i, size in enumerate([(40, 60), (64, 48), (30, 30)]):
        (root / f"clip{i}.gif").write_bytes(tiny_gif(3 + i, size))
    frames = [Image.new("RGB", (50, 40), (40 * i, 90, 160)) for i in range(4)]
    frames[0].save(root / "sticker.webp", save_all=True, append_images=frames[1:], duration=90)
    (root / "broken.gif").write_bytes(b"GIF89a\x10")
    return root


@pytest.fixture(scope="module")
def report(model_path, inputs, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    results = _report(model_path, inputs, path, note="trained on synthetic GIFs")
    assert sum(not r.ok for r in results) == 1  # broken.gif
    return path


def _report(model_path, inputs, path, note=None):
    """Predicts ``inputs`` and writes their report, as ``kavan predict --report`` does."""
    results = predict_paths(load_predictor(model_path), [inputs], progress=False,
                            keep_frames=True)
    draw_results(results, report=path, note=note)
    return results


def _cards(page):
    return re.findall(r"<article([^>]*)>", page)


def test_the_report_is_self_contained(report, inputs):
    page = report.read_text(encoding="utf-8")
    # No server, no network: every image, style and script is inside the page.
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", page)
    sources = re.findall(r"""<(?:img|video)[^>]* src="([^"]+)\"""", page)
    assert len(sources) == 2 * 4 and all(s.startswith("data:") for s in sources)
    assert "data:image/webp;base64," in page and "data:image/gif;base64," in page
    cards = _cards(page)
    assert len(cards) == 5 and sum('class="failed"' in c for c in cards) == 1
    assert "broken.gif: cannot decode GIF" in html.unescape(page)
    assert page.count('class="bar"') == 4 * len(EMOTIONS)
    assert "trained on synthetic GIFs" in page
    # Valence and arousal: shown on each card, and sort keys.
    assert page.count('<p class="affect">valence ') == 4
    assert sum(" data-valence=" in c and " data-arousal=" in c for c in cards) == 4
    assert '<option value="valence">' in page and '<option value="arousal">' in page


def test_render_report_lists_every_emotion_as_a_sort_key(model_path, inputs):
    results = predict_paths(load_predictor(model_path), [inputs / "clip0.gif"], progress=False)
    page = render_report(results)
    for emotion in EMOTIONS:
        assert f'data-e-{emotion}="' in page and f'value="e-{emotion}"' in page


def _chromium(*args, timeout=90):
    return subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--allow-file-access-from-files", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs "
                                             "Debian's chromium package)")
def test_the_report_renders_in_chromium_sorted_without_errors(report, tmp_path):
    url = f"file://{report}#sort=e-happiness"
    shot = tmp_path / "report.png"
    run = _chromium("--window-size=1280,1600", "--hide-scrollbars", f"--screenshot={shot}", url)
    assert shot.is_file(), run.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"))
    # Rendered: the dark header, the white cards and the coloured bars and images.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50

    dom = _chromium("--dump-dom", url)
    page = dom.stdout
    assert 'data-ready="1"' in page, dom.stderr[-2000:]
    root = re.search(r"<html([^>]*)>", page).group(1)  # what the page's script recorded
    assert "data-errors" not in root
    assert 'data-images="ok"' in root, f"an image did not load: {root}"
    console = [line for line in dom.stderr.splitlines()
               if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not console
    # Sorted by happiness, highest first; the failed file last.
    cards = _cards(page)
    assert 'class="failed"' in cards[-1]
    values = [float(re.search(r'data-e-happiness="([-0-9.e]+)"', c).group(1)) for c in cards[:-1]]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    assert 'data-sorted-by="e-happiness"' in root


def test_report_flags_fail_fast(model_path, inputs, tmp_path, capsys):
    from kavan_tf.cli import main

    assert main(["predict", str(inputs / "clip0.gif"), "--model", model_path,
                 "--report", str(tmp_path / "r.txt")]) == 2
    assert "--report" in capsys.readouterr().err
    assert main(["predict", str(inputs / "clip0.gif"), "--model", model_path,
                 "--keypoints", str(inputs)]) == 2
    assert "give --overlay DIR or --report FILE" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r.txt")


def test_write_report_is_atomic(tmp_path):
    path = write_report([], tmp_path / "sub" / "empty.html")
    assert os.listdir(tmp_path / "sub") == ["empty.html"]
    assert "0 file(s)" in open(path, encoding="utf-8").read()


def test_large_reports_keep_their_images_beside_the_page(model_path, inputs, tmp_path,
                                                          monkeypatch):
    from kavan_tf.predict import report as report_module

    monkeypatch.setattr(report_module, "MAX_PAGE_BYTES", 1000)
    page_path = tmp_path / "big.html"
    assert not all(r.ok for r in _report(model_path, inputs, page_path))
    page = page_path.read_text(encoding="utf-8")
    sources = re.findall(r"""<(?:img|video)[^>]* src="([^"]+)\"""", page)
    assert len(sources) == 8 and not any(s.startswith("data:") for s in sources)
    for source in sources:
        assert source.startswith("big_files/") and (tmp_path / source).is_file()
    # The images set aside as each result came were moved there, none left behind.
    assert sorted(os.listdir(tmp_path)) == ["big.html", "big_files"]
    assert len(os.listdir(tmp_path / "big_files")) == 8
    with Image.open(tmp_path / sources[1]) as overlay:
        assert overlay.format == "GIF" and overlay.n_frames == T
