"""GIF decoding: fully composited RGB frames and per-frame delays.

The decisions behind it: docs/decisions.md#gif-decoding-and-sampling.

The decoder is our own, written against the GIF89a specification and the way
browsers (Chrome, Firefox) render GIFs, because neither Pillow nor
``tf.io.decode_gif`` composites every file of the public GIF test suites the way
a browser shows it. It parses the block structure itself
(:mod:`kavan_tf.data.gif_format`), decompresses LZW with vectorised numpy
(:mod:`kavan_tf.data.lzw`), and composites the frames in numpy (here):

- The canvas is the logical screen. It starts transparent; transparent pixels
  show the configured background colour (``DataConfig.background``) in the
  returned RGB frames, and :attr:`DecodedGif.coverage` tells which pixels are
  opaque. The screen's background-colour index is ignored, as browsers do.
- Disposal methods: 0 and 1 keep the frame (4-7 are read as 1); 2 clears the
  frame's rectangle to transparent; 3 restores the rectangle to what it was
  before the frame was drawn (transparent for the first frame).
- Frames partly or wholly outside the logical screen are clipped. A logical
  screen with a zero width or height takes the first frame's extent.
- A frame without a local or global palette uses a grey ramp (index ``i`` is
  ``(i, i, i)``); an index past the end of a palette is opaque black.
- Delays of 0 or 1 centisecond (or a missing Graphic Control Extension) play as
  100 ms, as in Chrome and Firefox.
- Damage is handled as browsers do, never silently: a file cut short, a bad LZW
  code, or garbage where a block should start ends the decoding at that point;
  the frames read so far are kept and a warning is logged on the
  ``kavan_tf.data.gif`` logger (and listed in :attr:`DecodedGif.warnings`). A
  file that yields no frame raises :class:`~kavan_tf.errors.GifDecodeError`.
- Decompression bombs: the logical screen and every image descriptor are
  checked against ``max_frame_pixels``, the frame count against ``max_frames``
  and ``width x height x frames`` against ``max_total_pixels``, from the headers
  alone, before any pixel buffer is allocated
  (:class:`~kavan_tf.errors.DecompressionBombError`).

Example:

```python
from kavan_tf.data.gif import decode_gif

gif = decode_gif("cat.gif")
gif.frames.shape      # (num_frames, height, width, 3), uint8
gif.delays_ms         # e.g. array([100, 100, 40, ...])
```
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kavan_tf.config import DataConfig
from kavan_tf.data.gif_format import (
    DISPOSE_BACKGROUND,
    DISPOSE_PREVIOUS,
    ParsedFrame,
    ParsedGif,
    parse_gif,
)
from kavan_tf.data.lzw import lzw_decode
from kavan_tf.errors import GifDecodeError, MediaDecodeError

logger = logging.getLogger(__name__)

GifSource = str | os.PathLike | bytes | bytearray | memoryview

_RGBA = np.dtype("<u4")  # R, G, B, A bytes in memory order
_OPAQUE = np.uint32(255 << 24)


@dataclass(frozen=True)
class DecodedGif:
    """A decoded, fully composited GIF.

    Attributes:
        frames: ``uint8 [num_frames, height, width, 3]`` RGB frames as a browser
            shows them, transparent pixels filled with the background colour.
        delays_ms: ``int32 [num_frames]`` display time of each frame in ms.
        path: The file name (or the ``name`` given for in-memory bytes).
        coverage: ``bool [num_frames, height, width]``: ``True`` where a frame
            pixel is opaque, ``False`` where the background colour shows.
        loop_count: Loop count of the NETSCAPE2.0/ANIMEXTS1.0 extension
            (``0`` = forever), ``None`` when the file has none (plays once).
        warnings: What was wrong with a damaged file that still decoded; each
            was also logged as a warning.
        format: The container it was decoded from: ``"GIF"``, or, through
            :func:`kavan_tf.data.media.decode_media`, ``"WebP"``, ``"PNG"``
            (APNG), ``"MP4"`` or ``"WebM"``.
    """

    frames: np.ndarray
    delays_ms: np.ndarray
    path: str
    coverage: np.ndarray
    loop_count: int | None = None
    warnings: tuple[str, ...] = ()
    format: str = "GIF"  # noqa: A003

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration_ms(self) -> int:
        """Total display time of one loop."""
        return int(self.delays_ms.sum())



def decode_gif(
    source: GifSource,
    *,
    background: tuple[int, int, int] | None = None,
    max_frame_pixels: int | None = None,
    max_total_pixels: int | None = None,
    max_frames: int | None = None,
    name: str | None = None,
) -> DecodedGif:
    """Decodes a GIF into composited RGB frames and per-frame delays.

    Args:
        source: A file path, or the file's bytes.
        background: RGB colour shown where the GIF is transparent. Defaults to
            ``DataConfig.background``.
        max_frame_pixels: Largest logical screen or image descriptor
            (width x height) accepted. Defaults to ``DataConfig.max_frame_pixels``.
        max_total_pixels: Largest ``width x height x frames`` accepted, also
            bounding the pixels of all image descriptors together. Defaults to
            ``DataConfig.max_total_pixels``.
        max_frames: Largest number of frames accepted. Defaults to
            ``DataConfig.max_frames``.
        name: Name used in errors and warnings; defaults to the path, or
            ``"<bytes>"`` for in-memory data.

    Returns:
        The decoded GIF.

    Raises:
        DecompressionBombError: The GIF exceeds one of the limits.
        GifDecodeError: The GIF cannot be read or decoded, or holds no frame.
    """
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("background", background),
            ("max_frame_pixels", max_frame_pixels),
            ("max_total_pixels", max_total_pixels),
            ("max_frames", max_frames),
        )
        if value is not None
    }
    config = DataConfig(**overrides)
    return decode_gif_with_config(source, config, name=name)


def decode_gif_with_config(
    source: GifSource, config: DataConfig, *, name: str | None = None
) -> DecodedGif:
    """Decodes a GIF with the background colour and limits of a :class:`DataConfig`.

    Args:
        source: A file path, or the file's bytes.
        config: Supplies ``background``, ``max_frame_pixels``,
            ``max_total_pixels`` and ``max_frames``.
        name: Name used in errors and warnings.

    Returns:
        The decoded GIF.

    Raises:
        DecompressionBombError: The GIF exceeds one of the limits.
        GifDecodeError: The GIF cannot be read or decoded, or holds no frame.
    """
    data, name = read_source(source, name)
    stream = parse_gif(data, name, config)
    for message in stream.warnings:
        logger.warning("%s: %s", name, message)
    return _composite(stream, name, config)


def read_source(source: GifSource, name: str | None, fmt: str = "GIF") -> tuple[bytes, str]:
    """``(bytes, name)`` of a path or in-memory bytes; an unreadable path raises
    :class:`~kavan_tf.errors.MediaDecodeError` naming ``fmt``
    (:class:`~kavan_tf.errors.GifDecodeError` for GIFs)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                return f.read(), name or str(path)
        except OSError as e:
            error = GifDecodeError if fmt == "GIF" else MediaDecodeError
            raise error(name or str(path), f"cannot read the file ({e})", fmt) from e
    raise TypeError(
        "`source` must be a path or bytes. "
        f"Received: source of type {type(source).__name__}"
    )


