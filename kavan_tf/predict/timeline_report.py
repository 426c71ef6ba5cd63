"""An HTML page of emotion timelines (``kavan predict --timeline T.csv --report R.html``).

For each file: a band of the predicted category over time (one block per
window, coloured by category) and the intensities of the file's top
emotions over time, as SVG lines. The page is one self-contained file.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from typing import Any

#: Category colours, in category order (cycled past four).
COLOURS = ("#e4572e", "#f3a712", "#4c6ef5", "#2a9d8f", "#9c6ade", "#777777")
#: Emotions drawn per file.
TOP_EMOTIONS = 3
_WIDTH, _BAND, _PLOT = 720, 22, 120


def _categories(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [key[2:] for key in rows[0] if key.startswith("p_")]


def _emotions(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    skip = {"file", "start", "end", "category", "valence", "arousal"}
    return [key for key in rows[0] if key not in skip and not key.startswith("p_")]


def timeline_svg(rows: Sequence[Mapping[str, Any]], top: int = TOP_EMOTIONS) -> str:
    """The SVG of one file's timeline (rows in time order)."""
    categories = _categories(rows)
    emotions = _emotions(rows)
    begin, finish = float(rows[0]["start"]), max(float(r["end"]) for r in rows)
    span = max(finish - begin, 1e-6)

    def x(time: float) -> float:
        return (time - begin) / span * _WIDTH

    parts = [f'<svg width="{_WIDTH}" height="{_BAND + _PLOT + 24}" role="img">']
    for index, row in enumerate(rows):
        # Each window's block runs to the next window's start (windows overlap).
        stop = float(rows[index + 1]["start"]) if index + 1 < len(rows) else float(row["end"])
        colour = COLOURS[categories.index(row["category"]) % len(COLOURS)]
        parts.append(
            f'<rect x="{x(float(row["start"])):.1f}" y="0" height="{_BAND}" '
            f'width="{max(x(stop) - x(float(row["start"])), 1):.1f}" fill="{colour}">'
            f'<title>{float(row["start"]):.1f}-{float(row["end"]):.1f} s: '
            f'{html.escape(str(row["category"]))}</title></rect>')
    mean = {e: sum(float(r[e]) for r in rows) / len(rows) for e in emotions}
    chosen = sorted(emotions, key=lambda e: -mean[e])[:top]
    for rank, emotion in enumerate(chosen):
        points = " ".join(
            f'{x((float(r["start"]) + float(r["end"])) / 2):.1f},'
            f'{_BAND + 8 + (1 - float(r[emotion])) / 2 * _PLOT:.1f}' for r in rows)
        colour = COLOURS[(rank + 2) % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"><title>{html.escape(emotion)}</title></polyline>')
        parts.append(f'<text x="{4 + 150 * rank}" y="{_BAND + _PLOT + 22}" fill="{colour}" '
                     f'font-size="12">{html.escape(emotion)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_timeline_report(rows_by_file: Mapping[str, Sequence[Mapping[str, Any]]], path: str,
                          note: str | None = None) -> str:
    """Writes the page; returns its path."""
    sections = []
    legend = ""
    for file, rows in rows_by_file.items():
        if not rows:
            continue
        if not legend:
            legend = " ".join(
                f'<span style="background:{COLOURS[i % len(COLOURS)]}">&nbsp;'
                f'{html.escape(name)}&nbsp;</span>' for i, name in enumerate(_categories(rows)))
        sections.append(
            f"<section><h2>{html.escape(os.path.basename(file))}</h2>"
            f"<p>{len(rows)} windows, {float(rows[0]['start']):.1f}-"
            f"{max(float(r['end']) for r in rows):.1f} s</p>{timeline_svg(rows)}</section>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Emotion timelines</title>"
        "<style>body{font-family:sans-serif;margin:2em}section{margin-bottom:2em}"
        "span{color:white;margin-right:.5em}</style></head><body>"
        "<h1>Emotion timelines</h1>"
        + (f"<p><strong>{html.escape(note)}</strong></p>" if note else "")
        + f"<p>Category per window: {legend}</p>"
        "<p>Lines: the intensities (-1 to 1) of each file's top emotions.</p>"
        + "".join(sections) + "</body></html>")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
