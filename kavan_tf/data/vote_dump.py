"""GIFGIF vote dumps: their format, read as integer-coded chunks of votes.

The public GIFGIF release is a CSV (usually gzipped) of pairwise votes with the
header ``metric,left,right,choice``: ``metric`` is one of the 17 emotions,
``left``/``right`` are Giphy ids and ``choice`` is ``left``, ``right`` or
``neither`` (a draw). MIT's own scorer also wrote ``equal`` (counted as a
left win) and ``both`` (a draw); both are accepted.

The dump is streamed: rows are parsed by the ``csv`` module into integer-coded
arrays (GIF ids mapped to indices on first sight) a chunk at a time
(:func:`iter_vote_chunks`), so that :mod:`kavan_tf.data.gifgif` applies each
chunk to the TrueSkill table before the next is read, and memory stays flat
whatever the dump's size. Bad rows never stop a run; they are skipped and
counted in a :class:`VoteReport`, by reason (checked in this order, a row
counting once):

- ``malformed``: the CSV parser rejected the line (e.g. an over-long field);
- ``wrong_columns``: not as many fields as the header (blank lines are ignored);
- ``empty_id``: ``left`` or ``right`` is empty;
- ``unknown_emotion``: ``metric`` is not one of the configured emotions;
- ``unknown_choice``: ``choice`` is none of the five words above;
- ``self_vote``: ``left == right``.

Names are matched after stripping spaces and lower-casing.
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
from dataclasses import asdict, dataclass
from typing import IO, Any

import numpy as np

from kavan_tf.config import LabelConfig
from kavan_tf.errors import VoteFileError

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
        binary: IO[bytes] | gzip.GzipFile = raw
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
        _count(report, path, rows, draws, bad, examples)


def _count(
    report: VoteReport,
    path: str,
    rows: int,
    draws: int,
    bad: dict[str, int],
    examples: dict[str, list[int]],
) -> None:
    """Adds a read's counts to ``report`` and logs each reason rows were skipped for."""
    report.total_rows += rows
    report.draws += draws
    for reason, count in bad.items():
        setattr(report, reason, getattr(report, reason) + count)
        if count:
            logger.warning(
                "%s: skipped %d rows (%s), e.g. lines %s", path, count, reason, examples[reason]
            )


def _to_chunk(lefts: array, rights: array, emos: array, outcomes: array) -> VoteChunk:
    return VoteChunk(
        left=np.frombuffer(lefts, dtype=np.int32),
        right=np.frombuffer(rights, dtype=np.int32),
        emotion=np.frombuffer(emos, dtype=np.int32),
        outcome=np.frombuffer(outcomes, dtype=np.int8),
    )
