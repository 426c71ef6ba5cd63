"""Seeded synthetic animated-GIF emotion dataset (the demo's and the tests' data).

The generator writes real files in exactly the formats the real pipeline
reads, so a demo on synthetic data goes through the real loaders:

- ``gifs/<gif_id>.gif``: animated GIFs written by Pillow, one adaptive palette
  per frame (local colour tables), per-frame delays, and three encodings
  (delta frames with a transparent "unchanged" colour, full frames with
  disposal 2, partial frames with disposal 1);
- ``keypoints/<gif_id>.json``: ``kavan-keypoints-v1`` files, one 70-point
  face (OpenPose order) per frame, or no person where the simulated estimator
  missed the face;
- ``manifest.csv``: ``gif_id, path, <17 scores>, keypoints, split``, scores
  ``25 * (1 + y)`` for true intensities ``y`` in ``[-1, 1]`` (SPEC 1);
- ``votes.csv.gz`` (optional): simulated GIFGIF pairwise votes
  (``metric,left,right,choice``) from a noisy Thurstone judge, for the
  TrueSkill path (SPEC 2);
- ``synthetic.json``: the :class:`SyntheticConfig` used, so any example can be
  regenerated in memory with :func:`generate_example`.

The generative model (see ``docs/synthetic.md``) draws a cartoon face whose
expression follows a path through Russell's circumplex (valence, arousal)
over the frames; the 17 intensities are a function of the *direction* of that
path (``label_mode="change"``), so one frame is ambiguous and both the face
and several frames are needed. Cluttered, moving backgrounds make the
whole-frame average a weak cue.

Every example is drawn from its own random stream, seeded by
``(seed, index)``: the same config gives byte-identical files, and example
``i`` does not depend on ``num_gifs``.

Example:

```python
from kavan_tf.data.synthetic import SyntheticConfig, generate_dataset, generate_example

manifest = generate_dataset("data/synthetic", SyntheticConfig(num_gifs=300, seed=0))
example = generate_example(SyntheticConfig(seed=0), index=3)
example.frames.shape        # (F, 96, 96, 3), as the GIF decodes
example.face_boxes[0]       # (x0, y0, x1, y1) of the head in frame 0
```
"""

from __future__ import annotations

import colorsys
import csv
import dataclasses
import gzip
import io
import json
import logging
import math
import os
import pathlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from kavan_tf.config import LabelConfig

logger = logging.getLogger(__name__)

KEYPOINT_FORMAT = "kavan-keypoints-v1"
"""Format tag of the keypoint files (see :mod:`kavan_tf.keypoints`)."""
NUM_KEYPOINTS = 70
"""iBUG 68 points + 2 pupils (OpenPose face layout)."""
CONFIG_FILE = "synthetic.json"
"""Name of the config sidecar written next to the manifest."""
ENCODINGS: tuple[str, ...] = ("delta", "restore", "keep")
LABEL_MODES: tuple[str, ...] = ("change", "end", "segment")
"""``SyntheticConfig.label_mode`` values (see :class:`SyntheticConfig`)."""
SEGMENT_POSITIONS: tuple[str, ...] = ("early", "middle", "late")
"""Where ``label_mode="segment"`` shows the expression (:func:`segment_window`)."""
"""GIF encodings: Pillow's optimised delta frames with a transparent colour,
full frames with disposal 2, partial frames with disposal 1."""

# Where each default category sits on the circumplex: the start of its
# quadrant in degrees, angle 0 = pleasure, 90 = arousal (SPEC 1, paper Fig. 4).
_QUADRANT_START: dict[str, float] = {
    "pleasure-arousal": 0.0,
    "misery-arousal": 90.0,
    "misery-sleep": 180.0,
    "pleasure-sleep": 270.0,
}
# Counter-clockwise order of the default emotions inside their quadrants,
# after Russell (1980): pleasure -> arousal -> misery -> sleep -> pleasure.
_CIRCUMPLEX_ORDER: tuple[str, ...] = (
    "happiness", "pride", "amusement", "excitement", "surprise",
    "fear", "anger", "embarrassment", "disgust", "contempt",
    "sadness", "guilt", "shame",
    "relief", "contentment", "satisfaction", "pleasure",
)  # fmt: skip
# Emotions sit this far (degrees) inside their quadrant's edges, the same on
# both sides of every edge, so the nearest emotion to any angle belongs to the
# quadrant the angle is in.
_EDGE_MARGIN = 10.0
# Independent random streams per purpose, so e.g. keypoint noise options never
# change the pixels.
_STREAM_EXAMPLE, _STREAM_KEYPOINTS, _STREAM_SPLIT, _STREAM_VOTES = 0, 1, 2, 3
_BASE_DELAYS_MS = (40, 50, 60, 70, 80, 100, 120)
_PUPIL_COLOUR = (20, 20, 28)
_EYE_COLOUR = (246, 246, 240)
_MOUTH_INSIDE_COLOUR = (70, 16, 24)


def _fail(name: str, value: Any, why: str) -> None:
    raise ValueError(f"Invalid `synthetic.{name}`: {why}. Received: {name}={value!r}")


def _check_rate(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            _fail(name, value, "must be a number in [0, 1]")


def _check_int_range(name: str, value: Any, low: int) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or value[0] < low
        or value[1] < value[0]
    ):
        _fail(name, value, f"must be an int >= {low} or an inclusive range (low, high)")
    return int(value[0]), int(value[1])