def _warn(stream_warnings: list[str], name: str, message: str) -> None:
    stream_warnings.append(message)
    logger.warning("%s: %s", name, message)



def _composite(stream: ParsedGif, name: str, config: DataConfig) -> DecodedGif:
    """Decompresses every frame and composites it onto the canvas.

    The canvas holds one little-endian ``uint32`` RGBA word per pixel, so that
    drawing a frame is one palette gather and one masked copy; alpha is 0
    (background colour shows) or 255 (a frame pixel).
    """
    height, width = stream.height, stream.width
    count = len(stream.frames)
    red, green, blue = (int(c) for c in config.background)
    background = np.array(red | green << 8 | blue << 16, dtype=_RGBA)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    coverage = np.empty((count, height, width), dtype=bool)
    canvas = np.full((height, width), background, dtype=_RGBA)
    channels = canvas.view(np.uint8).reshape(height, width, 4)
    delays = np.array([f.delay_ms for f in stream.frames], dtype=np.int32)
    warnings = stream.warnings
    tables: dict[int, np.ndarray] = {}
    for i, frame in enumerate(stream.frames):
        x1 = min(frame.left + frame.width, width)
        y1 = min(frame.top + frame.height, height)
        visible = frame.left < x1 and frame.top < y1
        region = (slice(frame.top, y1), slice(frame.left, x1))
        saved = None
        if visible:
            if frame.disposal == DISPOSE_PREVIOUS:
                saved = canvas[region].copy()
            if frame.palette is not None:
                table = _color_table(frame.palette, frame.min_code_size)
            else:
                cached = tables.get(frame.min_code_size)
                if cached is None:
                    cached = _color_table(stream.global_palette, frame.min_code_size)
                    tables[frame.min_code_size] = cached
                table = cached
            _draw(frame, i, table, canvas[region], name, warnings)
        # One channel at a time: numpy copies long strided rows far faster
        # than rows of three bytes.
        for c in range(3):
            frames[i, ..., c] = channels[..., c]
        np.greater_equal(canvas, _OPAQUE, out=coverage[i])
        if not visible:
            continue
        if frame.disposal == DISPOSE_BACKGROUND:
            canvas[region] = background
        elif saved is not None:
            canvas[region] = saved
    return DecodedGif(
        frames=frames,
        delays_ms=delays,
        path=name,
        coverage=coverage,
        loop_count=stream.loop_count,
        warnings=tuple(warnings),
    )


