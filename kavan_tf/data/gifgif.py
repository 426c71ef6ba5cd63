"""GIFGIF vote dump -> TrueSkill intensity scores -> manifest (SPEC 2).

The public GIFGIF release is a CSV (usually gzipped) of pairwise votes with the
header ``metric,left,right,choice``: ``metric`` is one of the 17 emotions,
``left``/``right`` are Giphy ids and ``choice`` is ``left``, ``right`` or
``neither`` (a draw). MIT's own scorer also wrote ``equal`` (counted as a
left win) and ``both`` (a draw); both are accepted.

The dump is streamed: rows are parsed by the ``csv`` module into integer-coded
arrays (GIF ids mapped to indices on first sight) a chunk at a time, and each
chunk is applied to the TrueSkill table before the next is read, so memory
stays flat whatever the dump's size. Bad rows never stop a run; they are
skipped and counted in a :class:`VoteReport`, by reason (checked in this
order, a row counting once):

- ``malformed``: the CSV parser rejected the line (e.g. an over-long field);
- ``wrong_columns``: not as many fields as the header (blank lines are ignored);
- ``empty_id``: ``left`` or ``right`` is empty;
- ``unknown_emotion``: ``metric`` is not one of the configured emotions;
- ``unknown_choice``: ``choice`` is none of the five words above;
- ``self_vote``: ``left == right``.

Names are matched after stripping spaces and lower-casing.

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

import contextlib
import csv
import gzip
import io
import logging
import os
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kavan_tf.config import LabelConfig
from kavan_tf.data.manifest import check_manifest_format, write_manifest
from kavan_tf.data.trueskill import TrueSkillParams, TrueSkillRatings
from kavan_tf.errors import ManifestError, VoteFileError

logger = logging.getLogger(__name__)

VOTE_COLUMNS: tuple[str, ...] = ("metric", "left", "right", "choice")
"""The columns a GIFGIF vote dump must have (in any order)."""

LEFT_WINS, RIGHT_WINS, DRAW = 0, 1, 2

CHOICE_OUTCOMES: dict[str, int] = {
    "left": LEFT_WINS,
    "right": RIGHT_WINS,
    "neither": DRAW,
    "equal": LEFT_WINS,  # MIT's scorer counted `equal` as a left win.
    "both": DRAW,
}
"""How each ``choice`` word is scored."""

SKIP_REASONS: tuple[str, ...] = (
    "malformed",
    "wrong_columns",
    "empty_id",
    "unknown_emotion",
    "unknown_choice",
    "self_vote",
)
"""Why a row may be skipped, in the order the checks run."""

_GZIP_MAGIC = b"\x1f\x8b"
_EXAMPLES_PER_REASON = 3


@dataclass
class VoteReport:
    """What happened to a vote dump on its way to a manifest.

    Attributes:
        path: The vote file.
        total_rows: Data rows read (header and blank lines excluded).
        votes_applied: Rows that became TrueSkill updates.
        draws: Applied votes that were draws (``neither``/``both``).
        malformed: Rows skipped because the CSV parser rejected them.
        wrong_columns: Rows skipped for a field count unlike the header's.
        empty_id: Rows skipped for an empty ``left`` or ``right``.
        unknown_emotion: Rows skipped for an unknown ``metric``.
        unknown_choice: Rows skipped for an unknown ``choice``.
        self_vote: Rows skipped because ``left == right``.
        num_waves: Vectorised update waves used (0 for ``method="sequential"``).
        gifs_rated: GIFs in at least one applied vote.
        gifs_below_min_votes: GIFs dropped by ``min_votes``.
        gifs_missing_file: Rated GIFs, among those kept by ``min_votes``, whose
            image file was not found (dropped only with ``drop_missing``).
        gifs_written: Rows of the manifest.
        output_path: The manifest written, if any.
    """

    path: str
    total_rows: int = 0
    votes_applied: int = 0
    draws: int = 0
    malformed: int = 0
    wrong_columns: int = 0
    empty_id: int = 0
    unknown_emotion: int = 0
    unknown_choice: int = 0
    self_vote: int = 0
    num_waves: int = 0
    gifs_rated: int = 0
    gifs_below_min_votes: int = 0
    gifs_missing_file: int = 0
    gifs_written: int = 0
    output_path: str | None = None

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped rows per reason (see :data:`SKIP_REASONS`)."""
        return {reason: getattr(self, reason) for reason in SKIP_REASONS}

    @property
    def rows_skipped(self) -> int:
        """All skipped rows."""
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""
        skipped = ", ".join(f"{k} {v}" for k, v in self.skipped.items() if v) or "none"
        lines = [
            f"{self.path}: {self.total_rows} rows, {self.votes_applied} votes applied "
            f"({self.draws} draws), {self.rows_skipped} skipped ({skipped})",
            f"GIFs: {self.gifs_rated} rated, {self.gifs_below_min_votes} below min_votes, "
            f"{self.gifs_missing_file} without image file, {self.gifs_written} written",
        ]
        if self.output_path:
            lines.append(f"manifest: {self.output_path}")
        return "\n".join(lines)


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


@dataclass
class VoteChunk:
    """Integer-coded votes: indices into the id list, emotion and outcome."""

    left: np.ndarray
    right: np.ndarray
    emotion: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.left)


