"""GIFGIF vote dump -> TrueSkill intensity scores -> manifest.

The decisions behind it: docs/decisions.md#gifgif-votes-and-trueskill-scores.

The dump is read a chunk at a time (:mod:`kavan_tf.data.vote_dump`, which
describes its format and the rows it skips), and each chunk is applied to the
TrueSkill table (:mod:`kavan_tf.data.trueskill`) before the next is read.

The manifest has one row per GIF seen in at least one applied vote, sorted by
``gif_id``: ``gif_id, path, <emotion scores>, <emotion>_sigma..., n_votes``
where a score is the TrueSkill ``mu`` (a GIF never compared on an emotion keeps
``mu0 = 25``) and ``n_votes`` counts the applied votes the GIF took part in,
all emotions together. Filters, applied in this order and counted in the
report: ``min_votes`` (keep GIFs with ``n_votes >= min_votes``), then, with
``drop_missing``, GIFs whose ``<images_dir>/<gif_id>.gif`` does not exist.
The paper reports 6,119 GIFs and 3.2 M votes, collected by its authors at
another time than the public dump (6,170 GIFs, about 2.7 M votes), so its exact
count cannot be rebuilt from the public release. The count a run yields is the
report's ``gifs_written``, and :meth:`VoteReport.summary` says which filter
removed how many GIFs (it is logged at INFO level). GIFs whose file exists but
cannot be decoded are not filtered here (that needs the GIF decoder).

Example:

```python
from kavan_tf.data.gifgif import votes_to_manifest

report = votes_to_manifest(
    "gifgif-dataset-20150121-v1.csv.gz", "data/manifest.csv",
    images_dir="data/gifs", drop_missing=True,
)
print(report.summary())
```
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kavan_tf.config import LabelConfig
from kavan_tf.data.manifest import check_manifest_format, write_manifest
from kavan_tf.data.trueskill import TrueSkillParams, TrueSkillRatings
from kavan_tf.data.vote_dump import (
    DRAW,
    RIGHT_WINS,
    VoteChunk,
    VoteReport,
    iter_vote_chunks,
    open_votes,
)
from kavan_tf.errors import ManifestError

logger = logging.getLogger(__name__)


@dataclass
class GifgifRatings:
    """TrueSkill ratings of every GIF on every emotion.

    Attributes:
        gif_ids: Giphy ids, in order of first appearance in the dump.
        mu: ``[num_gifs, num_emotions]`` TrueSkill means (the scores).
        sigma: ``[num_gifs, num_emotions]`` TrueSkill standard deviations.
        n_votes: ``[num_gifs]`` applied votes each GIF took part in.
        labels: The emotions of the columns of ``mu`` and ``sigma``.
        report: Row counts of the dump.
    """

    gif_ids: list[str]
    mu: np.ndarray
    sigma: np.ndarray
    n_votes: np.ndarray
    labels: LabelConfig
    report: VoteReport = field(repr=False)


def rate_votes(
    votes_path: str | os.PathLike[str],
    labels: LabelConfig | None = None,
    params: TrueSkillParams | None = None,
    method: str = "waves",
    chunk_size: int = 100_000,
    progress: bool = False,
) -> GifgifRatings:
    """Streams a vote dump through TrueSkill, one rating per (GIF, emotion).

    Votes are applied in file order (see :mod:`kavan_tf.data.trueskill`).

    Args:
        votes_path: The dump, CSV or gzipped CSV.
        labels: The emotions (GIFGIF's 17 by default).
        params: TrueSkill constants (GIFGIF's by default).
        method: ``"waves"`` (vectorised) or ``"sequential"``; same results.
        chunk_size: Votes parsed and applied at a time.
        progress: Show a tqdm progress bar over the file's bytes.

    Returns:
        A :class:`GifgifRatings`, whose ``report`` counts the rows.

    Raises:
        VoteFileError: If the file is missing, unreadable, or has no valid
            header. Bad rows are skipped and counted, never raised.
    """
    labels = labels if labels is not None else LabelConfig()
    if chunk_size <= 0:
        raise ValueError(f"`chunk_size` must be positive. Received: chunk_size={chunk_size}")
    path = os.fspath(votes_path)
    report = VoteReport(path=path)
    num_emotions = labels.num_emotions
    ratings = TrueSkillRatings(params=params)
    gif_ids: list[str] = []
    n_votes = np.zeros(0, dtype=np.int64)
    with open_votes(path) as (raw, text):
        size = os.fstat(raw.fileno()).st_size
        with tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc="GIFGIF votes",
            disable=not progress,
        ) as bar:
            for chunk in iter_vote_chunks(text, path, labels, gif_ids, report, chunk_size):
                ratings.grow(len(gif_ids) * num_emotions)
                apply_vote_chunk(ratings, chunk, num_emotions, method)
                n_votes = _add_counts(n_votes, chunk, len(gif_ids))
                report.votes_applied += len(chunk)
                bar.update(raw.tell() - bar.n)
            bar.update(size - bar.n)
    report.num_waves = ratings.num_waves
    num_gifs = len(gif_ids)
    ratings.grow(num_gifs * num_emotions)
    report.gifs_rated = num_gifs
    logger.info(
        "%s: %d votes applied to %d GIFs x %d emotions (%d rows skipped)",
        path,
        report.votes_applied,
        num_gifs,
        num_emotions,
        report.rows_skipped,
    )
    return GifgifRatings(
        gif_ids=gif_ids,
        mu=ratings.mu.reshape(num_gifs, num_emotions).copy(),
        sigma=ratings.sigma.reshape(num_gifs, num_emotions),
        n_votes=np.pad(n_votes, (0, num_gifs - len(n_votes))),
        labels=labels,
        report=report,
    )


def apply_vote_chunk(
    ratings: TrueSkillRatings, chunk: VoteChunk, num_emotions: int, method: str = "waves"
) -> None:
    """Applies a chunk of coded votes; rating index = ``gif * num_emotions + emotion``.

    Args:
        ratings: The table, already grown to cover every GIF of the chunk.
        chunk: Votes from :func:`iter_vote_chunks`.
        num_emotions: Emotions per GIF.
        method: ``"waves"`` or ``"sequential"``.
    """
    emotion = chunk.emotion.astype(np.int64)
    a = chunk.left.astype(np.int64) * num_emotions + emotion
    b = chunk.right.astype(np.int64) * num_emotions + emotion
    right_wins = chunk.outcome == RIGHT_WINS
    ratings.apply(
        winner=np.where(right_wins, b, a),
        loser=np.where(right_wins, a, b),
        draw=chunk.outcome == DRAW,
        method=method,
    )


def _add_counts(n_votes: np.ndarray, chunk: VoteChunk, num_gifs: int) -> np.ndarray:
    counts = np.bincount(chunk.left, minlength=num_gifs) + np.bincount(
        chunk.right, minlength=num_gifs
    )
    counts[: len(n_votes)] += n_votes
    return counts.astype(np.int64)


def ratings_to_frame(
    ratings: GifgifRatings,
    manifest_dir: str | os.PathLike[str] = ".",
    images_dir: str | os.PathLike[str] | None = None,
    min_votes: int = 0,
    drop_missing: bool = False,
) -> pd.DataFrame:
    """Builds the manifest table of rated GIFs (sorted by ``gif_id``).

    Args:
        ratings: Output of :func:`rate_votes`; its report gets the filter counts.
        manifest_dir: Folder the manifest will live in: ``path`` is written
            relative to it, so the dataset folder can move as a whole.
        images_dir: Folder of ``<gif_id>.gif`` files. ``None``: ``path`` is
            ``<gif_id>.gif`` beside the manifest.
        min_votes: Keep GIFs with at least this many applied votes.
        drop_missing: Drop GIFs whose image file is missing (needs
            ``images_dir``).

    Returns:
        A DataFrame ``gif_id, path, <emotions>, <emotion>_sigma..., n_votes``.

    Raises:
        ValueError: On a negative ``min_votes``, or ``drop_missing`` without
            ``images_dir``.
        FileNotFoundError: If ``images_dir`` is not a folder.
    """
    if isinstance(min_votes, bool) or not isinstance(min_votes, int) or min_votes < 0:
        raise ValueError(f"`min_votes` must be an int >= 0. Received: min_votes={min_votes!r}")
    if drop_missing and images_dir is None:
        raise ValueError("`drop_missing=True` needs `images_dir`")
    report = ratings.report
    emotions = list(ratings.labels.emotions)
    frame = pd.DataFrame({"gif_id": pd.Series(ratings.gif_ids, dtype=object)})
    frame["path"] = ""
    frame[emotions] = ratings.mu
    frame[[f"{e}_sigma" for e in emotions]] = ratings.sigma
    frame["n_votes"] = ratings.n_votes
    keep = frame["n_votes"].to_numpy() >= min_votes
    report.gifs_below_min_votes = int((~keep).sum())
    frame = frame[keep]
    manifest_dir = os.path.abspath(manifest_dir)
    if images_dir is None:
        frame["path"] = frame["gif_id"] + ".gif"
    else:
        images_dir = os.path.abspath(images_dir)
        if not os.path.isdir(images_dir):
            raise FileNotFoundError(f"Image folder not found: {images_dir}")
        present = set(os.listdir(images_dir))
        names = frame["gif_id"] + ".gif"
        found = names.isin(present).to_numpy()
        report.gifs_missing_file = int((~found).sum())
        if report.gifs_missing_file:
            logger.warning(
                "%d of %d GIFs have no file in %s%s",
                report.gifs_missing_file,
                len(frame),
                images_dir,
                " (dropped)" if drop_missing else "",
            )
        if drop_missing:
            frame, names = frame[found], names[found]
        frame["path"] = [_relative(os.path.join(images_dir, n), manifest_dir) for n in names]
    frame = frame.sort_values("gif_id", kind="stable").reset_index(drop=True)
    report.gifs_written = len(frame)
    return frame


def _relative(path: str, start: str) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # Another drive on Windows.
        return path


def votes_to_manifest(
    votes_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    images_dir: str | os.PathLike[str] | None = None,
    min_votes: int = 0,
    progress: bool = True,
    *,
    drop_missing: bool = False,
    labels: LabelConfig | None = None,
    params: TrueSkillParams | None = None,
    method: str = "waves",
) -> VoteReport:
    """Turns a GIFGIF vote dump into a manifest (the ``kavan`` CLI's hook).

    Args:
        votes_path: The dump, CSV or gzipped CSV (detected by magic bytes).
        out_path: The manifest; ``.parquet`` writes Parquet (needs pyarrow),
            anything else CSV.
        images_dir: Folder of ``<gif_id>.gif`` files, for ``path``.
        min_votes: Keep GIFs with at least this many applied votes.
        progress: Show a tqdm progress bar.
        drop_missing: Drop GIFs whose image file is missing from ``images_dir``.
        labels: The emotions (GIFGIF's 17 by default).
        params: TrueSkill constants (GIFGIF's by default).
        method: ``"waves"`` or ``"sequential"`` (same results).

    Returns:
        The :class:`VoteReport`.

    Raises:
        VoteFileError: If the dump is missing, unreadable or has no valid header.
        ManifestError: If Parquet is asked for without pyarrow, or no GIF is
            left to write.
    """
    out_path = os.fspath(out_path)
    check_manifest_format(out_path)  # Fail before the long part.
    if drop_missing and images_dir is None:
        raise ValueError("`drop_missing=True` needs `images_dir`")
    ratings = rate_votes(votes_path, labels=labels, params=params, method=method, progress=progress)
    frame = ratings_to_frame(
        ratings,
        manifest_dir=os.path.dirname(os.path.abspath(out_path)),
        images_dir=images_dir,
        min_votes=min_votes,
        drop_missing=drop_missing,
    )
    report = ratings.report
    if frame.empty:
        raise ManifestError(f"{out_path}: no GIF left to write.\n{report.summary()}")
    write_manifest(frame, out_path, labels=ratings.labels)
    report.output_path = out_path
    logger.info("%s", report.summary())
    return report
