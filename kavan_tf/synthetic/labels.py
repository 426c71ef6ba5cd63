"""Ground truth: each example's label, and the path its expression follows over the frames."""

from __future__ import annotations

import math

import numpy as np

from kavan_tf.synthetic.config import SyntheticConfig, intensity_profile


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