@dataclass
class SyntheticConfig:
    """Settings of the synthetic dataset; the single source of its defaults.

    Args:
        num_gifs: Number of GIFs.
        seed: Seed of everything; the same config gives byte-identical files.
        frame_size: ``(width, height)`` of the GIF frames.
        num_frames: Frames per GIF, an int or an inclusive range ``(low, high)``
            drawn per GIF; at least 2 (the label is a change over time).
        face_scale: Range of the head's half-width as a fraction of the
            frame's shorter side (the head is 1.2 times as tall as wide).
        label_mode: ``"change"``: the emotion is the direction of the
            expression's path from the first to the last frame (one frame is
            ambiguous); ``"end"``: the emotion is where the path ends;
            ``"segment"``: the expression is shown during a window of
            ``segment_fraction`` of the GIF's frames, early (at the start),
            in the middle or late (at the end), drawn uniformly per GIF, and
            the face is neutral (valence = arousal = 0) elsewhere; the
            emotion is that expression (see :func:`segment_window`).
        category_weights: Relative frequency of each coarse category, in
            ``labels.category_names`` order.
        intensity_sharpness: Concentration ``kappa`` of the von Mises profile
            that turns the circumplex angle into 17 intensities.
        intensity_noise: Standard deviation of the Gaussian noise added to
            each intensity.
        clutter_shapes: Range of the number of static background shapes.
        moving_distractors: Range of the number of moving background blobs.
        decoy_rate: Probability of a featureless skin-coloured head-like
            ellipse in the background.
        stripe_rate: Probability of a scrolling striped band.
        supersample: Drawing scale before box-downsampling (anti-aliasing).
        palette_colors: Colours of each frame's adaptive palette (<= 255, so
            one index stays free for the transparent colour).
        encoding_variety: Mix the three :data:`ENCODINGS`; ``False`` writes
            every GIF as ``"delta"``.
        zero_delay_rate: Fraction of GIFs written with 0 delays (browsers
            show them at 100 ms).
        keypoint_jitter: Standard deviation, in pixels, of Gaussian noise on
            the written keypoints.
        keypoint_drop_rate: Probability that a point is written as missing
            (``0, 0, 0``), per point.
        keypoint_low_confidence_rate: Fraction of frames whose confidences
            are scaled down to ``[0.05, 0.3]``.
        keypoint_missing_frame_rate: Fraction of frames without keypoints
            (empty ``people``).
        keypoint_missing_gif_rate: Fraction of GIFs without keypoints on any
            frame, as for cartoons an estimator misses.
        test_fraction: Fraction of GIFs whose ``split`` is ``"test"``.
        votes_per_gif: Mean number of simulated votes each (GIF, emotion)
            takes part in; 0 writes no vote file.
        judge_noise: Standard deviation of the judge's Thurstone noise on
            the intensity difference.
        neither_margin: A vote is ``neither`` when the perceived difference
            is within this margin.
        votes_empty_id_rate: Fraction of vote rows with an empty GIF id (the
            real dump has some).
        votes_spread: How unevenly the (GIF, emotion) pairs are voted on:
            each pair takes part in votes at a rate ``exp(spread * z)``,
            ``z ~ N(0, 1)`` drawn per pair, so TrueSkill's sigma varies
            between the emotions of one GIF; 0 votes on all pairs equally
            often.
        votes_gzip: Write ``votes.csv.gz`` rather than ``votes.csv``.
        emotion_angles: Circumplex angle (degrees, 0 = pleasure, 90 =
            arousal) of each emotion in ``labels.emotions`` order; ``None``
            places the emotions of each default category evenly inside its
            quadrant.
        segment_fraction: For ``label_mode="segment"``: the share of the
            frames that show the expression, in ``(0, 1)``.
        labels: Emotions and coarse categories.
    """

    num_gifs: int = 300
    seed: int = 0
    frame_size: tuple[int, int] = (96, 96)
    num_frames: tuple[int, int] = (8, 12)
    face_scale: tuple[float, float] = (0.15, 0.2)
    label_mode: str = "change"
    category_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    intensity_sharpness: float = 2.0
    intensity_noise: float = 0.05
    clutter_shapes: tuple[int, int] = (4, 10)
    moving_distractors: tuple[int, int] = (2, 4)
    decoy_rate: float = 0.3
    stripe_rate: float = 0.5
    supersample: int = 2
    palette_colors: int = 255
    encoding_variety: bool = True
    zero_delay_rate: float = 0.05
    keypoint_jitter: float = 0.0
    keypoint_drop_rate: float = 0.0
    keypoint_low_confidence_rate: float = 0.0
    keypoint_missing_frame_rate: float = 0.05
    keypoint_missing_gif_rate: float = 0.1
    test_fraction: float = 0.2
    votes_per_gif: float = 0.0
    judge_noise: float = 0.3
    neither_margin: float = 0.1
    votes_empty_id_rate: float = 0.0
    votes_spread: float = 0.0
    votes_gzip: bool = True
    emotion_angles: tuple[float, ...] | None = None
    segment_fraction: float = 0.5
    labels: LabelConfig = field(default_factory=LabelConfig)

    def __post_init__(self) -> None:
        if isinstance(self.labels, dict):
            self.labels = LabelConfig(**self.labels)
        if isinstance(self.num_gifs, bool) or not isinstance(self.num_gifs, int):
            _fail("num_gifs", self.num_gifs, "must be a positive int")
        if self.num_gifs <= 0:
            _fail("num_gifs", self.num_gifs, "must be a positive int")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            _fail("seed", self.seed, "must be a non-negative int")
        size = self.frame_size
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 32 for v in size)
        ):
            _fail("frame_size", size, "must be two ints >= 32 (width, height)")
        self.frame_size = (int(size[0]), int(size[1]))
        self.num_frames = _check_int_range("num_frames", self.num_frames, 2)
        self.clutter_shapes = _check_int_range("clutter_shapes", self.clutter_shapes, 0)
        self.moving_distractors = _check_int_range("moving_distractors", self.moving_distractors, 1)
        scale = tuple(self.face_scale)
        if len(scale) != 2 or not 0.05 <= scale[0] <= scale[1] <= 0.3:
            _fail("face_scale", self.face_scale, "must be a range (low, high) inside [0.05, 0.3]")
        self.face_scale = (float(scale[0]), float(scale[1]))
        if self.label_mode not in LABEL_MODES:
            _fail("label_mode", self.label_mode, f"must be one of {LABEL_MODES}")
        fraction = self.segment_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or \
                not 0 < fraction < 1:
            _fail("segment_fraction", fraction, "must be a number in (0, 1)")
        weights = tuple(float(w) for w in self.category_weights)
        if len(weights) != self.labels.num_categories or min(weights) < 0 or sum(weights) <= 0:
            _fail(
                "category_weights",
                self.category_weights,
                f"needs {self.labels.num_categories} non-negative weights with a positive sum",
            )
        self.category_weights = weights
        for name in ("intensity_sharpness", "judge_noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                _fail(name, value, "must be a positive number")
        for name in ("intensity_noise", "keypoint_jitter", "neither_margin", "votes_per_gif",
                     "votes_spread"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                _fail(name, value, "must be a non-negative number")
        _check_rate(
            decoy_rate=self.decoy_rate,
            stripe_rate=self.stripe_rate,
            zero_delay_rate=self.zero_delay_rate,
            keypoint_drop_rate=self.keypoint_drop_rate,
            keypoint_low_confidence_rate=self.keypoint_low_confidence_rate,
            keypoint_missing_frame_rate=self.keypoint_missing_frame_rate,
            keypoint_missing_gif_rate=self.keypoint_missing_gif_rate,
            test_fraction=self.test_fraction,
            votes_empty_id_rate=self.votes_empty_id_rate,
        )
        if self.supersample not in (1, 2, 3, 4):
            _fail("supersample", self.supersample, "must be 1, 2, 3 or 4")
        if not isinstance(self.palette_colors, int) or not 2 <= self.palette_colors <= 255:
            _fail("palette_colors", self.palette_colors, "must be an int in [2, 255]")
        if self.emotion_angles is not None:
            angles = tuple(float(a) for a in self.emotion_angles)
            if len(angles) != self.labels.num_emotions:
                _fail(
                    "emotion_angles",
                    self.emotion_angles,
                    f"needs one angle per emotion ({self.labels.num_emotions})",
                )
            self.emotion_angles = angles
        else:
            unknown = [n for n in self.labels.category_names if n not in _QUADRANT_START]
            if unknown:
                _fail(
                    "emotion_angles",
                    None,
                    f"categories {unknown} have no default quadrant "
                    f"(known: {sorted(_QUADRANT_START)}); give the angles",
                )
        empty = [
            name
            for name, members, weight in zip(
                self.labels.category_names,
                self.labels.category_members,
                self.category_weights,
                strict=True,
            )
            if weight > 0 and not members
        ]
        if empty:
            _fail("category_weights", self.category_weights, f"categories {empty} have no emotion")

    def angles(self) -> np.ndarray:
        """Circumplex angle of every emotion in degrees, ``labels.emotions`` order."""
        if self.emotion_angles is not None:
            return np.asarray(self.emotion_angles, dtype=np.float64)
        return default_emotion_angles(self.labels)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SyntheticConfig:
        """Builds a config; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown `synthetic` keys {unknown}. Known keys: {sorted(known)}")
        values = dict(values)
        if isinstance(values.get("labels"), dict):
            values["labels"] = LabelConfig(**values["labels"])
        for name in ("frame_size", "num_frames", "face_scale", "clutter_shapes"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        if isinstance(values.get("moving_distractors"), list):
            values["moving_distractors"] = tuple(values["moving_distractors"])
        return cls(**values)


@dataclass
class SyntheticExample:
    """One generated GIF, in memory.

    Attributes:
        gif_id: The GIF's id (``syn<index>``).
        index: Its index in the dataset.
        frames: uint8 ``[F, H, W, 3]``: the frames exactly as the GIF decodes.
        durations_ms: Per-frame delays as written (0 where the GIF has 0).
        keypoints: float32 ``[F, 70, 3]``: the exact points (confidence 1).
        observed_keypoints: Per frame, the float32 ``[70, 3]`` points written
            to the keypoint file (after jitter, drops, low confidence), or
            ``None`` where the frame has no keypoints.
        face_boxes: float32 ``[F, 4]``: the head's ``(x0, y0, x1, y1)`` in
            pixels (pixel centres at integers).
        head_ellipses: float32 ``[F, 5]``: the head outline per frame,
            ``(cx, cy, half_width, half_height, roll_degrees)``; a point is on
            the head when it is inside this rotated ellipse (finer than the box,
            e.g. for the attention mass on the face).
        valence_arousal: float32 ``[F, 2]``: the expression's circumplex point
            per frame.
        angle: The label angle in degrees (direction of the path for
            ``label_mode="change"``, its end for ``"end"``).
        intensities: float32 ``[num_emotions]`` targets in ``[-1, 1]``.
        category: The category of the highest intensity.
        encoding: One of :data:`ENCODINGS`.
        position: For ``label_mode="segment"``, where the expression is
            shown: one of :data:`SEGMENT_POSITIONS`; else ``None``.
    """

    gif_id: str
    index: int
    frames: np.ndarray
    durations_ms: tuple[int, ...]
    keypoints: np.ndarray
    observed_keypoints: list[np.ndarray | None]
    face_boxes: np.ndarray
    head_ellipses: np.ndarray
    valence_arousal: np.ndarray
    angle: float
    intensities: np.ndarray
    category: int
    encoding: str
    position: str | None = None

    @property
    def scores(self) -> np.ndarray:
        """TrueSkill-like scores in ``[0, 50]``: ``25 * (1 + intensities)``."""
        return 25.0 * (1.0 + self.intensities.astype(np.float64))


def default_emotion_angles(labels: LabelConfig | None = None) -> np.ndarray:
    """Places each category's emotions evenly inside the category's quadrant.

    Angles are degrees on Russell's circumplex (0 = pleasure, 90 = arousal,
    180 = misery, 270 = sleep). Inside a quadrant, emotions follow Russell's
    counter-clockwise order (unknown emotions last, in config order) and stay
    10 degrees from the quadrant's edges, so the emotion nearest to any angle
    is in that angle's quadrant.

    Args:
        labels: Emotions and categories; category names must be the four
            default ones.

    Returns:
        float64 ``[num_emotions]`` in ``labels.emotions`` order.

    Raises:
        ValueError: If a category name has no default quadrant.
    """
    labels = labels if labels is not None else LabelConfig()
    angles = np.zeros(labels.num_emotions)
    order = {e: i for i, e in enumerate(_CIRCUMPLEX_ORDER)}
    for name, members in zip(labels.category_names, labels.category_members, strict=True):
        if name not in _QUADRANT_START:
            raise ValueError(
                f"Category {name!r} has no default circumplex quadrant "
                f"(known: {sorted(_QUADRANT_START)}). Received: category_names="
                f"{labels.category_names!r}"
            )
        ranked = sorted(members, key=lambda e: (order.get(e, len(order)), labels.emotions.index(e)))
        start = _QUADRANT_START[name] + _EDGE_MARGIN
        span = 90.0 - 2 * _EDGE_MARGIN
        for i, emotion in enumerate(ranked):
            step = span / (len(ranked) - 1) if len(ranked) > 1 else 0.0
            offset = i * step if len(ranked) > 1 else span / 2
            angles[labels.emotions.index(emotion)] = start + offset
    return angles


def intensity_profile(
    angle: float, strength: float, angles: np.ndarray, sharpness: float
) -> np.ndarray:
    """Noise-free intensities of an expression at circumplex ``angle``.

    A von Mises bump centred on the angle, shifted so that its mean over the
    circle is 0 (as TrueSkill scores centre on ``mu0``)::

        v_k = exp(kappa (cos(angle - theta_k) - 1)),  m = exp(-kappa) I0(kappa)
        y_k = strength * (v_k - m) / (1 - m)

    The emotion at the angle gets ``strength``; the opposite one gets
    ``strength * (exp(-2 kappa) - m) / (1 - m)`` (about ``-0.42 strength`` for
    ``kappa = 2``).

    Args:
        angle: Degrees.
        strength: In ``(0, 1]``.
        angles: Emotion angles in degrees.
        sharpness: ``kappa``.

    Returns:
        float64 ``[num_emotions]``.
    """
    cosine = np.cos(np.radians(angle - np.asarray(angles, dtype=np.float64)))
    bump = np.exp(sharpness * (cosine - 1.0))
    mean = math.exp(-sharpness) * float(np.i0(sharpness))
    return strength * (bump - mean) / (1.0 - mean)


# ----------------------------------------------------------------------------
# Face geometry, in face units: head half-width 1, half-height 1.2, y down.
# ----------------------------------------------------------------------------

_HEAD_RY = 1.2


def _expression(valence: float, arousal: float) -> dict[str, float]:
    """Facial parameters of a circumplex point (valence, arousal in [-1, 1])."""
    excite = (arousal + 1.0) / 2.0
    return {
        "mouth_curve": 0.22 * valence,  # corners up for pleasure
        "mouth_open": 0.02 + 0.28 * excite**1.5,
        "mouth_width": 0.36 + 0.06 * valence,
        "eye_open": 0.45 + 0.55 * excite,
        "brow_raise": 0.1 * arousal,
        # Inner brow ends down for anger (misery + arousal), up for sadness.
        "brow_tilt": 0.13 * max(-valence, 0.0) * arousal,
    }


def _eye(cx: float, cy: float, openness: float, gaze: float) -> tuple[np.ndarray, ...]:
    """Outline polygon, 6 iBUG points, pupil centre and radius of one eye."""
    half_width, top, bottom = 0.24, 0.24 * openness, 0.16 * openness
    u = np.linspace(-1.0, 1.0, 13)
    arc = np.sqrt(1.0 - u**2)
    upper = np.stack([cx + half_width * u, cy - top * arc], axis=1)
    lower = np.stack([cx + half_width * u[::-1], cy + bottom * arc[::-1]], axis=1)
    outline = np.concatenate([upper, lower[1:-1]])
    third = math.sqrt(8.0 / 9.0)
    points = np.array(
        [
            [cx - half_width, cy],
            [cx - half_width / 3, cy - top * third],
            [cx + half_width / 3, cy - top * third],
            [cx + half_width, cy],
            [cx + half_width / 3, cy + bottom * third],
            [cx - half_width / 3, cy + bottom * third],
        ]
    )
    pupil = np.array([cx + 0.3 * half_width * gaze, cy + (bottom - top) / 2])
    radius = min(0.11, 0.9 * (top + bottom) / 2)
    return outline, points, pupil, np.array(radius)


def _face_local(valence: float, arousal: float, gaze: float) -> tuple[dict[str, Any], np.ndarray]:
    """Shapes to draw and the 70 keypoints (``[70, 2]``) in face units."""
    p = _expression(valence, arousal)
    points = np.zeros((NUM_KEYPOINTS, 2))
    # Jaw 0-16: along the lower head outline, image-left ear to image-right ear.
    psi = np.radians(np.linspace(185.0, -5.0, 17))
    points[0:17] = 0.96 * np.stack([np.cos(psi), _HEAD_RY * np.sin(psi)], axis=1)
    # Brows 17-21 (image left, outer to inner) and 22-26 (inner to outer).
    u = np.linspace(-1.0, 1.0, 5)
    base = -0.52 - p["brow_raise"]
    brows = []
    for cx, inner_weight in ((-0.4, (u + 1) / 2), (0.4, (1 - u) / 2)):
        brow = np.stack(
            [cx + 0.26 * u, base - 0.05 * (1 - u**2) + p["brow_tilt"] * inner_weight], axis=1
        )
        brows.append(brow)
    points[17:22], points[22:27] = brows
    # Nose 27-30 (bridge, top to tip) and 31-35 (base, image left to right).
    points[27:31] = np.stack([np.zeros(4), np.linspace(-0.12, 0.24, 4)], axis=1)
    points[31:36] = np.stack(
        [np.linspace(-0.14, 0.14, 5), np.array([0.27, 0.29, 0.3, 0.29, 0.27])], axis=1
    )
    # Eyes 36-41 (image left) and 42-47, pupils 68 and 69.
    eyes = [_eye(cx, -0.12, p["eye_open"], gaze) for cx in (-0.4, 0.4)]
    points[36:42], points[42:48] = eyes[0][1], eyes[1][1]
    points[68], points[69] = eyes[0][2], eyes[1][2]
    # Mouth: outer 48-59, inner 60-67 (iBUG order: corner, upper lip left to
    # right, corner, lower lip right to left).
    width, curve, opening, lip = p["mouth_width"], p["mouth_curve"], p["mouth_open"], 0.06

    def centre_line(t: np.ndarray) -> np.ndarray:
        return 0.6 - curve * t**2

    def lip_points(t: np.ndarray, offset: float) -> np.ndarray:
        return np.stack([width * t, centre_line(t) + offset * np.sqrt(1 - t**2)], axis=1)

    outer_up = np.array([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1])
    outer_down = np.array([2 / 3, 1 / 3, 0, -1 / 3, -2 / 3])
    points[48:55] = lip_points(outer_up, -(opening / 2 + lip))
    points[55:60] = lip_points(outer_down, 1.2 * (opening / 2 + lip))
    inner_up = np.array([-0.85, -1 / 3, 0, 1 / 3, 0.85])
    inner_down = np.array([1 / 3, 0, -1 / 3])
    points[60:65] = lip_points(inner_up, -opening / 2)
    points[65:68] = lip_points(inner_down, opening / 2)

    t = np.linspace(-1.0, 1.0, 15)
    mouth_outer = np.concatenate(
        [lip_points(t, -(opening / 2 + lip)), lip_points(t[::-1], 1.2 * (opening / 2 + lip))[1:-1]]
    )
    ti = 0.85 * t
    mouth_inner = np.concatenate(
        [lip_points(ti, -opening / 2), lip_points(ti[::-1], opening / 2)[1:-1]]
    )
    shapes = {
        "eyes": [(e[0], e[2], float(e[3])) for e in eyes],
        "brows": brows,
        "nose": np.array([[0.0, -0.04], [0.13, 0.27], [0.0, 0.32], [-0.13, 0.27]]),
        "mouth_outer": mouth_outer,
        "mouth_inner": mouth_inner if opening > 0.04 else None,
    }
    return shapes, points


def _ellipse_polygon(n: int, ry: float = _HEAD_RY, top_only: float | None = None) -> np.ndarray:
    angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    poly = np.stack([np.cos(angle), ry * np.sin(angle)], axis=1)
    if top_only is not None:
        poly = poly[poly[:, 1] <= top_only]
        poly = poly[np.argsort(np.arctan2(poly[:, 1], poly[:, 0]))]
    return poly


class _Pose:
    """Face units -> pixel coordinates (pixel centres at integers)."""

    def __init__(self, centre: np.ndarray, scale: float, roll_deg: float) -> None:
        self.centre = centre
        self.scale = scale
        c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
        self.matrix = scale * np.array([[c, -s], [s, c]])
        self.roll = math.radians(roll_deg)

    def ellipse(self) -> np.ndarray:
        """``(cx, cy, half_width, half_height, roll_degrees)`` of the head."""
        return np.array([*self.centre, self.scale, self.scale * _HEAD_RY, math.degrees(self.roll)])

    def __call__(self, local: np.ndarray) -> np.ndarray:
        return local @ self.matrix.T + self.centre

    def box(self) -> np.ndarray:
        """Axis-aligned box of the head ellipse."""
        a, b = self.scale, self.scale * _HEAD_RY
        c, s = math.cos(self.roll), math.sin(self.roll)
        half = np.array([math.hypot(a * c, b * s), math.hypot(a * s, b * c)])
        return np.concatenate([self.centre - half, self.centre + half])


def _to_canvas(points: np.ndarray, factor: int) -> list[float]:
    """Pixel coordinates -> flat supersampled canvas coordinates ``[x0, y0, x1, ...]``."""
    return (points * factor + (factor - 1) / 2.0).ravel().tolist()


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _darker(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(c * factor) for c in colour)  # type: ignore[return-value]


# ----------------------------------------------------------------------------
# Labels and the expression's path.
# ----------------------------------------------------------------------------


def _sample_label(
    rng: np.random.Generator, config: SyntheticConfig, angles: np.ndarray
) -> tuple[int, float, float, np.ndarray, np.ndarray, np.ndarray]:
    """Category, angle, strength, start and end points, and the intensities."""
    weights = np.asarray(config.category_weights)
    category = int(rng.choice(len(weights), p=weights / weights.sum()))
    emotion_category = config.labels.emotion_to_category()
    # Rejection sampling of an angle whose nearest emotion is in the category:
    # with the default angles this is uniform over the category's quadrant.
    for _ in range(10_000):
        angle = float(rng.uniform(0.0, 360.0))
        nearest = np.argmax(np.cos(np.radians(angle - angles)))
        if emotion_category[nearest] == category:
            break
    else:  # pragma: no cover - needs an emotion with a vanishing arc.
        angle = float(angles[np.flatnonzero(emotion_category == category)[0]])
    direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    if config.label_mode == "change":
        # The start is uniform over the disc among those that leave room for the
        # move, so neither end alone tells the direction for sure.
        length = float(rng.uniform(0.6, 1.0))
        start = -direction * length / 2
        for _ in range(1000):
            candidate = _uniform_disc(rng, 1.0)
            if np.linalg.norm(candidate + direction * length) <= 1.0:
                start = candidate
                break
        end = start + direction * length
        strength = 0.95 * length
    elif config.label_mode == "end":
        length = float(rng.uniform(0.5, 1.0))
        start = _uniform_disc(rng, 0.5)
        end = direction * length
        strength = 0.95 * length
    else:  # "segment": neutral, then the expression for half of the GIF
        length = float(rng.uniform(0.5, 1.0))
        start = np.zeros(2)
        end = direction * length
        strength = 0.95 * length
    clean = intensity_profile(angle, strength, angles, config.intensity_sharpness)
    intensities = clean
    # Noise may not change the top emotion's category: redraw it when it does.
    for _ in range(100):
        noisy = np.clip(clean + rng.normal(0.0, config.intensity_noise, clean.shape), -1, 1)
        if emotion_category[np.argmax(noisy)] == category:
            intensities = noisy
            break
    return category, angle, strength, start, end, intensities


def _uniform_disc(rng: np.random.Generator, radius: float) -> np.ndarray:
    r, theta = radius * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    return np.array([r * math.cos(theta), r * math.sin(theta)])


def segment_window(count: int, position: str, fraction: float = 0.5) -> tuple[int, int]:
    """Frames ``[first, stop)`` that show the expression in ``label_mode="segment"``.

    The window has ``L = max(1, floor(fraction * count))`` frames and starts
    at 0 (early), ``(count - L) // 2`` (middle) or ``count - L`` (late).
    """
    length = max(1, int(fraction * count))
    first = {"early": 0, "middle": (count - length) // 2, "late": count - length}[position]
    return first, first + length


def _segment_path(end: np.ndarray, count: int, position: str, fraction: float) -> np.ndarray:
    """Neutral (0, 0), and ``end`` during the window of ``position``."""
    points = np.zeros((count, 2))
    first, stop = segment_window(count, position, fraction)
    points[first:stop] = end
    return points


def _path(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, count: int) -> np.ndarray:
    """The expression's circumplex point per frame: hold, ease, hold, with a wobble."""
    onset, offset = rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)
    tau = np.linspace(0.0, 1.0, count)
    x = np.clip((tau - onset) / (offset - onset), 0.0, 1.0)
    progress = x * x * (3 - 2 * x)
    delta = end - start
    normal = np.array([-delta[1], delta[0]]) / (np.linalg.norm(delta) + 1e-9)
    wobble = rng.uniform(-0.08, 0.08) * np.sin(np.pi * progress)
    points = start + progress[:, None] * delta + wobble[:, None] * normal
    norms = np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1.0)
    return points / norms


