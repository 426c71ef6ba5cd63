"""Dataset manifests: one row per GIF with its intensity scores.

The columns and targets: docs/decisions.md#gifgif-votes-and-trueskill-scores and
docs/decisions.md#labels-and-categories.

A manifest is a CSV file, or Parquet when the name ends in ``.parquet``
(Parquet needs pyarrow, which kavan_tf does not depend on). Columns:

- required: ``gif_id``, ``path`` (the GIF file) and one score column per
  emotion, named by the emotion (TrueSkill means, about ``[0, 50]``);
- optional: ``<emotion>_sigma`` for every emotion (TrueSkill standard
  deviations, a per-label confidence), ``split`` (e.g. ``train``/``test``),
  ``keypoints`` (a per-GIF keypoint file; empty when there is none) and
  ``n_votes``. Other columns are kept as they are.

Relative ``path`` and ``keypoints`` values are relative to the manifest's
folder; :func:`read_manifest` returns them as absolute paths.

Example:

```python
from kavan_tf.data.manifest import read_manifest, scores_to_targets, targets_category
from kavan_tf.labels import EMOTIONS

frame = read_manifest("data/manifest.csv")
targets = scores_to_targets(frame[list(EMOTIONS)])   # [N, 17] in [-1, 1]
categories = targets_category(targets)               # [N] category ids
```
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kavan_tf.config import LabelConfig
from kavan_tf.errors import ManifestError

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("gif_id", "path")
"""Required columns besides the emotion scores."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("split", "keypoints", "n_votes")
"""Known optional columns besides the sigma columns."""

_MAX_LISTED = 10


def sigma_column(emotion: str) -> str:
    """Name of the TrueSkill sigma column of ``emotion``."""
    return f"{emotion}_sigma"


def check_manifest_format(path: str | os.PathLike[str]) -> str:
    """Returns ``"parquet"`` or ``"csv"`` for a manifest path.

    Raises:
        ManifestError: For a ``.parquet`` path when no Parquet engine (pyarrow
            or fastparquet) is installed.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".parquet"):
        return "csv"
    if (
        importlib.util.find_spec("pyarrow") is None
        and importlib.util.find_spec("fastparquet") is None
    ):
        raise ManifestError(
            f"{path}: Parquet manifests need pyarrow, which is not installed "
            "(pip install pyarrow); or use a .csv manifest"
        )
    return "parquet"


def read_manifest(path: str | os.PathLike[str], labels: LabelConfig | None = None) -> pd.DataFrame:
    """Reads and validates a manifest.

    Args:
        path: A ``.csv`` or ``.parquet`` manifest.
        labels: The emotions whose score columns are required (GIFGIF's 17
            by default).

    Returns:
        A DataFrame with ``gif_id`` and ``path`` (absolute) as strings, float
        scores, float sigmas if present, then ``split`` (string),
        ``keypoints`` (absolute path or ``None``) and ``n_votes`` (int) if
        present, then any other columns.

    Raises:
        ManifestError: Naming the file and the problem: not found, unreadable,
            empty, missing columns (all listed), empty or duplicate ids or
            paths, non-numeric or non-finite values (rows and ids listed).
    """
    labels = labels if labels is not None else LabelConfig()
    path = os.fspath(path)
    if os.path.isdir(path):
        inside = [n for n in ("manifest.csv", "manifest.parquet")
                  if os.path.isfile(os.path.join(path, n))]
        hint = f"; did you mean {os.path.join(path, inside[0])}?" if inside else ""
        raise ManifestError(f"{path}: is a folder, not a manifest file (CSV or Parquet){hint}")
    if not os.path.isfile(path):
        raise ManifestError(f"{path}: manifest not found")
    frame = _load(path)
    frame = validate_manifest(frame, labels, source=path)
    folder = os.path.dirname(os.path.abspath(path))
    frame["path"] = [_resolve(p, folder) for p in frame["path"]]
    if "keypoints" in frame:
        frame["keypoints"] = pd.Series(
            [_resolve(p, folder) if p else None for p in frame["keypoints"]],
            index=frame.index,
            dtype=object,
        )
    logger.debug("%s: %d GIFs", path, len(frame))
    return frame


def validate_manifest(
    frame: pd.DataFrame, labels: LabelConfig | None = None, source: str = "<manifest>"
) -> pd.DataFrame:
    """Checks a manifest table and returns it with clean types and column order.

    Paths are not resolved (see :func:`read_manifest`).

    Args:
        frame: The table.
        labels: The emotions whose score columns are required.
        source: Names the manifest in error messages.

    Returns:
        A new DataFrame (see :func:`read_manifest` for its columns).

    Raises:
        ManifestError: As :func:`read_manifest`.
    """
    labels = labels if labels is not None else LabelConfig()
    frame = frame.rename(columns=lambda c: str(c).strip()).reset_index(drop=True)
    emotions = list(labels.emotions)
    sigmas = [sigma_column(e) for e in emotions]
    missing = [c for c in (*REQUIRED_COLUMNS, *emotions) if c not in frame]
    if missing:
        raise ManifestError(f"{source}: missing columns {missing}")
    present_sigmas = [c for c in sigmas if c in frame]
    if present_sigmas and len(present_sigmas) != len(sigmas):
        missing = [c for c in sigmas if c not in frame]
        raise ManifestError(f"{source}: sigma columns are all-or-none; missing {missing}")
    if frame.empty:
        raise ManifestError(f"{source}: empty manifest (no rows)")

    out = pd.DataFrame(index=frame.index)
    out["gif_id"] = _text(frame["gif_id"])
    ids = out["gif_id"]
    _check_rows(source, ids, ids == "", "empty gif_id")
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        names = sorted(set(duplicated))
        raise ManifestError(
            f"{source}: duplicate gif_ids {_listing(names)} "
            f"({len(duplicated)} rows share {len(names)} ids)"
        )
    out["path"] = _text(frame["path"])
    _check_rows(source, ids, out["path"] == "", "empty path")
    out[emotions] = _numbers(source, frame, emotions, ids, "score")
    if present_sigmas:
        values = _numbers(source, frame, sigmas, ids, "sigma")
        _check_rows(source, ids, (values < 0).any(axis=1), "negative sigma")
        out[sigmas] = values
    if "split" in frame:
        out["split"] = _text(frame["split"])
    if "keypoints" in frame:
        out["keypoints"] = _text(frame["keypoints"])
    if "n_votes" in frame:
        votes = _numbers(source, frame, ["n_votes"], ids, "n_votes")["n_votes"]
        bad = (votes < 0) | (votes != np.round(votes))
        _check_rows(source, ids, bad, "n_votes not a non-negative integer")
        out["n_votes"] = votes.astype(np.int64)
    known = set(out.columns)
    for column in frame.columns:
        if column not in known:
            out[column] = frame[column]
    return out


def write_manifest(
    frame: pd.DataFrame, path: str | os.PathLike[str], labels: LabelConfig | None = None
) -> None:
    """Validates and writes a manifest (CSV, or Parquet for ``.parquet``).

    The file is written to a temporary name and renamed, so a reader never
    sees half a manifest. Paths are written as they are in ``frame``.

    Args:
        frame: The table (see :func:`read_manifest`).
        path: Where to write; parent folders are created.
        labels: The emotions whose score columns are required.

    Raises:
        ManifestError: If the table is invalid or Parquet is asked for
            without pyarrow.
    """
    path = os.fspath(path)
    kind = check_manifest_format(path)
    frame = validate_manifest(frame, labels, source=path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest-", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
    try:
        if kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    logger.info("Wrote manifest %s (%d GIFs)", path, len(frame))


def scores_to_targets(scores: np.ndarray | pd.DataFrame | Sequence[float]) -> np.ndarray:
    """Maps TrueSkill scores to model targets, ``clip(score / 25 - 1, -1, 1)``.

    The targets: docs/decisions.md#labels-and-categories.

    Args:
        scores: Scores ``[..., num_emotions]``, about ``[0, 50]``.

    Returns:
        A float32 array of the same shape in ``[-1, 1]``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return np.clip(scores / 25.0 - 1.0, -1.0, 1.0).astype(np.float32)


