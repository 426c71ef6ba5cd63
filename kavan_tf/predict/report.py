"""``kavan predict --report out.html``: one self-contained HTML page of predictions.

The page needs no server and no network: the original files and the
overlays are embedded as ``data:`` URLs (for very large reports, written to a
folder beside the page instead, :data:`MAX_PAGE_BYTES`), and the styles and
the script are inline. Per file it shows the original (a GIF, WebP or APNG as an image, a
video as a looping ``<video>``), the attention overlay, the category, the
expected valence and arousal, and a bar chart of every emotion's intensity
coloured by its category. A menu sorts the files by any emotion (or the
category's probability, valence or arousal); the page
opens sorted when its address ends in ``#sort=<emotion>``. Files that could
not be predicted are listed at the end with their errors.

The page is written as results come (:class:`ReportWriter`): each file's
images go to a folder beside the page at once, and only the small results
(:meth:`GifResult.without_frames`) are kept until the page is built at the
end, so memory does not grow with the number of files.

Example:

```python
from kavan_tf.predict import load_predictor, predict_paths, write_report

results = predict_paths(load_predictor("savedmodels/kavan"), ["gifs/"], keep_frames=True)
write_report(results, "report.html")
```
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from PIL import Image

from kavan_tf.data.media import sniff_format
from kavan_tf.predict.overlays import category_colour
from kavan_tf.predict.results import GifResult

#: Files larger than this are shown by their first sampled frame only.
MAX_EMBEDDED_BYTES = 8 * 2**20
#: Above this many bytes of images in all, they are written beside the page
#: (``<name>_files/``) instead of inside it, so that browsers can open it.
MAX_PAGE_BYTES = 64 * 2**20
_MIME = {"GIF": "image/gif", "WebP": "image/webp", "PNG": "image/png", "MP4": "video/mp4",
         "WebM": "video/webm"}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f4f6;
color:#1d1d22}
header{position:sticky;top:0;background:#1d1d22;color:#fff;padding:10px 18px;z-index:1;
display:flex;flex-wrap:wrap;gap:10px 24px;align-items:center}
header h1{font-size:18px;margin:0}
header .note{color:#f6c36a;font-size:13px}
.legend span{display:inline-block;margin-right:12px;font-size:13px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
main{display:flex;flex-wrap:wrap;gap:16px;padding:16px}
article{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:12px;
width:min(100%,760px)}
article h2{font-size:14px;margin:0 0 8px;word-break:break-all}
.media{display:flex;gap:10px;flex-wrap:wrap}
figure{margin:0}
figure img,figure video{max-width:360px;max-height:300px;min-height:160px;display:block;
border-radius:4px;background:#ddd}
figcaption{font-size:12px;color:#666}
.category{font-weight:600;margin:8px 0}
.bars{display:grid;grid-template-columns:110px 1fr 48px;gap:2px 8px;font-size:12px;
align-items:center}
.track{position:relative;height:10px;background:#eee;border-radius:2px}
.track::after{content:"";position:absolute;left:50%;top:0;bottom:0;width:1px;background:#999}
.bar{position:absolute;top:0;bottom:0;border-radius:2px}
.value{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#a11}
"""

_SCRIPT = """
(function(){
  var main=document.getElementById('cards');
  var menu=document.getElementById('sort');
  function sortBy(key){
    var cards=Array.prototype.slice.call(main.children);
    cards.sort(function(a,b){
      var fa=a.classList.contains('failed'), fb=b.classList.contains('failed');
      if(fa!==fb) return fa?1:-1;
      if(!key) return (+a.dataset.order)-(+b.dataset.order);
      var va=parseFloat(a.getAttribute('data-'+key)), vb=parseFloat(b.getAttribute('data-'+key));
      if(vb!==va) return vb-va;
      return (+a.dataset.order)-(+b.dataset.order);
    });
    cards.forEach(function(c){main.appendChild(c);});
    document.documentElement.setAttribute('data-sorted-by',key||'order');
  }
  menu.addEventListener('change',function(){
    sortBy(menu.value);
    history.replaceState(null,'',menu.value?'#sort='+menu.value:'#');
  });
  var m=/sort=([A-Za-z0-9_-]+)/.exec(location.hash);
  if(m){menu.value=m[1]; sortBy(menu.value);}
  document.documentElement.setAttribute('data-ready','1');
  window.addEventListener('load',function(){
    var broken=Array.prototype.filter.call(document.images,function(i){
      return !i.complete||i.naturalWidth===0;});
    document.documentElement.setAttribute('data-images',broken.length?'broken:'+broken.length:'ok');
  });
})();
"""

