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

Example:

```python
from kavan_tf.predict import load_predictor, predict_paths, write_report

results = predict_paths(load_predictor("savedmodels/kavan"), ["gifs/"], keep_frames=True)
write_report(results, "report.html")
```
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from kavan_tf.data.media import sniff_format
from kavan_tf.predict.overlays import category_colour
from kavan_tf.predict.predictor import GifResult

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


class _Media:
    """Where the page's images go: inside it (``data:`` URLs) or into a folder beside it."""

    _SUFFIX = {"image/gif": ".gif", "image/webp": ".webp", "image/png": ".png",
               "video/mp4": ".mp4", "video/webm": ".webm"}

    def __init__(self, folder: str | None = None, link: str | None = None) -> None:
        self.folder, self.link, self.count = folder, link, 0

    def url(self, data: bytes, mime: str) -> str:
        if self.folder is None:
            return _data_url(data, mime)
        os.makedirs(self.folder, exist_ok=True)
        self.count += 1
        name = f"{self.count:05d}{self._SUFFIX.get(mime, '.bin')}"
        with open(os.path.join(self.folder, name), "wb") as f:
            f.write(data)
        return f"{self.link}/{name}"


def _key(emotion: str) -> str:
    """An emotion's name as an HTML data attribute (``data-<key>``)."""
    return "e-" + "".join(c if c.isalnum() else "-" for c in emotion.lower())


def _original(result: GifResult, media: _Media) -> str:
    try:
        size = os.path.getsize(result.path)
        if size <= MAX_EMBEDDED_BYTES:
            with open(result.path, "rb") as f:
                data = f.read()
            fmt = result.media_format or sniff_format(data) or "GIF"
            mime = _MIME.get(fmt, "image/gif")
            url = html.escape(media.url(data, mime))
            if mime.startswith("video/"):
                return (f'<video src="{url}" autoplay loop muted playsinline '
                        f'title="original"></video>')
            return f'<img src="{url}" alt="original">'
    except OSError:
        pass
    if result.frames is not None:  # too large (or gone): its first sampled frame
        buffer = io.BytesIO()
        Image.fromarray(result.frames[0]).save(buffer, format="PNG")
        return f'<img src="{media.url(buffer.getvalue(), "image/png")}" alt="first frame">'
    return "<p>(original not available)</p>"


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


def render_report(
    results: Sequence[GifResult],
    overlays: Mapping[str, bytes] | None = None,
    *,
    title: str = "kavan predictions",
    note: str | None = None,
    media: _Media | None = None,
) -> str:
    """The report's HTML.

    Args:
        results: Prediction results (``keep_frames=True`` for overlays).
        overlays: Overlay GIF bytes by result path
            (:func:`kavan_tf.predict.overlays.render_overlay`).
        title: The page's heading.
        note: A line under the heading (e.g. the synthetic-model warning).
        media: Where the images go (default: inside the page).
    """
    overlays = overlays or {}
    media = media if media is not None else _Media()
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
    cards = []
    for order, r in enumerate(results):
        if not r.ok:
            cards.append(
                f'<article class="failed" data-order="{order}"><h2>{html.escape(r.path)}</h2>'
                f'<p class="error">{html.escape(r.error or "")}</p></article>'
            )
            continue
        values = " ".join(f'data-{_key(e)}="{v:.6f}"' for e, v in r.intensities.items())
        affect = " ".join(f'data-{name}="{v:.6f}"' for name, v in
                          (("valence", r.valence), ("arousal", r.arousal)) if v is not None)
        affect_html = "" if r.valence is None or r.arousal is None else (
            f'<p class="affect">valence {r.valence:+.2f}, arousal {r.arousal:+.2f}</p>')
        probability = r.category_probabilities.get(r.category_name or "", 0.0)
        figures = [f"<figure>{_original(r, media)}<figcaption>original</figcaption></figure>"]
        if r.path in overlays:
            figures.append(
                f'<figure><img src="{html.escape(media.url(overlays[r.path], "image/gif"))}" '
                f'alt="attention"><figcaption>attention and top emotions</figcaption></figure>'
            )
        cards.append(
            f'<article data-order="{order}" data-category-p="{probability:.6f}" {affect} '
            f"{values}>"
            f"<h2>{html.escape(r.path)}</h2>"
            f'<div class="media">{"".join(figures)}</div>'
            f'<p class="category"><i class="swatch" '
            f'style="background:rgb{category_colour(r.category_id)}"></i>'
            f"{html.escape(r.category_name or '')} (p = {probability:.2f})</p>"
            f"{affect_html}{_bars(r)}</article>"
        )
    failed = sum(not r.ok for r in results)
    summary = f"{len(results) - failed} file(s)" + (f", {failed} failed" if failed else "")
    note_html = f'<span class="note">{html.escape(note)}</span>' if note else ""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        f"<script>{_ERRORS}</script><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}: {summary}</h1>{note_html}"
        f'<label>Sort by <select id="sort">{"".join(options)}</select></label>'
        f'<div class="legend">{legend}</div></header>'
        f'<main id="cards">{"".join(cards)}</main>'
        f'<script type="application/json" id="results">'
        f"{json.dumps([r.to_dict() for r in results]).replace('</', '<' + chr(92) + '/')}</script>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(
    results: Sequence[GifResult],
    path: str | os.PathLike[str],
    overlays: Mapping[str, bytes] | None = None,
    **kwargs: Any,
) -> str:
    """Writes :func:`render_report` to ``path`` (atomically) and returns the path.

    The images are embedded while they total at most :data:`MAX_PAGE_BYTES`;
    beyond that they are written to ``<name>_files/`` beside the page, which
    then links to them (keep the two together).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    total = sum(len(v) for v in (overlays or {}).values())
    for r in results:
        with contextlib.suppress(OSError):
            size = os.path.getsize(r.path)
            total += size if size <= MAX_EMBEDDED_BYTES else 0
    media = _Media()
    if total > MAX_PAGE_BYTES:
        link = os.path.splitext(os.path.basename(path))[0] + "_files"
        files = os.path.join(folder, link)
        media = _Media(files, link)
        shutil.rmtree(files, ignore_errors=True)
    temp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(render_report(results, overlays, media=media, **kwargs))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path


__all__ = ["MAX_EMBEDDED_BYTES", "MAX_PAGE_BYTES", "render_report", "write_report"]
