"""Output formats of predictions: a text table, JSON lines and CSV.

Example:

```python
from kavan_tf.predict import format_table, load_predictor, predict_paths, write_jsonl

results = predict_paths(load_predictor("savedmodels/kavan"), ["gifs/"])
print(format_table(results))
write_jsonl(results, "predictions.jsonl")
```
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator, Sequence
from typing import TextIO

from kavan_tf.predict.results import GifResult

OUTPUT_FORMATS = ("table", "jsonl", "csv")


def _signed(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:+.{digits}f}"


def format_table(results: Sequence[GifResult]) -> str:
    """A plain-text table: path, category, valence, arousal, top emotions (or the error)."""
    rows: list[tuple[str, ...]] = [("path", "category", "valence", "arousal", "top emotions")]
    for r in results:
        if r.ok:
            top = ", ".join(f"{name} {value:+.3f}" for name, value in r.top_emotions)
            rows.append((r.path, r.category_name or "", _signed(r.valence, 2),
                         _signed(r.arousal, 2), top))
        else:
            rows.append((r.path, "ERROR", r.error or ""))
    widths = [max(len(row[i]) for row in rows if len(row) > i + 1) for i in range(4)]
    lines = [
        "  ".join([cell.ljust(width)
                   for cell, width in zip(row[:-1], widths, strict=False)] + [row[-1]]).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _text_output(target: str | os.PathLike[str] | TextIO, newline: str | None = None
                 ) -> Iterator[TextIO]:
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding="utf-8", newline=newline) as f:
            yield f
    else:
        yield target


def write_jsonl(results: Sequence[GifResult], target: str | os.PathLike[str] | TextIO) -> None:
    """One JSON object per line and GIF (see :meth:`GifResult.to_dict`)."""
    with _text_output(target) as f:
        for r in results:
            f.write(json.dumps(r.to_dict()) + "\n")


def write_csv(results: Sequence[GifResult], target: str | os.PathLike[str] | TextIO) -> None:
    """CSV: path, category, category_id, valence, arousal, top_emotions, one column per
    emotion, error.

    ``top_emotions`` is ``name:intensity`` pairs joined by ``;``. The emotion
    columns follow the first successful result's emotion order.
    """
    emotions = next((list(r.intensities) for r in results if r.ok), [])
    with _text_output(target, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "category", "category_id", "valence", "arousal",
                         "top_emotions", *emotions, "error"])
        for r in results:
            top = ";".join(f"{name}:{value:.6f}" for name, value in r.top_emotions)
            writer.writerow(
                [r.path, r.category_name or "", "" if r.category_id is None else r.category_id,
                 "" if r.valence is None else f"{r.valence:.6f}",
                 "" if r.arousal is None else f"{r.arousal:.6f}", top]
                + [f"{r.intensities[e]:.6f}" if e in r.intensities else "" for e in emotions]
                + [r.error or ""]
            )


def write_results(results: Sequence[GifResult], output_format: str,
                  target: str | os.PathLike[str] | TextIO) -> None:
    """Writes results in one of :data:`OUTPUT_FORMATS`."""
    if output_format == "table":
        with _text_output(target) as f:
            f.write(format_table(results))
    elif output_format == "jsonl":
        write_jsonl(results, target)
    elif output_format == "csv":
        write_csv(results, target)
    else:
        raise ValueError(
            f"`output_format` must be one of {OUTPUT_FORMATS}. "
            f"Received: output_format={output_format!r}"
        )


__all__ = ["OUTPUT_FORMATS", "format_table", "write_csv", "write_jsonl", "write_results"]