def targets_category(
    targets: np.ndarray | pd.DataFrame, labels: LabelConfig | None = None
) -> np.ndarray:
    """Category of the highest-scoring emotion (paper 4.2), ``[...]`` int32."""
    labels = labels if labels is not None else LabelConfig()
    targets = np.asarray(targets)
    if targets.shape[-1:] != (labels.num_emotions,):
        raise ValueError(
            f"`targets` must have {labels.num_emotions} emotions on its last axis. "
            f"Received: shape={targets.shape}"
        )
    return labels.category_of(targets).astype(np.int32)


# --- Helpers --------------------------------------------------------------------------


def _load(path: str) -> pd.DataFrame:
    try:
        if check_manifest_format(path) == "parquet":
            return pd.read_parquet(path)
        # All text first, so that bad numbers can be reported with their rows.
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as e:
        raise ManifestError(f"{path}: empty file (no header)") from e
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as e:
        raise ManifestError(f"{path}: cannot parse manifest: {e}") from e


def _text(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), "").astype(str).str.strip()


def _numbers(
    source: str, frame: pd.DataFrame, columns: list[str], ids: pd.Series, what: str
) -> pd.DataFrame:
    raw = frame[columns]
    values = raw.apply(lambda c: pd.to_numeric(c, errors="coerce")).astype(np.float64)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        details = []
        for row in rows[:_MAX_LISTED]:
            cells = [f"{c}={raw.iat[row, k]!r}" for k, c in enumerate(columns) if bad[row, k]]
            details.append(f"row {row + 1} (gif_id {ids.iat[row]!r}): {', '.join(cells)}")
        more = f"; and {len(rows) - _MAX_LISTED} more rows" if len(rows) > _MAX_LISTED else ""
        raise ManifestError(
            f"{source}: missing, non-numeric or non-finite {what} values in "
            f"{len(rows)} rows: " + "; ".join(details) + more
        )
    return values


def _check_rows(source: str, ids: pd.Series, bad: pd.Series, problem: str) -> None:
    rows = np.flatnonzero(np.asarray(bad))
    if len(rows):
        names = [f"row {r + 1} (gif_id {ids.iat[r]!r})" for r in rows]
        raise ManifestError(f"{source}: {problem} in {len(rows)} rows: {_listing(names)}")


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(str(i) for i in items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f", ... ({len(items) - _MAX_LISTED} more)"
    return shown


def _resolve(path: str, folder: str) -> str:
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(folder, path))