@contextlib.contextmanager
def open_votes(path: str | os.PathLike[str]) -> Iterator[tuple[IO[bytes], IO[str]]]:
    """Opens a vote dump, gzipped or plain (told apart by magic bytes).

    Args:
        path: The vote file.

    Yields:
        ``(raw, text)``: the raw binary file (its ``tell()`` is the position in
        the file on disk, for progress) and a text stream of the CSV.

    Raises:
        VoteFileError: If the file does not exist or cannot be opened.
    """
    path = os.fspath(path)
    try:
        raw = open(path, "rb")
    except FileNotFoundError as e:
        raise VoteFileError(path, "file not found") from e
    except OSError as e:
        raise VoteFileError(path, f"cannot open: {e}") from e
    with raw:
        binary: IO[bytes] = raw
        if raw.peek(2)[:2] == _GZIP_MAGIC:  # type: ignore[attr-defined]
            binary = gzip.GzipFile(fileobj=raw, mode="rb")
        # utf-8-sig drops a byte-order mark; newline="" is what csv expects.
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            yield raw, text
        finally:
            text.close()


def _read_header(reader: Any, path: str) -> tuple[int, tuple[int, ...]]:
    for row in reader:
        if not row:
            continue
        names = [name.strip().lower() for name in row]
        missing = [c for c in VOTE_COLUMNS if c not in names]
        if missing:
            raise VoteFileError(
                path,
                f"the header must name the columns {','.join(VOTE_COLUMNS)}; "
                f"missing {missing} in first line {_shorten(repr(row))}",
            )
        return len(row), tuple(names.index(c) for c in VOTE_COLUMNS)
    raise VoteFileError(path, f"empty file: no header line ({','.join(VOTE_COLUMNS)})")


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def iter_vote_chunks(
    text: IO[str],
    path: str,
    labels: LabelConfig,
    gif_ids: list[str],
    report: VoteReport,
    chunk_size: int = 100_000,
) -> Iterator[VoteChunk]:
    """Parses a vote CSV into integer-coded chunks, skipping and counting bad rows.

    Args:
        text: The CSV text stream (see :func:`open_votes`).
        path: The file name, for messages.
        labels: The emotions; ``metric`` must be one of them.
        gif_ids: Known GIF ids; new ids are appended, and the chunks' indices
            point into this list.
        report: Counts are added to it.
        chunk_size: Valid votes per chunk.

    Yields:
        :class:`VoteChunk` of at most ``chunk_size`` votes, in file order.

    Raises:
        VoteFileError: On a missing or wrong header, or an unreadable file
            (bad gzip stream, not UTF-8 text).
    """
    reader = csv.reader(text)
    emotions = {e.lower(): k for k, e in enumerate(labels.emotions)}
    index = {gid: k for k, gid in enumerate(gif_ids)}
    bad = dict.fromkeys(SKIP_REASONS, 0)
    examples: dict[str, list[int]] = {reason: [] for reason in SKIP_REASONS}
    rows = 0
    draws = 0
    try:
        num_columns, (i_metric, i_left, i_right, i_choice) = _read_header(reader, path)

        def skip(reason: str) -> None:
            bad[reason] += 1
            if len(examples[reason]) < _EXAMPLES_PER_REASON:
                examples[reason].append(reader.line_num)

        def new_arrays() -> tuple[array, array, array, array]:
            return array("i"), array("i"), array("i"), array("b")

        lefts, rights, emos, outcomes = new_arrays()
        while True:
            try:
                for row in reader:
                    if len(row) != num_columns:
                        if row:
                            rows += 1
                            skip("wrong_columns")
                        continue
                    rows += 1
                    left = row[i_left].strip()
                    right = row[i_right].strip()
                    if not left or not right:
                        skip("empty_id")
                        continue
                    emotion = emotions.get(row[i_metric].strip().lower())
                    if emotion is None:
                        skip("unknown_emotion")
                        continue
                    outcome = CHOICE_OUTCOMES.get(row[i_choice].strip().lower())
                    if outcome is None:
                        skip("unknown_choice")
                        continue
                    if left == right:
                        skip("self_vote")
                        continue
                    a = index.get(left)
                    if a is None:
                        a = index[left] = len(gif_ids)
                        gif_ids.append(left)
                    b = index.get(right)
                    if b is None:
                        b = index[right] = len(gif_ids)
                        gif_ids.append(right)
                    lefts.append(a)
                    rights.append(b)
                    emos.append(emotion)
                    outcomes.append(outcome)
                    draws += outcome == DRAW
                    if len(lefts) >= chunk_size:
                        yield _to_chunk(lefts, rights, emos, outcomes)
                        lefts, rights, emos, outcomes = new_arrays()
                break
            except csv.Error:
                # The reader resumes on the next line.
                rows += 1
                skip("malformed")
        if len(lefts):
            yield _to_chunk(lefts, rights, emos, outcomes)
    except (OSError, EOFError, zlib.error) as e:
        raise VoteFileError(path, f"read failed at or after line {reader.line_num + 1}: {e}") from e
    except UnicodeDecodeError as e:
        hint = (" (the name ends in .gz, but the data is not gzip)"
                if str(path).lower().endswith(".gz") else "")
        raise VoteFileError(
            path, f"not UTF-8 text at or after line {reader.line_num + 1}{hint}: {e}") from e
    finally:
        # Counts of a partial read are still reported.
        report.total_rows += rows
        report.draws += draws
        for reason, count in bad.items():
            setattr(report, reason, getattr(report, reason) + count)
            if count:
                logger.warning(
                    "%s: skipped %d rows (%s), e.g. lines %s",
                    path,
                    count,
                    reason,
                    examples[reason],
                )


def _to_chunk(lefts: array, rights: array, emos: array, outcomes: array) -> VoteChunk:
    return VoteChunk(
        left=np.frombuffer(lefts, dtype=np.int32),
        right=np.frombuffer(rights, dtype=np.int32),
        emotion=np.frombuffer(emos, dtype=np.int32),
        outcome=np.frombuffer(outcomes, dtype=np.int8),
    )


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
