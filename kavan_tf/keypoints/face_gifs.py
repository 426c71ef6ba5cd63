"""Animated GIFs of real faces with known landmarks, built from annotated photos.

A photo with human-annotated 68-point landmarks (menpo ``.pts``, dlib's
imglab XML, see :mod:`kavan_tf.keypoints.landmark_files`) becomes a short GIF:
each frame scales, rotates and shifts the photo, and the landmarks move
with it, so every frame has its ground truth. Some frames move the faces
out of the picture (their truth is empty). The tests and
``benchmarks/bench_keypoints.py`` use these GIFs to check that ``kavan
keypoints`` puts its points on the faces, frame by frame.

Example:

```python
gif = animate_photo(rgb, [points], num_frames=12, width=320, seed=0)
gif.save("einstein.gif")
gif.truth[3]            # [F, 68, 2] of frame 3 (F = 0 where the faces left)
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class FaceGif:
    """Frames uint8 ``[N, H, W, 3]``, and per frame the faces' true points ``[F, 68, 2]``."""

    frames: np.ndarray
    truth: list[np.ndarray]
    delay_ms: int = 80

    def save(self, path: str) -> None:
        """Writes the GIF (one adaptive palette per frame, disposal 1, looping)."""
        images = [Image.fromarray(f).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
                  for f in self.frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=self.delay_ms,
                       loop=0, disposal=1, optimize=False)


def _affine(scale: float, angle: float, shift: tuple[float, float], centre: np.ndarray):
    """The 2x3 map of pixel centres: rotate and scale about ``centre``, then shift."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    linear = np.array([[c, -s], [s, c]])
    offset = centre + np.asarray(shift) - linear @ centre
    return np.hstack([linear, offset[:, None]])


def animate_photo(
    image: np.ndarray,
    faces: list[np.ndarray],
    *,
    num_frames: int = 12,
    width: int = 320,
    leave_frames: int = 2,
    seed: int = 0,
) -> FaceGif:
    """A GIF of ``image`` moving, with its faces' landmarks moved alike.

    Args:
        image: uint8 RGB ``[H, W, 3]``.
        faces: The annotated faces, ``[68, 2]`` each, in ``image`` pixels.
        num_frames: Frames of the GIF.
        width: Frame width; the height keeps the crop's aspect ratio.
        leave_frames: The last this many frames move the faces out of the picture.
        seed: Seeds the motion (scale 0.85-1.15, rotation up to 12 degrees,
            shifts up to 8 % of the frame).
    """
    rng = np.random.default_rng(seed)
    points = np.concatenate(faces)
    low, high = points.min(axis=0), points.max(axis=0)
    size = float(max(high - low))
    # A crop around the faces, 3x their extent, inside the photo.
    centre = (low + high) / 2
    half = np.minimum(1.5 * size, np.array(image.shape[1::-1]) / 2)
    left, top = np.clip(centre - half, 0, None)
    right, bottom = np.minimum(centre + half, np.array(image.shape[1::-1]))
    crop = image[int(top):int(bottom), int(left):int(right)]
    factor = width / crop.shape[1]
    height = max(16, int(round(crop.shape[0] * factor)))
    base = np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))
    # Pixel-centre coordinates: x' = (x + 0.5) * factor - 0.5.
    base_faces = [(f - [left, top] + 0.5) * [width / crop.shape[1], height / crop.shape[0]] - 0.5
                  for f in faces]
    frame_centre = np.array([(width - 1) / 2, (height - 1) / 2])
    frames, truth = [], []
    phase = rng.uniform(0, 2 * math.pi, size=3)
    for t in range(num_frames):
        u = 2 * math.pi * t / num_frames
        scale = 1.0 + 0.15 * math.sin(u + phase[0])
        angle = math.radians(12) * math.sin(u + phase[1])
        shift = (0.08 * width * math.sin(u + phase[2]), 0.08 * height * math.cos(u + phase[2]))
        leaving = t >= num_frames - leave_frames
        if leaving:
            # The faces (about the middle third of the crop) leave on the right,
            # a different part of the photo still in view in each such frame.
            k = t - (num_frames - leave_frames)
            shift = ((0.75 + 0.08 * k) * width, 0.0)
        matrix = _affine(scale, angle, shift, frame_centre)
        inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        # PIL's affine maps output to input pixel *corners*; shift by half a pixel.
        corner = inverse.copy()
        corner[:, 2] += 0.5 - inverse[:, :2] @ [0.5, 0.5]
        warped = Image.fromarray(base).transform(
            (width, height), Image.Transform.AFFINE, corner.ravel().tolist(),
            resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
        frames.append(np.asarray(warped))
        if leaving:
            truth.append(np.zeros((0, 68, 2)))
        else:
            moved = [f @ matrix[:, :2].T + matrix[:, 2] for f in base_faces]
            inside = [m for m in moved
                      if (m.min(axis=0) >= 0).all() and (m.max(axis=0) < [width, height]).all()]
            truth.append(np.stack(inside) if inside else np.zeros((0, 68, 2)))
    return FaceGif(frames=np.stack(frames), truth=truth)
