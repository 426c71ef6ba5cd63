"""The synthetic benchmark's settings (:class:`SyntheticConfig`) and one example's ground truth."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kavan_tf.config import LabelConfig

CONFIG_FILE = "synthetic.json"
"""Name of the config sidecar written next to the manifest."""
ENCODINGS: tuple[str, ...] = ("delta", "restore", "keep")
"""GIF encodings: Pillow's optimised delta frames with a transparent colour,
full frames with disposal 2, partial frames with disposal 1."""
LABEL_MODES: tuple[str, ...] = ("change", "end", "segment")
"""``SyntheticConfig.label_mode`` values (see :class:`SyntheticConfig`)."""
SEGMENT_POSITIONS: tuple[str, ...] = ("early", "middle", "late")
"""Where ``label_mode="segment"`` shows the expression (:func:`segment_window`)."""

# Where each default category sits on the circumplex: the start of its
# quadrant in degrees, angle 0 = pleasure, 90 = arousal (paper Fig. 4;
# docs/decisions.md#labels-and-categories).
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
STREAM_EXAMPLE, STREAM_KEYPOINTS, STREAM_SPLIT, STREAM_VOTES = 0, 1, 2, 3


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