# ----------------------------------------------------------------------------
# Rendering.
# ----------------------------------------------------------------------------


def _background(
    rng: np.random.Generator, config: SyntheticConfig, factor: int
) -> tuple[Image.Image, list[dict[str, Any]], dict[str, Any] | None]:
    """Static layer (gradient, clutter, decoy), moving blobs and a striped band."""
    width, height = config.frame_size
    cw, ch = width * factor, height * factor
    first, second = np.array(_random_colour(rng)), np.array(_random_colour(rng))
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    ramp = xx * math.cos(theta) + yy * math.sin(theta)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    pixels = first + (second - first) * ramp[..., None]
    canvas = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    side = min(cw, ch)
    for _ in range(int(rng.integers(config.clutter_shapes[0], config.clutter_shapes[1] + 1))):
        kind = int(rng.integers(4))
        colour = _random_colour(rng)
        x, y = rng.uniform(0, cw), rng.uniform(0, ch)
        w, h = rng.uniform(0.05, 0.35, size=2) * side
        box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        elif kind == 2:
            corners = rng.uniform(-0.5, 0.5, size=(3, 2)) * [w, h] + [x, y]
            draw.polygon([tuple(c) for c in corners.tolist()], fill=colour)
        else:
            draw.line(box, fill=colour, width=max(1, int(rng.integers(1, 4)) * factor))
    if rng.uniform() < config.decoy_rate:
        skin = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.25, 0.6), rng.uniform(0.7, 1.0))
        half = rng.uniform(*config.face_scale) * side * rng.uniform(0.5, 0.9)
        x, y = rng.uniform(0, cw), rng.uniform(0, ch)
        draw.ellipse([x - half, y - 1.2 * half, x + half, y + 1.2 * half], fill=skin)
    blobs = []
    for _ in range(
        int(rng.integers(config.moving_distractors[0], config.moving_distractors[1] + 1))
    ):
        speed, heading = rng.uniform(1.0, 3.0) * factor, rng.uniform(0, 2 * np.pi)
        blobs.append(
            {
                "ellipse": bool(rng.uniform() < 0.5),
                "colour": _random_colour(rng),
                "size": (rng.uniform(0.08, 0.2, size=2) * side).tolist(),
                "position": (rng.uniform(0, 1, size=2) * [cw, ch]).tolist(),
                "velocity": [speed * math.cos(heading), speed * math.sin(heading)],
            }
        )
    stripes = None
    if rng.uniform() < config.stripe_rate:
        vertical = bool(rng.uniform() < 0.5)
        extent = cw if vertical else ch
        thickness = rng.uniform(0.15, 0.3) * extent
        stripes = {
            "vertical": vertical,
            "start": rng.uniform(0, extent - thickness),
            "thickness": thickness,
            "period": int(rng.integers(4, 11)) * factor,
            "colours": (_random_colour(rng), _random_colour(rng)),
            "speed": rng.uniform(1.0, 2.0) * factor * (1 if rng.uniform() < 0.5 else -1),
        }
    return canvas, blobs, stripes