_ERRORS = """
window.__kavanErrors=[];
window.addEventListener('error',function(e){
  window.__kavanErrors.push(String(e.message||e));
  document.documentElement.setAttribute('data-errors',window.__kavanErrors.join(' | '));
});
"""


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_SUFFIX = {"image/gif": ".gif", "image/webp": ".webp", "image/png": ".png",
           "video/mp4": ".mp4", "video/webm": ".webm"}


@dataclass(frozen=True)
class _Image:
    """One image of a card: a file (``path``, read when the page is written) or ``data``.

    Attributes:
        mime: Its type.
        alt: Its ``alt`` text.
        size: Its bytes.
        path: The file.
        data: Or the bytes themselves.
        spooled: ``path`` is the report's own copy, moved beside the page or
            deleted when the page is written.
    """

    mime: str
    alt: str
    size: int
    path: str | None = None
    data: bytes | None = None
    spooled: bool = False

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as f:
            return f.read()


#: Makes an :class:`_Image` of bytes: ``(data, mime, alt)``.
_Keep = Callable[[bytes, str, str], _Image]


def _in_memory(data: bytes, mime: str, alt: str) -> _Image:
    return _Image(mime, alt, len(data), data=data)


class _Media:
    """Where the page's images go: inside it (``data:`` URLs) or into a folder beside it."""

    def __init__(self, folder: str | None = None, link: str | None = None) -> None:
        self.folder, self.link, self.count = folder, link, 0

    def url(self, image: _Image) -> str:
        if self.folder is None:
            return _data_url(image.read(), image.mime)
        os.makedirs(self.folder, exist_ok=True)
        self.count += 1
        name = f"{self.count:05d}{_SUFFIX.get(image.mime, '.bin')}"
        target = os.path.join(self.folder, name)
        if image.spooled and image.path is not None:
            os.replace(image.path, target)
        elif image.path is not None:
            shutil.copyfile(image.path, target)
        else:
            with open(target, "wb") as f:
                f.write(image.read())
        return f"{self.link}/{name}"


@dataclass(frozen=True)
class _Card:
    """One file on the page: its small result and its images."""

    result: GifResult
    original: _Image | None = None
    overlay: _Image | None = None

    def images(self) -> list[_Image]:
        return [i for i in (self.original, self.overlay) if i is not None]


def _card(result: GifResult, overlay: bytes | None, keep: _Keep) -> _Card:
    """A result's card; its first frame and its overlay kept by ``keep``."""
    if not result.ok:
        return _Card(result.without_frames())
    return _Card(result.without_frames(), _original(result, keep),
                 None if overlay is None else keep(overlay, "image/gif", "attention"))


def _original(result: GifResult, keep: _Keep) -> _Image | None:
    """The file itself, or its first sampled frame when it is too large (or gone)."""
    try:
        size = os.path.getsize(result.path)
        if size <= MAX_EMBEDDED_BYTES:
            fmt = result.media_format
            if fmt is None:
                with open(result.path, "rb") as f:
                    fmt = sniff_format(f.read(16))
            return _Image(_MIME.get(fmt or "GIF", "image/gif"), "original", size,
                          path=result.path)
    except OSError:
        pass
    if result.frames is not None:
        buffer = io.BytesIO()
        Image.fromarray(result.frames[0]).save(buffer, format="PNG")
        return keep(buffer.getvalue(), "image/png", "first frame")
    return None


def _key(emotion: str) -> str:
    """An emotion's name as an HTML data attribute (``data-<key>``)."""
    return "e-" + "".join(c if c.isalnum() else "-" for c in emotion.lower())