def _draw(
    frame: ParsedFrame,
    index: int,
    table: np.ndarray,
    region: np.ndarray,
    name: str,
    warnings: list[str],
) -> None:
    """Decodes one frame's pixels and draws its opaque ones into ``region``.

    Args:
        frame: The parsed frame.
        index: Its position in the file, for warnings.
        table: RGBA word of every palette index.
        region: The canvas under the frame's visible part (a view).
        name: The file name, for warnings.
        warnings: Collects the warnings of this file.
    """
    rows, cols = region.shape
    w, h = frame.width, frame.height
    # Rows below the screen are never shown; an interlaced frame sends its
    # rows out of order, so it is decoded whole.
    needed_rows = h if frame.interlaced else rows
    needed = w * needed_rows
    if not 1 <= frame.min_code_size <= 11:
        _warn(
            warnings,
            name,
            f"frame {index}: invalid LZW code size {frame.min_code_size}; frame left undrawn",
        )
        return
    indices, problem = lzw_decode(frame.data, frame.min_code_size, needed)
    if problem is not None:
        _warn(
            warnings,
            name,
            f"frame {index}: {problem} after {indices.size} of {needed} pixels; "
            "the rest of the frame is left undrawn",
        )
    if indices.size == needed:
        image = indices.reshape(needed_rows, w)
        drawn = None
    else:
        image = np.zeros(needed, dtype=indices.dtype)
        image[: indices.size] = indices
        image = image.reshape(needed_rows, w)
        drawn = np.zeros((needed_rows, w), dtype=bool)
        drawn.reshape(-1)[: indices.size] = True
    if frame.interlaced:
        order = _interlace_order(h)
        image = _deinterlace(image, order)
        if drawn is not None:
            drawn = _deinterlace(drawn, order)
    image = image[:rows, :cols]
    opaque = drawn[:rows, :cols] if drawn is not None else None
    if frame.transparent is not None:
        keep = image != frame.transparent
        opaque = keep if opaque is None else opaque & keep
    colors = table[image]
    if opaque is None:
        region[...] = colors
    else:
        np.copyto(region, colors, where=opaque)


def _deinterlace(image: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.empty_like(image)
    out[order] = image
    return out


@functools.lru_cache(maxsize=64)
def _interlace_order(height: int) -> np.ndarray:
    """Row of the image that each transmitted row fills (GIF89a appendix E)."""
    return np.concatenate(
        [np.arange(0, height, 8), np.arange(4, height, 8), np.arange(2, height, 4),
         np.arange(1, height, 2)]
    )


def _color_table(palette: np.ndarray | None, min_code_size: int) -> np.ndarray:
    """Opaque RGBA words for every index the LZW stream can produce."""
    size = max(256, 1 << min(min_code_size, 11))
    rgb = np.zeros((size, 3), dtype=np.uint32)
    if palette is None:
        rgb[:256] = np.arange(256, dtype=np.uint32)[:, None]
    else:
        rgb[: len(palette)] = palette
    return (rgb[:, 0] | rgb[:, 1] << 8 | rgb[:, 2] << 16 | _OPAQUE).astype(_RGBA)