def _draw_stripes(
    draw: ImageDraw.ImageDraw, stripes: dict[str, Any], t: int, size: tuple[int, int]
) -> None:
    cw, ch = size
    lo, hi = stripes["start"], stripes["start"] + stripes["thickness"]
    period = stripes["period"]
    shift = (stripes["speed"] * t) % period
    along = ch if stripes["vertical"] else cw
    draw.rectangle(
        [lo, 0, hi, ch] if stripes["vertical"] else [0, lo, cw, hi], fill=stripes["colours"][0]
    )
    pos = -period + shift
    while pos < along:
        a, b = pos, pos + period / 2
        draw.rectangle(
            [lo, a, hi, b] if stripes["vertical"] else [a, lo, b, hi], fill=stripes["colours"][1]
        )
        pos += period


def _draw_blob(
    draw: ImageDraw.ImageDraw, blob: dict[str, Any], t: int, size: tuple[int, int]
) -> None:
    # The centre wraps inside the frame, so a quarter of the blob is always seen.
    x = (blob["position"][0] + blob["velocity"][0] * t) % size[0]
    y = (blob["position"][1] + blob["velocity"][1] * t) % size[1]
    w, h = blob["size"]
    box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
    if blob["ellipse"]:
        draw.ellipse(box, fill=blob["colour"])
    else:
        draw.rectangle(box, fill=blob["colour"])