def _figure(image: _Image | None, media: _Media, caption: str) -> str:
    try:
        url = html.escape(media.url(image)) if image is not None else None
    except OSError:
        url = None
    if url is None or image is None:
        shown = f"<p>({caption} not available)</p>"
    elif image.mime.startswith("video/"):
        shown = f'<video src="{url}" autoplay loop muted playsinline title="{caption}"></video>'
    else:
        shown = f'<img src="{url}" alt="{image.alt}">'
    return f"<figure>{shown}<figcaption>{caption}</figcaption></figure>"


def _bars(result: GifResult) -> str:
    rows = []
    for emotion, value in result.intensities.items():
        colour = category_colour(result.emotion_categories.get(emotion))
        clipped = max(-1.0, min(1.0, value))
        left = 50.0 + min(0.0, clipped) * 50.0
        width = abs(clipped) * 50.0
        rows.append(
            f'<span>{html.escape(emotion)}</span><span class="track"><span class="bar" '
            f'style="left:{left:.2f}%;width:{width:.2f}%;background:rgb{colour}"></span></span>'
            f'<span class="value">{value:+.3f}</span>'
        )
    return '<div class="bars">' + "".join(rows) + "</div>"


def _card_html(order: int, card: _Card, media: _Media) -> str:
    r = card.result
    if not r.ok:
        return (f'<article class="failed" data-order="{order}"><h2>{html.escape(r.path)}</h2>'
                f'<p class="error">{html.escape(r.error or "")}</p></article>')
    values = " ".join(f'data-{_key(e)}="{v:.6f}"' for e, v in r.intensities.items())
    affect = " ".join(f'data-{name}="{v:.6f}"' for name, v in
                      (("valence", r.valence), ("arousal", r.arousal)) if v is not None)
    affect_html = "" if r.valence is None or r.arousal is None else (
        f'<p class="affect">valence {r.valence:+.2f}, arousal {r.arousal:+.2f}</p>')
    probability = r.category_probabilities.get(r.category_name or "", 0.0)
    figures = [_figure(card.original, media, "original")]
    if card.overlay is not None:
        figures.append(_figure(card.overlay, media, "attention and top emotions"))
    return (
        f'<article data-order="{order}" data-category-p="{probability:.6f}" {affect} '
        f"{values}>"
        f"<h2>{html.escape(r.path)}</h2>"
        f'<div class="media">{"".join(figures)}</div>'
        f'<p class="category"><i class="swatch" '
        f'style="background:rgb{category_colour(r.category_id)}"></i>'
        f"{html.escape(r.category_name or '')} (p = {probability:.2f})</p>"
        f"{affect_html}{_bars(r)}</article>"
    )


def _write_page(out: TextIO, cards: Sequence[_Card], media: _Media, title: str,
                note: str | None) -> None:
    """The page, written card by card (each card's images are read as it is written)."""
    results = [card.result for card in cards]
    emotions = next((list(r.intensities) for r in results if r.ok), [])
    categories = next((list(r.category_probabilities) for r in results if r.ok), [])
    options = ['<option value="">file order</option>',
               '<option value="category-p">category probability</option>',
               '<option value="valence">valence</option>',
               '<option value="arousal">arousal</option>']
    options += [f'<option value="{_key(e)}">{html.escape(e)}</option>' for e in emotions]
    legend = "".join(
        f'<span><i class="swatch" style="background:rgb{category_colour(i)}"></i>'
        f"{html.escape(name)}</span>" for i, name in enumerate(categories)
    )
    failed = sum(not r.ok for r in results)
    summary = f"{len(results) - failed} file(s)" + (f", {failed} failed" if failed else "")
    note_html = f'<span class="note">{html.escape(note)}</span>' if note else ""
    out.write(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        f"<script>{_ERRORS}</script><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}: {summary}</h1>{note_html}"
        f'<label>Sort by <select id="sort">{"".join(options)}</select></label>'
        f'<div class="legend">{legend}</div></header>'
        '<main id="cards">'
    )
    for order, card in enumerate(cards):
        out.write(_card_html(order, card, media))
    out.write('</main><script type="application/json" id="results">')
    out.write(json.dumps([r.to_dict() for r in results]).replace("</", "<" + chr(92) + "/"))
    out.write(f"</script><script>{_SCRIPT}</script></body></html>\n")


