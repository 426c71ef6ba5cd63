"""The GIF file format: block labels, and the block structure read from a file.

:func:`parse_gif` reads a GIF's logical screen, its palettes, its extensions and
the LZW data of each image, without decompressing anything, and checks the
decompression-bomb limits of :class:`~kavan_tf.config.DataConfig` from these
headers alone, before any pixel buffer is allocated. Damage between blocks
ends the reading at that point: the frames read so far are kept and the
problem is listed in :attr:`ParsedGif.warnings` (the caller logs them). The
serving graph (:mod:`kavan_tf.export.gif_graph`) follows the same rules and
imports the block labels from here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from kavan_tf.config import DataConfig
from kavan_tf.errors import DecompressionBombError, GifDecodeError

TRAILER = 0x3B
EXTENSION = 0x21
IMAGE = 0x2C
GRAPHIC_CONTROL = 0xF9
APPLICATION = 0xFF
# Disposal methods that change the canvas after a frame (0, 1 and 4-7 keep it).
DISPOSE_BACKGROUND = 2
DISPOSE_PREVIOUS = 3
_MIN_DELAY_CS = 2  # Chrome and Firefox play delays of 10 ms or less as 100 ms.
DEFAULT_DELAY_MS = 100
SCREEN_DESCRIPTOR_END = 13
IMAGE_DESCRIPTOR_SIZE = 10


@dataclass
class ParsedFrame:
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
class ParsedGif:
    """The parsed block structure of a GIF."""

    width: int
    height: int
    global_palette: np.ndarray | None
    frames: list[ParsedFrame]
    loop_count: int | None
    warnings: list[str]


@dataclass
class _Control:
    """What the last Graphic Control Extension says about the next image."""

    disposal: int = 0
    transparent: int | None = None
    delay_ms: int = DEFAULT_DELAY_MS


def parse_gif(data: bytes, name: str, config: DataConfig) -> ParsedGif:
    """Reads the block structure; checks the limits before any pixel is decoded.

    Args:
        data: The file's bytes.
        name: The file name, for errors and warnings.
        config: Supplies ``max_frame_pixels``, ``max_total_pixels`` and
            ``max_frames``.

    Raises:
        DecompressionBombError: The GIF exceeds one of the limits.
        GifDecodeError: The file is not a GIF, or holds no frame.
    """
    width, height, global_palette, pos = _read_screen(data, name, config)
    warnings: list[str] = []
    frames: list[ParsedFrame] = []
    loop_count: int | None = None
    control = _Control()
    end = len(data)
    while True:
        if pos >= end:
            warnings.append(f"file is truncated after {len(frames)} frame(s) (no trailer)")
            break
        block = data[pos]
        if block == TRAILER:
            break
        if block == EXTENSION:
            if pos + 2 > end:
                warnings.append("file is truncated inside an extension")
                break
            label = data[pos + 1]
            sub_blocks, pos, complete = _sub_blocks(data, pos + 2)
            if not complete:
                warnings.append(f"file is truncated inside extension 0x{label:02x}")
                break
            if label == GRAPHIC_CONTROL and sub_blocks and len(sub_blocks[0]) >= 4:
                control = _graphic_control(sub_blocks[0])
            elif label == APPLICATION and loop_count is None:
                loop_count = _loop_count(sub_blocks)
            continue
        if block != IMAGE:
            warnings.append(
                f"unexpected byte 0x{block:02x} at offset {pos} where a block should "
                f"start; decoding stops after {len(frames)} frame(s)"
            )
            break
        pos, complete = _read_image(data, pos, name, config, control, frames, warnings)
        control = _Control()
        if not complete:
            break

    if not frames:
        why = f" ({warnings[-1]})" if warnings else ""
        raise GifDecodeError(name, f"the file holds no image{why}")
    width, height = _screen_size(width, height, frames[0], name, config)
    _check_total(width, height, frames, name, config)
    return ParsedGif(width, height, global_palette, frames, loop_count, warnings)


def _read_screen(
    data: bytes, name: str, config: DataConfig
) -> tuple[int, int, np.ndarray | None, int]:
    """``(width, height, global palette, position after it)`` from the header
    and the logical screen descriptor."""
    if len(data) < 6 or data[:3] != b"GIF":
        raise GifDecodeError(
            name, "not a GIF file (the bytes do not start with GIF87a or GIF89a)"
        )
    if data[3:6] not in (b"87a", b"89a"):
        raise GifDecodeError(name, "unknown GIF version (not GIF87a or GIF89a)")
    if len(data) < SCREEN_DESCRIPTOR_END:
        raise GifDecodeError(name, "file ends inside the logical screen descriptor")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    _check_screen(width, height, name, config)
    pos = SCREEN_DESCRIPTOR_END
    global_palette = None
    if flags & 0x80:
        size = 3 << ((flags & 7) + 1)
        if pos + size > len(data):
            raise GifDecodeError(name, "file ends inside the global palette")
        global_palette = _palette(data, pos, size)
        pos += size
    return width, height, global_palette, pos


def _graphic_control(block: bytes) -> _Control:
    packed, delay_cs, index = struct.unpack_from("<BHB", block)
    return _Control(
        disposal=(packed >> 2) & 7,
        transparent=index if packed & 1 else None,
        delay_ms=delay_cs * 10 if delay_cs >= _MIN_DELAY_CS else DEFAULT_DELAY_MS,
    )


def _read_image(
    data: bytes,
    pos: int,
    name: str,
    config: DataConfig,
    control: _Control,
    frames: list[ParsedFrame],
    warnings: list[str],
) -> tuple[int, bool]:
    """Reads the image block at ``pos`` into ``frames``.

    Returns:
        ``(position after it, complete)``; ``complete`` is ``False`` when the
        file ends inside it (a warning then says where), and reading stops.
    """
    end = len(data)
    if pos + IMAGE_DESCRIPTOR_SIZE > end:
        warnings.append("file is truncated inside an image descriptor")
        return pos, False
    left, top, w, h, flags = struct.unpack_from("<HHHHB", data, pos + 1)
    if w * h > config.max_frame_pixels:
        raise DecompressionBombError(
            name,
            f"frame {len(frames)} is {w}x{h}, exceeding max_frame_pixels="
            f"{config.max_frame_pixels}",
        )
    if len(frames) + 1 > config.max_frames:
        raise DecompressionBombError(name, f"more than max_frames={config.max_frames} frames")
    pos += IMAGE_DESCRIPTOR_SIZE
    palette = None
    if flags & 0x80:
        size = 3 << ((flags & 7) + 1)
        if pos + size > end:
            warnings.append(f"file ends inside the palette of frame {len(frames)}")
            return pos, False
        palette = _palette(data, pos, size)
        pos += size
    if pos >= end:
        warnings.append(f"file is truncated before the data of frame {len(frames)}")
        return pos, False
    min_code_size = data[pos]
    sub_blocks, pos, complete = _sub_blocks(data, pos + 1)
    lzw = b"".join(sub_blocks)
    if not lzw and not complete:
        warnings.append(f"file is truncated before the data of frame {len(frames)}")
        return pos, False
    frames.append(
        ParsedFrame(left, top, w, h, bool(flags & 0x40), palette, min_code_size, lzw,
                    control.disposal, control.transparent, control.delay_ms)
    )
    if not complete:
        warnings.append(f"file is truncated inside the data of frame {len(frames) - 1}")
    return pos, complete


def _check_screen(width: int, height: int, name: str, config: DataConfig) -> None:
    if width * height > config.max_frame_pixels:
        raise DecompressionBombError(
            name,
            f"logical screen {width}x{height} exceeds max_frame_pixels="
            f"{config.max_frame_pixels}",
        )


def _screen_size(
    width: int, height: int, first: ParsedFrame, name: str, config: DataConfig
) -> tuple[int, int]:
    """The logical screen's size; a zero width or height takes the first frame's extent."""
    if width and height:
        return width, height
    width = width or first.left + first.width
    height = height or first.top + first.height
    if width == 0 or height == 0:
        raise GifDecodeError(name, "the logical screen and the first frame are empty")
    _check_screen(width, height, name, config)
    return width, height


def _check_total(
    width: int, height: int, frames: list[ParsedFrame], name: str, config: DataConfig
) -> None:
    """``width x height x frames``, and the pixels of all image descriptors
    together, against ``max_total_pixels``."""
    descriptor_pixels = sum(f.width * f.height for f in frames)
    total = max(width * height * len(frames), descriptor_pixels)
    if total > config.max_total_pixels:
        raise DecompressionBombError(
            name,
            f"{len(frames)} frames of {width}x{height} ({total} pixels) exceed "
            f"max_total_pixels={config.max_total_pixels}",
        )


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
    parts: list[bytes] = []
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