def _draw_face(
    draw: ImageDraw.ImageDraw,
    pose: _Pose,
    shapes: dict[str, Any],
    look: dict[str, Any],
    factor: int,
) -> None:
    head = _to_canvas(pose(_ellipse_polygon(64)), factor)
    draw.polygon(head, fill=look["skin"], outline=look["outline"], width=max(1, factor))
    if look["hair"] is not None:
        draw.polygon(_to_canvas(pose(look["hair_shape"]), factor), fill=look["hair"])
    draw.polygon(_to_canvas(pose(shapes["nose"]), factor), fill=look["nose"])
    for outline, pupil, radius in shapes["eyes"]:
        draw.polygon(_to_canvas(pose(outline), factor), fill=_EYE_COLOUR, outline=look["outline"])
        (x, y), r = _to_canvas(pose(pupil[None]), factor), radius * pose.scale * factor
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_PUPIL_COLOUR)
    brow_width = max(1, int(round(0.12 * pose.scale * factor)))
    for brow in shapes["brows"]:
        draw.line(
            _to_canvas(pose(brow), factor), fill=look["brow"], width=brow_width, joint="curve"
        )
    draw.polygon(_to_canvas(pose(shapes["mouth_outer"]), factor), fill=look["lips"])
    if shapes["mouth_inner"] is not None:
        draw.polygon(_to_canvas(pose(shapes["mouth_inner"]), factor), fill=_MOUTH_INSIDE_COLOUR)


