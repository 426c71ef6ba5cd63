"""The colours a GIF's frames show, as the serving graph looks them up.

A frame's palette is its local one, else the global one, else the grey ramp
the reference decoder (:mod:`kavan_tf.data.gif`) uses; indices past the
palette are black. Colours are packed into one int32 each
(:func:`packed`), so that a canvas of colour ids is looked up in one gather.
"""

from __future__ import annotations

import tensorflow as tf

# Palette entries a frame can show: 256, and black for every index past them.
COLOURS = 257


def palettes(parsed: dict[str, tf.Tensor], frames: tf.Tensor) -> tf.Tensor:
    """int32 ``[N, COLOURS]`` packed colours (:func:`packed`) of ``frames``
    (int32 ``[N]``): local, global, or the grey ramp; indices past the
    palette are black, as in the reference decoder (and so is every index
    from 256 on: see
    :func:`kavan_tf.export.gif_graph.decode_gif_sampled`)."""
    local = tf.gather(parsed["palette"], frames)
    offset = tf.where(local >= 0, local, parsed["global_palette"])
    size = tf.where(local >= 0, tf.gather(parsed["palette_size"], frames), parsed["global_size"])
    entry = tf.range(COLOURS)[None, :, None]
    at = offset[:, None, None] + 3 * entry + tf.range(3)[None, None, :]
    colours = tf.gather(parsed["bytes"], tf.clip_by_value(at, 0, tf.size(parsed["bytes"]) - 1))
    colours = tf.where(entry < size[:, None, None], colours, 0)
    grey = tf.where(entry < 256, entry, 0)
    return packed(tf.where(offset[:, None, None] >= 0, colours, grey))


def packed(rgb: tf.Tensor) -> tf.Tensor:
    """int32 ``[..., 3]`` colours (0-255) -> int32 ``[...]``: the bytes r, g, b, 0
    read as one int32 (``tf.bitcast``), so that :func:`unpacked` is a bitcast
    and a slice, in either byte order."""
    rgb = tf.cast(rgb, tf.uint8)
    return tf.bitcast(tf.concat([rgb, tf.zeros_like(rgb[..., :1])], -1), tf.int32)


def unpacked(colours: tf.Tensor) -> tf.Tensor:
    """:func:`packed` undone: int32 ``[...]`` -> uint8 ``[..., 3]``."""
    return tf.bitcast(colours, tf.uint8)[..., :3]
