"""Face geometry for the synthetic GIFs, and its placement on the canvas.

The face is built in face units (head half-width 1, half-height 1.2, y
down); ``_Pose`` places it (scale, rotation, position) and ``_to_canvas``
maps it to pixels. Also the colour helpers the renderer draws with.
"""

from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np

from kavan_tf.keypoints.layout import NUM_KEYPOINTS

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