def _face_look(rng: np.random.Generator) -> dict[str, Any]:
    """Colours and hair, independent of the label."""
    if rng.uniform() < 0.75:  # Human-like skin tones, otherwise any cartoon hue.
        skin = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.45, 1.0))
    else:
        skin = _hsv(rng.uniform(), rng.uniform(0.3, 0.8), rng.uniform(0.6, 1.0))
    hair = _hsv(rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.05, 0.6))
    has_hair = rng.uniform() < 0.7
    return {
        "skin": skin,
        "nose": _darker(skin, 0.82),
        "outline": _darker(skin, 0.45),
        "brow": _hsv(rng.uniform(), rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.3)),
        "lips": _hsv(rng.uniform(-0.04, 0.04), rng.uniform(0.55, 0.8), rng.uniform(0.55, 0.8)),
        "hair": hair if has_hair else None,
        "hair_shape": _ellipse_polygon(64, top_only=-rng.uniform(0.75, 0.95)),
    }


def _motion(rng: np.random.Generator, config: SyntheticConfig, count: int) -> list[_Pose]:
    """Per-frame pose: a drift plus a bob, a slow zoom and roll; the head stays inside."""
    width, height = config.frame_size
    side = min(width, height)
    scale = rng.uniform(*config.face_scale) * side
    zoom = rng.uniform(-0.1, 0.1)
    roll, turn = rng.uniform(-10, 10), rng.uniform(-6, 6)
    drift = rng.uniform(0.0, 0.06) * side
    heading = rng.uniform(0, 2 * np.pi)
    bob, cycles, phase = (
        rng.uniform(0.0, 0.02) * side,
        rng.uniform(0.5, 2.0),
        rng.uniform(0, 2 * np.pi),
    )
    reach = (abs(drift) + bob) + scale * (1 + abs(zoom)) * _HEAD_RY + 1.0
    low, high = np.array([reach, reach]), np.array([width - 1 - reach, height - 1 - reach])
    centre0 = low + rng.uniform(0, 1, size=2) * np.maximum(high - low, 0.0)
    centre0 = np.where(high > low, centre0, np.array([width - 1, height - 1]) / 2)
    tau = np.linspace(0.0, 1.0, count)
    poses = []
    for t in tau:
        offset = drift * (2 * t - 1) * np.array([math.cos(heading), math.sin(heading)])
        offset = offset + bob * np.array([0.3, 1.0]) * math.sin(2 * np.pi * cycles * t + phase)
        poses.append(_Pose(centre0 + offset, scale * (1 + zoom * t), roll + turn * t))
    return poses


def _render(config: SyntheticConfig, index: int) -> tuple[SyntheticExample, list[Image.Image]]:
    """Draws example ``index``; returns it and its palette frames for the GIF."""
    rng = np.random.default_rng([config.seed, _STREAM_EXAMPLE, index])
    angles = config.angles()
    count = int(rng.integers(config.num_frames[0], config.num_frames[1] + 1))
    category, angle, _, start, end, intensities = _sample_label(rng, config, angles)
    position = None
    if config.label_mode == "segment":
        position = SEGMENT_POSITIONS[int(rng.integers(len(SEGMENT_POSITIONS)))]
        path = _segment_path(end, count, position, config.segment_fraction)
    else:
        path = _path(rng, start, end, count)
    factor = config.supersample
    width, height = config.frame_size
    canvas_size = (width * factor, height * factor)
    static, blobs, stripes = _background(rng, config, factor)
    static_pixels = np.asarray(static)
    flicker = 1.0 + rng.uniform(-0.08, 0.08, size=count)
    look = _face_look(rng)
    poses = _motion(rng, config, count)
    gaze = np.clip(np.cumsum(rng.normal(0.0, 0.4, size=count)), -1.0, 1.0)
    encoding = (
        str(rng.choice(ENCODINGS, p=[0.5, 0.25, 0.25])) if config.encoding_variety else "delta"
    )
    delay = int(rng.choice(_BASE_DELAYS_MS))
    durations = [delay] * count
    durations[-1] = delay * int(rng.integers(1, 4))  # Reaction GIFs often hold the end.
    if rng.uniform() < config.zero_delay_rate:
        durations = [0] * count

    keypoints = np.zeros((count, NUM_KEYPOINTS, 3), np.float32)
    boxes = np.zeros((count, 4), np.float32)
    ellipses = np.zeros((count, 5), np.float32)
    palette_frames, frames = [], []
    for t in range(count):
        gain = np.minimum(np.arange(256) * flicker[t], 255).astype(np.uint8)
        canvas = Image.fromarray(gain[static_pixels])
        draw = ImageDraw.Draw(canvas)
        if stripes is not None:
            _draw_stripes(draw, stripes, t, canvas_size)
        for blob in blobs:
            _draw_blob(draw, blob, t, canvas_size)
        shapes, local = _face_local(float(path[t, 0]), float(path[t, 1]), float(gaze[t]))
        _draw_face(draw, poses[t], shapes, look, factor)
        keypoints[t, :, :2] = poses[t](local)
        keypoints[t, :, 2] = 1.0
        boxes[t] = poses[t].box()
        ellipses[t] = poses[t].ellipse()
        if factor > 1:
            canvas = canvas.reduce(factor)
        paletted = _quantize(canvas, config.palette_colors)
        frame = np.asarray(paletted.convert("RGB"))
        if frames and np.array_equal(frame, frames[-1]):
            # GIF encoders merge a frame equal to the one before it; keep the
            # frame count by flipping one corner pixel (almost never needed).
            canvas.putpixel((0, 0), tuple(255 - c for c in canvas.getpixel((0, 0))))
            paletted = _quantize(canvas, config.palette_colors)
            frame = np.asarray(paletted.convert("RGB"))
        palette_frames.append(paletted)
        frames.append(frame)

    example = SyntheticExample(
        gif_id=gif_id(index),
        index=index,
        frames=np.stack(frames),
        durations_ms=tuple(durations),
        keypoints=keypoints,
        observed_keypoints=_observe_keypoints(config, index, keypoints),
        face_boxes=boxes,
        head_ellipses=ellipses,
        valence_arousal=path.astype(np.float32),
        angle=angle,
        intensities=intensities.astype(np.float32),
        category=category,
        encoding=encoding,
        position=position,
    )
    return example, palette_frames


