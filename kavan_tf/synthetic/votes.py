"""Simulated GIFGIF votes for the synthetic GIFs (a vote dump in GIFGIF's format)."""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Sequence

import numpy as np

from kavan_tf.synthetic.config import STREAM_VOTES, SyntheticConfig


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
    rng = np.random.default_rng([config.seed, STREAM_VOTES])
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
