"""Where the attention goes: its mass on the face of synthetic GIFs.

The synthetic data knows the head's outline in every frame
(:attr:`kavan_tf.synthetic.SyntheticExample.head_ellipses`), so the share of
a model's attention mass that falls on the head can be measured and set
beside the head's share of the frame (what uniform attention would put there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kavan_tf.config import KavanConfig
from kavan_tf.data.pipeline import build_dataset
from kavan_tf.data.sampling import sample_indices
from kavan_tf.synthetic import generate_example
from kavan_tf.training.trainer import feature_grid


def face_cell_weights(
    ellipse: np.ndarray, frame_size: tuple[int, int], grid: tuple[int, int], samples: int = 8
) -> np.ndarray:
    """Fraction of each feature-grid cell covered by the head (rotated ellipse).

    Args:
        ellipse: ``(cx, cy, half_width, half_height, roll_degrees)`` in GIF pixels.
        frame_size: ``(width, height)`` of the GIF.
        grid: ``(h, w)`` of the attention masks (frames are stretched to it).
        samples: Sub-samples per cell side.

    Returns:
        float ``[h, w]`` in ``[0, 1]``.
    """
    (width, height), (gh, gw) = frame_size, grid
    cx, cy, a, b, roll = (float(v) for v in ellipse)
    ys = (np.arange(gh * samples) + 0.5) / (gh * samples) * height - 0.5
    xs = (np.arange(gw * samples) + 0.5) / (gw * samples) * width - 0.5
    x, y = np.meshgrid(xs - cx, ys - cy)
    t = np.deg2rad(roll)
    u = x * np.cos(t) + y * np.sin(t)
    v = -x * np.sin(t) + y * np.cos(t)
    inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return inside.reshape(gh, samples, gw, samples).mean(axis=(1, 3))


def attention_on_faces(model, rows: pd.DataFrame, config: KavanConfig, synthetic) -> dict:
    """Mean attention mass on the head, and the head's share of the frame (chance).

    Args:
        model: A trained attention model.
        rows: Synthetic manifest rows to measure on.
        config: The model's experiment config.
        synthetic: The ``SyntheticConfig`` the rows were generated with.
    """
    grid = feature_grid(config)
    dataset = build_dataset(rows, config, training=False, feature_grid=grid)
    attention = np.concatenate(
        [model.predict_on_batch(x)["attention"] for x, _ in dataset], axis=0
    )
    masses, shares = [], []
    for row_index, gif_id in enumerate(rows["gif_id"].astype(str)):
        example = generate_example(synthetic, int(gif_id[3:]))
        indices = sample_indices(len(example.frames), config.model.num_frames, training=False)
        for t, frame in enumerate(indices):
            cover = face_cell_weights(example.head_ellipses[frame], synthetic.frame_size, grid)
            masses.append(float((attention[row_index, t] * cover).sum()))
            shares.append(float(cover.mean()))
    return {"face_mass": float(np.mean(masses)), "uniform_mass": float(np.mean(shares))}
