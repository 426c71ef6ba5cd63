"""GIF decoding: fully composited RGB frames and per-frame delays (SPEC 3).

The decoder is our own, written against the GIF89a specification and the way
browsers (Chrome, Firefox) render GIFs, because neither Pillow nor
``tf.io.decode_gif`` composites every file of the public GIF test suites the way
a browser shows it. It parses the block structure itself, decompresses LZW with
vectorised numpy, and composites the frames in numpy:

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
import struct
from dataclasses import dataclass

import numpy as np

from kavan_tf.config import DataConfig
from kavan_tf.errors import DecompressionBombError, GifDecodeError, MediaDecodeError

logger = logging.getLogger(__name__)

GifSource = str | os.PathLike | bytes | bytearray | memoryview

_TRAILER = 0x3B
_EXTENSION = 0x21
_IMAGE = 0x2C
_GRAPHIC_CONTROL = 0xF9
_APPLICATION = 0xFF
_MAX_CODES = 4096
_MIN_DELAY_CS = 2  # Chrome and Firefox play delays of 10 ms or less as 100 ms.
_DEFAULT_DELAY_MS = 100
_DISPOSE_BACKGROUND = 2
_DISPOSE_PREVIOUS = 3
_SCHEDULE = 4608  # codes per segment whose positions are precomputed
_STEP_COST_IN_COPIES = 16  # one vectorised step costs about 16 string copies
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


@dataclass
class _Frame:
    """One image block as parsed, before decompression."""

    left: int
    top: int
    width: int
    height: int
    interlaced: bool
    palette: np.ndarray | None
    min_code_size: int
    data: bytes
    disposal: int
    transparent: int | None
    delay_ms: int


@dataclass
class _Stream:
    """The parsed block structure of a GIF."""

    width: int
    height: int
    global_palette: np.ndarray | None
    frames: list[_Frame]
    loop_count: int | None
    warnings: list[str]


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
    config = DataConfig(
        **{
            key: value
            for key, value in (
                ("background", background),
                ("max_frame_pixels", max_frame_pixels),
                ("max_total_pixels", max_total_pixels),
                ("max_frames", max_frames),
            )
            if value is not None
        }
    )
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
    stream = _parse(data, name, config)
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


def _parse(data: bytes, name: str, config: DataConfig) -> _Stream:
    """Reads the block structure; checks the limits before any pixel is decoded."""
    if len(data) < 6 or data[:3] != b"GIF":
        raise GifDecodeError(
            name, "not a GIF file (the bytes do not start with GIF87a or GIF89a)"
        )
    if data[3:6] not in (b"87a", b"89a"):
        raise GifDecodeError(name, "unknown GIF version (not GIF87a or GIF89a)")
    if len(data) < 13:
        raise GifDecodeError(name, "file ends inside the logical screen descriptor")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    if width * height > config.max_frame_pixels:
        raise DecompressionBombError(
            name,
            f"logical screen {width}x{height} exceeds max_frame_pixels="
            f"{config.max_frame_pixels}",
        )
    pos = 13
    global_palette = None
    if flags & 0x80:
        size = 3 << ((flags & 7) + 1)
        if pos + size > len(data):
            raise GifDecodeError(name, "file ends inside the global palette")
        global_palette = _palette(data, pos, size)
        pos += size

    warnings: list[str] = []
    frames: list[_Frame] = []
    loop_count: int | None = None
    disposal, transparent, delay_ms = 0, None, _DEFAULT_DELAY_MS
    descriptor_pixels = 0
    end = len(data)
    while True:
        if pos >= end:
            _warn(warnings, name, f"file is truncated after {len(frames)} frame(s) (no trailer)")
            break
        block = data[pos]
        if block == _TRAILER:
            break
        if block == _EXTENSION:
            if pos + 2 > end:
                _warn(warnings, name, "file is truncated inside an extension")
                break
            label = data[pos + 1]
            sub_blocks, pos, complete = _sub_blocks(data, pos + 2)
            if not complete:
                _warn(warnings, name, f"file is truncated inside extension 0x{label:02x}")
                break
            if label == _GRAPHIC_CONTROL and sub_blocks and len(sub_blocks[0]) >= 4:
                packed, delay_cs, index = struct.unpack_from("<BHB", sub_blocks[0])
                disposal = (packed >> 2) & 7
                transparent = index if packed & 1 else None
                delay_ms = delay_cs * 10 if delay_cs >= _MIN_DELAY_CS else _DEFAULT_DELAY_MS
            elif label == _APPLICATION and loop_count is None:
                loop_count = _loop_count(sub_blocks)
            continue
        if block != _IMAGE:
            _warn(
                warnings,
                name,
                f"unexpected byte 0x{block:02x} at offset {pos} where a block should "
                f"start; decoding stops after {len(frames)} frame(s)",
            )
            break
        if pos + 10 > end:
            _warn(warnings, name, "file is truncated inside an image descriptor")
            break
        left, top, w, h, flags = struct.unpack_from("<HHHHB", data, pos + 1)
        if w * h > config.max_frame_pixels:
            raise DecompressionBombError(
                name,
                f"frame {len(frames)} is {w}x{h}, exceeding max_frame_pixels="
                f"{config.max_frame_pixels}",
            )
        if len(frames) + 1 > config.max_frames:
            raise DecompressionBombError(
                name, f"more than max_frames={config.max_frames} frames"
            )
        pos += 10
        palette = None
        if flags & 0x80:
            size = 3 << ((flags & 7) + 1)
            if pos + size > end:
                _warn(warnings, name, f"file ends inside the palette of frame {len(frames)}")
                break
            palette = _palette(data, pos, size)
            pos += size
        if pos >= end:
            _warn(warnings, name, f"file is truncated before the data of frame {len(frames)}")
            break
        min_code_size = data[pos]
        sub_blocks, pos, complete = _sub_blocks(data, pos + 1)
        lzw = b"".join(sub_blocks)
        if not lzw and not complete:
            _warn(warnings, name, f"file is truncated before the data of frame {len(frames)}")
            break
        frames.append(
            _Frame(left, top, w, h, bool(flags & 0x40), palette, min_code_size, lzw,
                   disposal, transparent, delay_ms)
        )
        descriptor_pixels += w * h
        disposal, transparent, delay_ms = 0, None, _DEFAULT_DELAY_MS
        if not complete:
            _warn(warnings, name, f"file is truncated inside the data of frame {len(frames) - 1}")
            break

    if not frames:
        why = f" ({warnings[-1]})" if warnings else ""
        raise GifDecodeError(name, f"the file holds no image{why}")
    if width == 0 or height == 0:
        first = frames[0]
        width = width or first.left + first.width
        height = height or first.top + first.height
        if width == 0 or height == 0:
            raise GifDecodeError(name, "the logical screen and the first frame are empty")
        if width * height > config.max_frame_pixels:
            raise DecompressionBombError(
                name,
                f"logical screen {width}x{height} exceeds max_frame_pixels="
                f"{config.max_frame_pixels}",
            )
    total = max(width * height * len(frames), descriptor_pixels)
    if total > config.max_total_pixels:
        raise DecompressionBombError(
            name,
            f"{len(frames)} frames of {width}x{height} ({total} pixels) exceed "
            f"max_total_pixels={config.max_total_pixels}",
        )
    return _Stream(width, height, global_palette, frames, loop_count, warnings)


def _palette(data: bytes, pos: int, size: int) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8, count=size, offset=pos).reshape(-1, 3)


def _sub_blocks(data: bytes, pos: int) -> tuple[list[bytes], int, bool]:
    """Reads the data sub-blocks that start at ``pos``.

    Returns:
        ``(sub_blocks, position after the terminator, complete)``; when the
        file ends first, ``complete`` is ``False`` and the last sub-block holds
        the bytes the file does have.
    """
    end = len(data)
    parts = []
    while pos < end:
        size = data[pos]
        if size == 0:
            return parts, pos + 1, True
        parts.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return parts, end, False


def _loop_count(sub_blocks: list[bytes]) -> int | None:
    """Loop count of a NETSCAPE2.0 or ANIMEXTS1.0 application extension."""
    if len(sub_blocks) < 2 or sub_blocks[0][:11] not in (b"NETSCAPE2.0", b"ANIMEXTS1.0"):
        return None
    loop = sub_blocks[1]
    if len(loop) >= 3 and loop[0] == 1:
        return int(struct.unpack_from("<H", loop, 1)[0])
    return None


def _composite(stream: _Stream, name: str, config: DataConfig) -> DecodedGif:
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
            if frame.disposal == _DISPOSE_PREVIOUS:
                saved = canvas[region].copy()
            if frame.palette is not None:
                table = _color_table(frame.palette, frame.min_code_size)
            else:
                table = tables.get(frame.min_code_size)
                if table is None:
                    table = _color_table(stream.global_palette, frame.min_code_size)
                    tables[frame.min_code_size] = table
            _draw(frame, i, table, canvas[region], name, warnings)
        # One channel at a time: numpy copies long strided rows far faster
        # than rows of three bytes.
        for c in range(3):
            frames[i, ..., c] = channels[..., c]
        np.greater_equal(canvas, _OPAQUE, out=coverage[i])
        if not visible:
            continue
        if frame.disposal == _DISPOSE_BACKGROUND:
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
    frame: _Frame,
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


# --------------------------------------------------------------------------- LZW
#
# The decoder works on whole arrays of codes rather than one code at a time:
#
# 1. Code positions. The width of a code only depends on how many codes were
#    read since the last clear code, so the bit positions of a segment (the
#    codes between two clear codes) are known in advance; a segment is read
#    with one gather, and ends at the first clear or end-of-information code.
# 2. Dictionary. Code j > 0 of a segment makes the entry "string of code j-1
#    + first character of code j". Entries get ids after the literals; their
#    prefixes are the previous codes, and pointer jumping over the prefix
#    links gives every entry its first character and its length.
# 3. Output. Strings are written back to front, one character per step for
#    all codes at once; the few long strings left are copied from where their
#    head first appeared in the output.


def code_widths(min_code_size: int, count: int) -> np.ndarray:
    """int64 widths of codes ``0 .. count - 1`` of a segment (the codes between
    two clear codes): code ``j > 0`` is read after ``j - 1`` entries were made,
    so the next free entry is ``clear + 1 + j`` and the code is as wide as that
    number's bit length (at least ``min_code_size + 1``, at most 12), as in
    giflib and browsers. The serving graph reads codes with the same widths."""
    clear = 1 << min_code_size
    next_free = np.minimum(clear + 1 + np.arange(count), _MAX_CODES)
    widths = np.clip(np.floor(np.log2(next_free)).astype(np.int64) + 1, min_code_size + 1, 12)
    widths[0] = min_code_size + 1
    return widths


@functools.lru_cache(maxsize=16)
def _code_schedule(min_code_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where the codes of a segment lie, for each bit offset of its start.

    Codes are as wide as :func:`code_widths` says.

    Returns:
        ``(byte, shift, end, mask)``, each ``[8, _SCHEDULE]`` except ``mask``
        ``[_SCHEDULE]``: for a segment starting at bit ``b`` of byte ``B``
        (``b`` in 0-7), code j is ``(word(B + byte[b, j]) >> shift[b, j]) &
        mask[j]`` and ends at bit ``end[b, j]`` counted from byte ``B``.
    """
    widths = code_widths(min_code_size, _SCHEDULE)
    starts = np.cumsum(widths) - widths + np.arange(8)[:, None]
    return (
        starts >> 3,
        (starts & 7).astype(np.uint32),
        starts + widths,
        ((1 << widths) - 1).astype(np.uint32),
    )


