"""Small GIFs the tests build with Pillow, with the features the corpora test.

The decoder tests that damage files (truncation, corruption, the
``helpers.mutated_gif`` mutations) and the serving tests need GIFs with the
features of the third-party corpora: several frames, each disposal method,
a transparent colour, local palettes, partial and interlaced frames. These
are built here in a few milliseconds, so the tests run on a bare clone.

Example:

```python
gifs = built_gifs()                 # {name: GIF bytes}
data = gifs["restore_background"]   # disposal 2 with a transparent colour
```
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def pillow_gif(frames: list[Image.Image], **save) -> bytes:
    """``frames`` as an animated GIF written by Pillow with the ``save`` options."""
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], **save)
    return buffer.getvalue()


def palette_frames(count: int, size: tuple[int, int], seed: int) -> list[Image.Image]:
    """Palette frames, each with its own random palette (Pillow writes local
    colour tables): index 0 (the transparent one where the GIF has one) with a
    band and a square moving on it, so that consecutive frames differ in part."""
    rng = np.random.default_rng(seed)
    width, height = size
    frames = []
    for i in range(count):
        image = np.zeros((height, width), np.uint8)
        if i % 2 == 0:
            image[1 : height // 3, 2 : width // 2] = 1 + i % 5
        side = max(2, min(width, height) // 3)
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        image[y : y + side, x : x + side] = 6 + i % 7
        frame = Image.fromarray(image, mode="P")
        frame.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        frames.append(frame)
    return frames


def rgb_frames(count: int, size: tuple[int, int], seed: int) -> list[Image.Image]:
    """RGB frames (a gradient with a moving disc) for Pillow to quantise:
    many colours, and frames that repeat most of the one before them."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                     (x + y) * 127 // max(1, width + height - 2)], -1).astype(np.uint8)
    frames = []
    for _ in range(count):
        image = base.copy()
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        image[(x - cx) ** 2 + (y - cy) ** 2 < (min(width, height) // 4) ** 2] = rng.integers(
            0, 256, 3)
        frames.append(Image.fromarray(image))
    return frames


def interlaced(data: bytes) -> bytes:
    """``data`` with the interlace flag set on every frame: a valid GIF whose
    rows the decoder must put back in interlaced order (the pixels differ
    from ``data``'s; Pillow writes animated GIFs without interlacing)."""
    out = bytearray(data)
    flags = out[10]
    i = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    while i < len(out) and out[i] != 0x3B:
        if out[i] == 0x21:  # extension: label, then sub-blocks
            i += 2
        elif out[i] == 0x2C:  # image descriptor, local palette, LZW minimum code size
            out[i + 9] |= 0x40
            local = out[i + 9]
            i += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0) + 1
        else:
            raise ValueError(f"unexpected byte {out[i]:#x} at {i}")
        while out[i]:
            i += out[i] + 1
        i += 1
    return bytes(out)


def built_gifs() -> dict[str, bytes]:
    """GIFs of 1 to 6 frames, a few hundred bytes to a few kilobytes each, by feature:

    - ``restore_background``: disposal 2, a transparent colour, local palettes;
    - ``restore_previous``: disposal 3, a transparent colour, local palettes;
    - ``disposal_mix``: disposals 0-3 in turn, a transparent colour, varied delays;
    - ``partial_interlaced``: frames of one palette, so that Pillow writes
      partial frames (the region that changed), interlaced, disposal 1;
    - ``quantized``: RGB frames quantised by Pillow, no loop extension;
    - ``small``: 12 x 10 frames (not interlaced), disposal 1, a comment;
    - ``static_transparent``: one frame with a transparent colour.
    """
    shared = palette_frames(4, (40, 30), 7)
    for frame in shared[1:]:
        frame.putpalette(shared[0].getpalette())
    return {
        "restore_background": pillow_gif(palette_frames(5, (40, 30), 1), disposal=2,
                                         transparency=0, duration=50, loop=0),
        "restore_previous": pillow_gif(palette_frames(5, (36, 32), 2), disposal=3,
                                       transparency=0, duration=60, loop=0),
        "disposal_mix": pillow_gif(palette_frames(6, (33, 27), 3), disposal=[0, 1, 2, 3, 2, 1],
                                   transparency=0, duration=[20, 40, 0, 70, 30, 100], loop=2),
        "partial_interlaced": interlaced(pillow_gif(shared, disposal=1, duration=40, loop=0)),
        "quantized": pillow_gif(rgb_frames(3, (32, 24), 4), duration=80),
        "small": pillow_gif(palette_frames(4, (12, 10), 5), disposal=1, duration=40, loop=0,
                            comment=b"built by the tests"),
        "static_transparent": pillow_gif(palette_frames(1, (30, 30), 6), transparency=0),
    }