def _quantize(image: Image.Image, colors: int) -> Image.Image:
    return image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def _observe_keypoints(
    config: SyntheticConfig, index: int, exact: np.ndarray
) -> list[np.ndarray | None]:
    """What a keypoint estimator reports: jitter, drops, low confidence, misses.

    All random numbers are drawn whatever the rates, so a higher rate only
    adds to what a lower one removed (drops and misses are nested).
    """
    rng = np.random.default_rng([config.seed, _STREAM_KEYPOINTS, index])
    count = exact.shape[0]
    gif_missing = rng.uniform() < config.keypoint_missing_gif_rate
    frame_missing = rng.uniform(size=count) < config.keypoint_missing_frame_rate
    low = rng.uniform(size=count) < config.keypoint_low_confidence_rate
    low_scale = rng.uniform(0.05, 0.3, size=count)
    noise = rng.normal(0.0, 1.0, size=(count, NUM_KEYPOINTS, 2))
    dropped = rng.uniform(size=(count, NUM_KEYPOINTS)) < config.keypoint_drop_rate
    observed: list[np.ndarray | None] = []
    for t in range(count):
        if gif_missing or frame_missing[t]:
            observed.append(None)
            continue
        points = exact[t].astype(np.float64).copy()
        points[:, :2] += config.keypoint_jitter * noise[t]
        if low[t]:
            points[:, 2] *= low_scale[t]
        points[dropped[t]] = 0.0
        observed.append(points.astype(np.float32))
    return observed


def gif_id(index: int) -> str:
    """The id of example ``index``: ``syn`` and five digits."""
    return f"syn{index:05d}"


def generate_example(config: SyntheticConfig | None = None, index: int = 0) -> SyntheticExample:
    """Regenerates one example in memory, identical to the file of that index.

    Args:
        config: The dataset's config (read it back with :func:`read_config`).
        index: Example index in ``[0, num_gifs)`` (any non-negative index
            works; examples do not depend on ``num_gifs``).

    Returns:
        A :class:`SyntheticExample` with frames, keypoints, face boxes and
        intensities.
    """
    config = config if config is not None else SyntheticConfig()
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"`index` must be a non-negative int. Received: index={index!r}")
    return _render(config, int(index))[0]


def encode_gif(example: SyntheticExample, palette_frames: Sequence[Image.Image]) -> bytes:
    """Encodes palette frames as an animated GIF in the example's encoding."""
    options: dict[str, Any] = {
        "format": "GIF",
        "save_all": True,
        "append_images": list(palette_frames[1:]),
        "duration": list(example.durations_ms),
        "loop": 0,
    }
    if example.encoding == "restore":
        options["disposal"] = 2
    elif example.encoding == "keep":
        options["disposal"] = 1
        options["optimize"] = False
    buffer = io.BytesIO()
    palette_frames[0].save(buffer, **options)
    return buffer.getvalue()


def keypoint_document(example: SyntheticExample, frame_size: tuple[int, int]) -> dict[str, Any]:
    """The ``kavan-keypoints-v1`` JSON document of an example's observed keypoints."""
    frames = []
    for points in example.observed_keypoints:
        if points is None:
            frames.append({"people": []})
        else:
            values = [round(float(v), 2) for v in points.reshape(-1)]
            frames.append({"people": [{"face_keypoints_2d": values}]})
    return {
        "format": KEYPOINT_FORMAT,
        "source": "synthetic",
        "frame_size": [int(frame_size[0]), int(frame_size[1])],
        "frames": frames,
    }


# ----------------------------------------------------------------------------
# Votes.
# ----------------------------------------------------------------------------


def simulate_votes(
    intensities: np.ndarray, gif_ids: Sequence[str], config: SyntheticConfig
) -> list[tuple[str, str, str, str]]:
    """Simulated GIFGIF votes from a noisy Thurstone judge.

    Each vote picks an emotion and two different GIFs uniformly; the judge
    perceives ``y_left - y_right + e``, ``e ~ N(0, judge_noise)``, and answers
    ``left`` above ``neither_margin``, ``right`` below ``-neither_margin``,
    ``neither`` otherwise.

    Args:
        intensities: ``[num_gifs, num_emotions]`` true intensities.
        gif_ids: The GIF ids, one per row of ``intensities``.
        config: Gives ``votes_per_gif``, ``judge_noise``, ``neither_margin``,
            ``votes_empty_id_rate``, the emotions and the seed.

    Returns:
        Rows ``(metric, left, right, choice)`` in file order.
    """
    intensities = np.asarray(intensities, dtype=np.float64)
    num_gifs, num_emotions = intensities.shape
    if num_gifs != len(gif_ids) or num_gifs < 2:
        raise ValueError(
            f"Need one id per GIF and at least 2 GIFs. Received: {num_gifs} intensity rows, "
            f"{len(gif_ids)} ids"
        )
    rng = np.random.default_rng([config.seed, _STREAM_VOTES])
    count = int(round(num_gifs * num_emotions * config.votes_per_gif / 2))
    if config.votes_spread > 0:
        emotion, left, right = _uneven_pairs(rng, num_gifs, num_emotions, count,
                                             config.votes_spread)
    else:
        emotion = rng.integers(num_emotions, size=count)
        left = rng.integers(num_gifs, size=count)
        right = (left + rng.integers(1, num_gifs, size=count)) % num_gifs
    perceived = (
        intensities[left, emotion]
        - intensities[right, emotion]
        + rng.normal(0.0, config.judge_noise, size=count)
    )
    choice = np.where(
        perceived > config.neither_margin,
        0,
        np.where(perceived < -config.neither_margin, 1, 2),
    )
    empty = rng.uniform(size=count) < config.votes_empty_id_rate
    empty_side = rng.integers(2, size=count)
    words = ("left", "right", "neither")
    ids = list(gif_ids)
    rows = []
    for k in range(count):
        a, b = ids[left[k]], ids[right[k]]
        if empty[k]:
            a, b = ("", b) if empty_side[k] == 0 else (a, "")
        rows.append((config.labels.emotions[emotion[k]], a, b, words[choice[k]]))
    return rows