def lzw_decode(data: bytes, min_code_size: int, max_pixels: int) -> tuple[np.ndarray, str | None]:
    """Decompresses GIF LZW data into palette indices, vectorised with numpy.

    Decoding follows giflib and browsers: a clear code resets the dictionary,
    the end-of-information code or the end of the data ends the stream, and a
    full dictionary is kept (deferred clear) until the next clear code.

    Args:
        data: The concatenated data sub-blocks of one image.
        min_code_size: The LZW minimum code size (1-11).
        max_pixels: Stop after this many indices (the frame's size).

    Returns:
        ``(indices, problem)``: at most ``max_pixels`` indices (``uint8``, or
        ``uint16`` when ``min_code_size > 8``) and ``None``, or a short
        description of why the stream ended early (``indices`` then holds the
        pixels decoded before that point).
    """
    clear = 1 << min_code_size
    dtype = np.uint8 if min_code_size <= 8 else np.uint16
    if max_pixels <= 0:
        return np.zeros(0, dtype=dtype), None
    codes, lengths, stream_problem = _read_codes(data, min_code_size, max_pixels)

    # All segments at once: code j of its segment may name a literal, an
    # entry made before it or the one it makes itself (anything up to
    # clear + 1 + j); decoding stops at the first code that names more.
    problem = None
    seg_starts = np.cumsum(lengths) - lengths
    j = np.arange(codes.size, dtype=np.int32) - np.repeat(seg_starts.astype(np.int32), lengths)
    bad = codes > j + (clear + 1)
    if bad.any():
        cut = int(bad.argmax())
        problem = f"invalid LZW code {int(codes[cut])}"
        codes, j = codes[:cut], j[:cut]
        last = int(np.searchsorted(seg_starts, cut, side="right")) - 1
        lengths = lengths[: last + 1].copy()
        lengths[last] = cut - seg_starts[last]
    if codes.size == 0:
        return np.zeros(0, dtype=dtype), problem or stream_problem or "no image data"
    # Global ids: literals keep their value; the entries of each segment
    # follow those of the segments before it.
    per_segment = _MAX_CODES - 2 - clear  # entries a segment can make
    made = np.clip(lengths - 1, 0, per_segment)
    first_entry = clear + np.cumsum(made) - made
    offset = np.repeat((first_entry - clear - 2).astype(np.int32), lengths)
    gid = np.where(codes < clear, codes, codes + offset).astype(np.int32, copy=False)
    # Code j < made of a segment makes an entry: its string, then the first
    # character of code j + 1.
    makes = np.flatnonzero(j < np.repeat(made.astype(np.int32), lengths))
    prefix = np.concatenate([np.arange(clear, dtype=np.int32), gid[makes]])

    # Pointer jumping gives every entry its first literal (root) and length.
    # Only the entries whose root is not yet a literal take part in a step.
    root = prefix.copy()
    depth = np.ones(prefix.size, dtype=np.int32)
    depth[:clear] = 0
    active = np.flatnonzero(root >= clear)
    while active.size:
        hop = root[active]
        depth[active] += depth[hop]
        hop = root[hop]
        root[active] = hop
        active = active[hop >= clear]
    length = depth + 1
    suffix = np.concatenate([np.arange(clear, dtype=np.int32), root[gid[makes + 1]]])

    out_lengths = length[gid]
    ends = np.cumsum(out_lengths, dtype=np.int64)
    # An entry's string first appears in the output where the code before
    # the one that made it starts, followed by one character.
    starts = ends - out_lengths
    source = np.concatenate([np.zeros(clear, dtype=np.int64), starts[makes]])
    if ends[-1] >= max_pixels:
        used = int(np.searchsorted(ends, max_pixels)) + 1
        gid, out_lengths, ends = gid[:used], out_lengths[:used], ends[:used]
        problem = None
    elif problem is None:
        problem = stream_problem or "image data ends early"
    out = np.empty(int(ends[-1]), dtype=dtype)
    _expand(out, gid, out_lengths, ends, prefix, suffix.astype(dtype), length, source, clear)
    return out[:max_pixels], problem