def render_report(
    results: Sequence[GifResult],
    overlays: Mapping[str, bytes] | None = None,
    *,
    title: str = "kavan predictions",
    note: str | None = None,
) -> str:
    """The report's HTML, every image inside it.

    Args:
        results: Prediction results (``keep_frames=True`` for the first frame
            of files too large to embed).
        overlays: Overlay GIF bytes by result path
            (:func:`kavan_tf.predict.overlays.render_overlay`).
        title: The page's heading.
        note: A line under the heading (e.g. the synthetic-model warning).
    """
    cards = [_card(r, (overlays or {}).get(r.path), _in_memory) for r in results]
    out = io.StringIO()
    _write_page(out, cards, _Media(), title, note)
    return out.getvalue()


class ReportWriter:
    """Writes the report as results come, keeping only the small results.

    :meth:`add` writes a result's images (its overlay; its first frame when
    the file is too large to show) to a folder beside the page at once and
    keeps the result without its frames; :meth:`close` writes the page. The
    images are embedded while they total at most :data:`MAX_PAGE_BYTES`;
    beyond that they are moved to ``<name>_files/`` beside the page, which
    then links to them (keep the two together). The page is replaced
    atomically.

    Args:
        path: The page (``.html``).
        title: The page's heading.
        note: A line under the heading (e.g. the synthetic-model warning).

    Example:

    ```python
    with ReportWriter("report.html") as report:
        for result in iter_predictions(predictor, ["gifs/"], keep_frames=True):
            report.add(result, encode_gif(render_overlay(result)) if result.ok else None)
        report.close()
    ```
    """

    def __init__(self, path: str | os.PathLike[str], *, title: str = "kavan predictions",
                 note: str | None = None) -> None:
        self.path = os.fspath(path)
        self.title, self.note = title, note
        self._folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(self._folder, exist_ok=True)
        name = os.path.basename(self.path)
        self._spool = os.path.join(self._folder, f".{name}.images-{os.getpid()}")
        self._cards: list[_Card] = []
        self._spooled = 0

    @property
    def results(self) -> list[GifResult]:
        """The results kept for the page (without frames)."""
        return [card.result for card in self._cards]

    def add(self, result: GifResult, overlay: bytes | None = None) -> None:
        """Adds a result (its overlay GIF's bytes, where drawn) to the page."""
        self._cards.append(_card(result, overlay, self._keep))

    def _keep(self, data: bytes, mime: str, alt: str) -> _Image:
        os.makedirs(self._spool, exist_ok=True)
        self._spooled += 1
        path = os.path.join(self._spool, f"{self._spooled:05d}{_SUFFIX.get(mime, '.bin')}")
        with open(path, "wb") as f:
            f.write(data)
        return _Image(mime, alt, len(data), path=path, spooled=True)

    def close(self) -> str:
        """Writes the page and returns its path."""
        total = sum(image.size for card in self._cards for image in card.images())
        media = _Media()
        if total > MAX_PAGE_BYTES:
            link = os.path.splitext(os.path.basename(self.path))[0] + "_files"
            files = os.path.join(self._folder, link)
            shutil.rmtree(files, ignore_errors=True)
            media = _Media(files, link)
        temp = os.path.join(self._folder, f".{os.path.basename(self.path)}.tmp-{os.getpid()}")
        try:
            with open(temp, "w", encoding="utf-8") as f:
                _write_page(f, self._cards, media, self.title, self.note)
            os.replace(temp, self.path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)
            self.discard()
        return self.path

    def discard(self) -> None:
        """Deletes the images written so far that the page has not taken."""
        shutil.rmtree(self._spool, ignore_errors=True)

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def write_report(
    results: Iterable[GifResult],
    path: str | os.PathLike[str],
    overlays: Mapping[str, bytes] | None = None,
    **kwargs: Any,
) -> str:
    """Writes the report of ``results`` to ``path`` (:class:`ReportWriter`) and returns the path.

    Args:
        results: Prediction results.
        path: The page.
        overlays: Overlay GIF bytes by result path.
        **kwargs: ``title``, ``note``.
    """
    with ReportWriter(path, **kwargs) as report:
        for r in results:
            report.add(r, (overlays or {}).get(r.path))
        return report.close()


__all__ = ["MAX_EMBEDDED_BYTES", "MAX_PAGE_BYTES", "ReportWriter", "render_report",
           "write_report"]