def _uneven_pairs(rng: np.random.Generator, num_gifs: int, num_emotions: int, count: int,
                  spread: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Votes' emotions and GIF pairs, each GIF drawn at its (GIF, emotion) rate."""
    rate = np.exp(spread * rng.standard_normal((num_gifs, num_emotions)))
    emotion = rng.integers(num_emotions, size=count)
    left = np.zeros(count, np.int64)
    right = np.zeros(count, np.int64)
    for e in range(num_emotions):
        votes = np.flatnonzero(emotion == e)
        p = rate[:, e] / rate[:, e].sum()
        left[votes] = rng.choice(num_gifs, size=len(votes), p=p)
        right[votes] = rng.choice(num_gifs, size=len(votes), p=p)
        same = votes[right[votes] == left[votes]]
        while len(same):
            right[same] = rng.choice(num_gifs, size=len(same), p=p)
            same = same[right[same] == left[same]]
    return emotion, left, right


def write_votes(path: str | os.PathLike[str], rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Writes vote rows as CSV, gzipped when ``path`` ends in ``.gz`` (reproducibly)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("metric", "left", "right", "choice"))
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    with open(path, "wb") as f:
        if os.fspath(path).endswith(".gz"):
            # mtime=0 and no file name keep the bytes a function of the rows only.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as z:
                z.write(data)
        else:
            f.write(data)


# ----------------------------------------------------------------------------
# The dataset.
# ----------------------------------------------------------------------------


def _synthetic_marker(folders: list[str]) -> dict[str, Any] | None:
    for folder in folders:
        path = os.path.join(folder, CONFIG_FILE)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    return json.load(f)
            except (OSError, ValueError):
                return {}
    return None


def data_origin(rows: Any, manifest_path: str | None = None) -> dict[str, Any]:
    """Where manifest rows come from: ``{"synthetic": bool, "label_mode": str}``.

    Synthetic when the generator's ``synthetic.json`` lies beside the
    manifest or the GIFs (its label mode is then the generator's); else
    ``"gifgif votes"`` for a ``kavan votes`` manifest, ``"manifest scores"``
    otherwise. The model card and ``kavan prepare`` record it.
    """
    folders = []
    if manifest_path:
        folders.append(os.path.dirname(os.path.abspath(manifest_path)))
    if rows is not None and len(rows):
        gif_folder = os.path.dirname(str(rows["path"].iloc[0]))
        folders += [gif_folder, os.path.dirname(gif_folder)]
    marker = _synthetic_marker(folders)
    if marker is not None:
        label_mode = (marker.get("config") or {}).get("label_mode")
    elif rows is not None and "n_votes" in rows:
        label_mode = "gifgif votes"
    else:
        label_mode = "manifest scores"
    return {"synthetic": marker is not None, "label_mode": label_mode}


def read_config(dataset_dir: str | os.PathLike[str]) -> SyntheticConfig:
    """Reads the :class:`SyntheticConfig` a dataset was generated with."""
    path = pathlib.Path(dataset_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a synthetic dataset (no {CONFIG_FILE})")
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    return SyntheticConfig.from_dict(document["config"])


def generate_dataset(
    out_dir: str | os.PathLike[str],
    config: SyntheticConfig | None = None,
    progress: bool = False,
) -> pathlib.Path:
    """Writes a synthetic dataset: GIFs, keypoint files, manifest, optional votes.

    Layout under ``out_dir``: ``gifs/<gif_id>.gif``,
    ``keypoints/<gif_id>.json``, ``manifest.csv``, ``votes.csv.gz`` (when
    ``config.votes_per_gif > 0``) and ``synthetic.json`` (the config).

    Args:
        out_dir: Output folder, created if needed; existing files of the same
            names are overwritten.
        config: The dataset's settings (defaults: 300 GIFs, seed 0).
        progress: Show a tqdm progress bar.

    Returns:
        The manifest's path.
    """
    config = config if config is not None else SyntheticConfig()
    began = time.perf_counter()
    root = pathlib.Path(out_dir)
    (root / "gifs").mkdir(parents=True, exist_ok=True)
    (root / "keypoints").mkdir(parents=True, exist_ok=True)
    split_rng = np.random.default_rng([config.seed, _STREAM_SPLIT])
    order = split_rng.permutation(config.num_gifs)
    is_test = np.zeros(config.num_gifs, dtype=bool)
    is_test[order[: int(round(config.test_fraction * config.num_gifs))]] = True

    emotions = config.labels.emotions
    rows, all_intensities = [], []
    counts = np.zeros(config.labels.num_categories, dtype=np.int64)
    for index in tqdm(range(config.num_gifs), desc="synthetic GIFs", disable=not progress):
        example, palette_frames = _render(config, index)
        gif_path = f"gifs/{example.gif_id}.gif"
        keypoint_path = f"keypoints/{example.gif_id}.json"
        (root / gif_path).write_bytes(encode_gif(example, palette_frames))
        document = keypoint_document(example, config.frame_size)
        (root / keypoint_path).write_text(json.dumps(document, separators=(",", ":")) + "\n")
        rows.append(
            [example.gif_id, gif_path]
            + [f"{s:.4f}" for s in example.scores]
            + [keypoint_path, "test" if is_test[index] else "train"]
        )
        all_intensities.append(example.intensities)
        counts[example.category] += 1

    manifest = root / "manifest.csv"
    with open(manifest, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["gif_id", "path", *emotions, "keypoints", "split"])
        writer.writerows(rows)
    if config.votes_per_gif > 0:
        votes = simulate_votes(np.stack(all_intensities), [r[0] for r in rows], config)
        write_votes(root / ("votes.csv.gz" if config.votes_gzip else "votes.csv"), votes)
    with open(root / CONFIG_FILE, "w", encoding="utf-8") as f:
        json.dump({"generator": __name__, "config": config.to_dict()}, f, indent=2, sort_keys=True)
        f.write("\n")
    logger.info(
        "Wrote %d synthetic GIFs to %s in %.1f s; categories %s",
        config.num_gifs,
        root,
        time.perf_counter() - began,
        dict(zip(config.labels.category_names, counts.tolist(), strict=True)),
    )
    return manifest