def _expand(
    out: np.ndarray,
    gid: np.ndarray,
    lengths: np.ndarray,
    ends: np.ndarray,
    prefix: np.ndarray,
    suffix: np.ndarray,
    length: np.ndarray,
    source: np.ndarray,
    clear: int,
) -> None:
    """Writes the string of every code into ``out``.

    Strings are written back to front, one character per step for all codes
    still longer than the step (sorted by length, the active codes are a
    prefix of the arrays). When only a few long strings remain, each one's
    unwritten head -- itself a dictionary string that appeared earlier in the
    output -- is copied from there, in output order.
    """
    # A stable sort of 16-bit keys is a radix sort.
    order = np.argsort((_MAX_CODES + 1 - lengths).astype(np.uint16), kind="stable")
    current = gid[order]
    position = ends[order] - 1
    # at_least[n]: how many codes have strings of n characters or more.
    at_least = np.bincount(lengths)[::-1].cumsum()[::-1]
    longest = at_least.size - 1
    # Stop after the step that makes the fewest steps + copies left the cheapest.
    left = np.append(at_least[2:], 0)  # codes still unwritten after each step
    last_step = int(np.argmin(_STEP_COST_IN_COPIES * np.arange(1, longest + 1) + left))
    for step in range(longest):
        n_now = int(at_least[step + 1])
        out[position[:n_now] - step] = suffix[current[:n_now]]
        n_next = int(left[step])
        if not n_next:
            return
        current[:n_next] = prefix[current[:n_next]]
        if step == last_step:
            break
    # current[i] is now the unwritten head of code i's string.
    rest = np.argsort(position[:n_next])
    heads = current[:n_next][rest]
    view = memoryview(out)  # type: ignore[arg-type]
    for head, last, count, start in zip(
        heads.tolist(),
        (position[:n_next][rest] - step - 1).tolist(),
        length[heads].tolist(),
        source[heads].tolist(),
        strict=True,
    ):
        if head < clear:
            out[last] = head
        else:
            view[last - count + 1 : last + 1] = view[start : start + count]


