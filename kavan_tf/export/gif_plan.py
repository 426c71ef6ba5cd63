"""Which frames of a GIF the serving graph draws for its sampled frames.

The compositor (:mod:`kavan_tf.export.gif_graph`) draws only the frames the
sampled frames depend on. These functions find them from the parsed
structure (:func:`~kavan_tf.export.gif_parse.parse_gif`) alone, before any
pixel is decoded.
"""

from __future__ import annotations

import tensorflow as tf


def drawable_frames(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                    count: tf.Tensor) -> tf.Tensor:
    """bool ``[count]``: the frame shows on the screen and has LZW data to draw
    (a code size of 1-11 and at least one data byte), as the reference decoder's
    ``_composite`` draws it."""
    left, top = parsed["left"][:count], parsed["top"][:count]
    visible = ((left < tf.minimum(left + parsed["w"][:count], width))
               & (top < tf.minimum(top + parsed["h"][:count], height)))
    code_size = parsed["code_size"][:count]
    has_data = parsed["data_end"][:count] > parsed["data_start"][:count] + 2
    return visible & (code_size >= 1) & (code_size <= 11) & has_data


def covering_frames(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                    count: tf.Tensor) -> tf.Tensor:
    """bool ``[count]``: the frame's rectangle covers the whole screen."""
    return ((parsed["left"][:count] == 0) & (parsed["top"][:count] == 0)
            & (parsed["w"][:count] >= width) & (parsed["h"][:count] >= height))


def frames_to_composite(parsed: dict[str, tf.Tensor], samples: tf.Tensor, count: tf.Tensor,
                        covers: tf.Tensor, paints_all: tf.Tensor) -> tf.Tensor:
    """int32 indices of the frames whose drawing the sampled frames depend on, in order.

    ``paints_all`` (bool ``[count]``) says which frames paint every pixel of
    the screen: what such a frame shows depends on no earlier frame. After
    it, the canvas depends on no earlier frame either unless it is disposed
    with 3 (restore what was under it); a frame covering the screen
    (``covers``, :func:`covering_frames`) and disposed with 2 leaves the
    background whatever it drew. So a sampled frame needs only the frames
    from the last such reset before it (or from the first frame): for
    GIFs of full, opaque frames (most GIFs made from video) that is the
    sampled frames alone; for GIFs of partial or transparent frames, every
    frame up to the last sample. The compositor then gives the same canvases
    as drawing every frame.
    """
    disposal = parsed["disposal"][:count]
    resets_after = ((paints_all & tf.not_equal(disposal, 3))
                    | (covers & tf.equal(disposal, 2)))
    frames = tf.range(count)[None, :]
    sampled = samples[:, None]
    last_reset = tf.reduce_max(
        tf.where(resets_after[None, :] & (frames < sampled), frames, 0), axis=1)
    start = tf.where(tf.gather(paints_all, samples), samples, last_reset)
    needed = tf.reduce_any((frames >= start[:, None]) & (frames <= sampled), axis=0)
    return tf.cast(tf.where(needed)[:, 0], tf.int32)