def max_long_segments(pixels: int) -> int:
    """How many segments of more than ``clear - 2`` codes a frame of ``pixels``
    pixels may hold before its decoding stops.

    Encoders reset the dictionary when it is full (thousands of codes per
    segment) or every ``clear - 2`` codes (short segments, read many at a
    time); only a hostile file holds many segments of a few codes each. The
    bound keeps decoding such a file as cheap per byte as any other, in this
    decoder and in the serving graph, which shares it.
    """
    return 16 + pixels // 1024


def _read_codes(
    data: bytes, min_code_size: int, max_pixels: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Splits the bit stream into segments of codes between clear codes.

    Runs of short segments (at most ``clear - 2`` codes, which is what clear
    code floods and "uncompressed" encoders write) are all as wide as the
    first code, so they are read many at a time with one gather; longer
    segments follow the code-width schedule one segment at a time. The work
    is therefore bounded by the input's length, whatever its clear codes;
    after :func:`max_long_segments` long segments the stream is read no
    further.

    Returns:
        ``(codes, lengths, problem)``: the int32 codes of all non-empty
        segments, one after the other (clear and end-of-information codes
        removed), the number of codes of each segment, and ``None`` when an
        end-of-information code ended the stream, or why it ended otherwise.
    """
    clear = 1 << min_code_size
    end_code = clear + 1
    nbits = len(data) * 8
    # words[i]: the four bytes from byte i as one little-endian integer (an
    # overlapping view): a code of up to 12 bits at any bit offset is one
    # gather, one shift and one mask.
    words = np.ndarray(
        (len(data) + 1,), dtype="<u4", buffer=bytes(data) + b"\0\0\0\0", strides=(1,)
    )
    first_width = min_code_size + 1
    short = clear - 2  # a segment this short keeps its first code width to its end
    parts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    pos = 0
    batch = 4096
    chunk = 1024  # first read of a long segment: the last long one's length
    after_long = False
    long_segments, long_limit = 0, max_long_segments(max_pixels)
    while True:
        # Fast path: constant-width codes from a segment start (after a short
        # segment; after a long one the next is most likely long too).
        if (nbits - pos) // first_width <= 0:
            return (*_joined(parts, lengths), "image data ends without an end code")
        if not after_long:
            count = min(batch, (nbits - pos) // first_width)
            bits = pos + first_width * np.arange(count, dtype=np.int64)
            codes = ((words[bits >> 3] >> (bits & 7).astype(np.uint32))
                     & np.uint32((1 << first_width) - 1)).astype(np.int32)
            special = np.flatnonzero((codes | 1) == end_code)
            if special.size:
                gaps = np.diff(special, prepend=-1) - 1  # codes before each special
                long = np.flatnonzero(gaps > short)
                usable = int(long[0]) if long.size else special.size
                ends_stream = np.flatnonzero(codes[special[:usable]] == end_code)
                if ends_stream.size:
                    usable = int(ends_stream[0]) + 1
                if usable:
                    last = int(special[usable - 1])
                    keep = np.ones(last + 1, dtype=bool)
                    keep[special[:usable]] = False
                    parts.append(codes[: last + 1][keep])
                    seg = gaps[:usable]
                    lengths.append(seg[seg > 0])
                    if codes[last] == end_code:
                        return (*_joined(parts, lengths), None)
                    pos = int(bits[last]) + first_width
                    batch = min(batch * 2, 1 << 20)
                    continue
        # A long segment (or no special code in sight): the schedule.
        segment, pos, finished = _read_segment(words, nbits, pos, min_code_size, chunk)
        if segment.size:
            parts.append(segment)
            lengths.append(np.array([segment.size]))
        if finished == "end":
            return (*_joined(parts, lengths), None)
        if finished == "data":
            return (*_joined(parts, lengths), "image data ends without an end code")
        after_long = segment.size > short
        long_segments += after_long
        if long_segments > long_limit:
            return (*_joined(parts, lengths),
                    f"the LZW dictionary is reset after more than {long_limit} long segments")
        chunk = max(1024, segment.size + 1) if after_long else 1024
        batch = 4096


def _joined(parts: list[np.ndarray], lengths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(parts), np.concatenate(lengths).astype(np.int64)


def _read_segment(
    words: np.ndarray, nbits: int, pos: int, min_code_size: int, chunk: int = 1024
) -> tuple[np.ndarray, int, str]:
    """Reads one segment from bit ``pos`` with the code-width schedule.

    Returns:
        ``(codes, position after its clear code, how it ended)``: ``"clear"``,
        ``"end"`` (an end-of-information code) or ``"data"`` (the data ran out).
    """
    end_code = (1 << min_code_size) + 1
    byte_at, shift_at, end_at, mask_at = _code_schedule(min_code_size)
    parts = []
    start = 0
    base, bit = pos >> 3, pos & 7
    while True:
        if start < _SCHEDULE:
            stop = min(start + chunk, _SCHEDULE)
            byte = byte_at[bit, start:stop] + base
            shift, end = shift_at[bit, start:stop], end_at[bit, start:stop]
            mask = mask_at[start:stop]
        else:  # past the schedule every code is 12 bits wide
            stop = start + chunk
            end = end_at[bit, -1] + 12 * np.arange(start - _SCHEDULE + 1, stop - _SCHEDULE + 1)
            byte, shift = ((end - 12) >> 3) + base, ((end - 12) & 7).astype(np.uint32)
            mask = np.full(stop - start, 4095, dtype=np.uint32)
        fits = int(np.searchsorted(end, nbits - 8 * base, side="right"))
        codes = ((words[byte[:fits]] >> shift[:fits]) & mask[:fits]).astype(np.int32)
        # The clear code is even and the end code follows it.
        special = (codes | 1) == end_code
        k = int(special.argmax()) if fits else 0
        if fits and special[k]:
            parts.append(codes[:k])
            segment = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if codes[k] == end_code:
                return segment, pos, "end"
            return segment, 8 * base + int(end[k]), "clear"
        parts.append(codes)
        if fits < stop - start:
            segment = np.concatenate(parts) if len(parts) > 1 else parts[0]
            return segment, pos, "data"
        start += fits
        chunk = min(chunk * 2, 1 << 16)
