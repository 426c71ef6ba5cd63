"""Plain GIFs decoded by giflib in one call, composited as the reference decoder does.

``tf.io.decode_gif`` composites each frame on the one before it, leaving the
pixels of a frame's transparent index as they were: what the reference
decoder (:mod:`kavan_tf.data.gif`) does for frames disposed with 0 or 1. It
differs elsewhere: it ignores disposal 2 and 3, shows black where the first
frame does not draw, fails on a colour index past the palette, fails on a
stream that ends early, draws garbage for a code naming an entry not made
yet, and follows the file's own extensions and blocks where the reference
decoder's parse may read them otherwise. So the serving graph gives giflib a
file rebuilt from its own parse (:func:`~kavan_tf.export.gif_parse.parse_gif`)
(:func:`rebuilt_gif`), of the frames the sampled frames depend on
(:func:`~kavan_tf.export.gif_plan.frames_to_composite`: runs of frames, each
from a frame that paints the whole screen, or from the first frame, to a
sampled frame), and only for a *plain* GIF:

- each of those frames lies on the logical screen, has LZW data and a code
  size of 2-8, and none followed by the next frame is disposed with 2 or 3
  (:func:`plain_structure`);
- each of their LZW streams is laid out as encoders write it, within the
  file, with no code naming an entry not made yet and no flood of clear
  codes (:func:`sound_streams`).

The rebuilt file starts with a frame of the background colour covering the
screen, as the reference decoder's canvas starts. Then come the frames, each
with its rectangle, interlace flag, transparent index and LZW data sub-
blocks as they are in the file, one graphic control extension, and as its
local palette the 256 colours the reference decoder shows for it
(:func:`~kavan_tf.export.gif_palette.palettes`: indices past the palette are
black), so no index is outside it. giflib drops a frame whose stream ends
before the frame is full, and every frame after it: the decode then has
fewer frames than it was given (and TensorFlow logs "failed to slurp gif
file"), and the GIF is drawn frame by frame instead (:func:`decode_plain`).
Most GIFs made from video, and GIFs whose frames each change part of the
last one through a transparent index, are plain: one giflib call then
decodes what the samples need, far fewer ops than drawing frame by frame
(:mod:`kavan_tf.export.gif_graph`, which does it for any other GIF).
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.export.gif_palette import palettes, unpacked
from kavan_tf.export.lzw_graph import PADDED_PIXELS, byte_string, padded_sub_blocks, sub_block_data
from kavan_tf.export.lzw_probe import probe_codes

# Largest canvas area times frames (pixels, the background's included)
# decoded in one giflib call (3 bytes each): larger GIFs are drawn frame by
# frame.
MAX_DECODED_PIXELS = 2**25
# Clear codes in a frame up to which giflib decompresses it (each costs giflib
# a pass over its 4,096-entry table).
GIFLIB_CLEARS = 4096


def plain_structure(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                    frames: tf.Tensor) -> tf.Tensor:
    """bool: ``frames`` (int32, increasing) of the parsed GIF have the
    structure of a plain GIF (the module's first condition: a frame followed
    by the next one is not disposed with 2 or 3), and decoding them all fits
    ``MAX_DECODED_PIXELS``."""
    left, top = tf.gather(parsed["left"], frames), tf.gather(parsed["top"], frames)
    w, h = tf.gather(parsed["w"], frames), tf.gather(parsed["h"], frames)
    code_size = tf.gather(parsed["code_size"], frames)
    disposal = tf.gather(parsed["disposal"], frames)
    on_screen = (w > 0) & (h > 0) & (left + w <= width) & (top + h <= height)
    has_data = tf.gather(parsed["data_end"], frames) > tf.gather(parsed["data_start"], frames) + 2
    followed = tf.concat([tf.equal(frames[1:], frames[:-1] + 1), [False]], 0)
    undisposed = ((disposal != 2) & (disposal != 3)) | ~followed
    screen = tf.cast(width, tf.int64) * tf.cast(height, tf.int64)
    return (tf.reduce_all(on_screen & has_data & undisposed
                          & (code_size >= 2) & (code_size <= 8))
            & (tf.cast(tf.size(frames) + 1, tf.int64) * screen <= MAX_DECODED_PIXELS)
            & (screen <= PADDED_PIXELS))


def sound_streams(parsed: dict[str, tf.Tensor], frames: tf.Tensor) -> tf.Tensor:
    """bool: the LZW stream of every frame of ``frames`` is laid out as
    encoders write it, lies within the file, names no entry not made yet and
    holds no flood of clear codes
    (:func:`~kavan_tf.export.lzw_probe.probe_codes`). Stops at the first that
    does not."""
    size = tf.size(parsed["bytes"])

    def body(k, _):
        i = frames[k]
        data = sub_block_data(parsed["bytes"], parsed["data_start"][i] + 1,
                              parsed["data_end"][i])
        regular, sound, _full, _bit, _width, clears = probe_codes(
            data, parsed["code_size"][i], parsed["w"][i] * parsed["h"][i])
        return k + 1, (regular & sound & (clears <= GIFLIB_CLEARS)
                       & (parsed["data_end"][i] <= size))

    _, sound = tf.while_loop(lambda k, sound: sound & (k < tf.size(frames)), body,
                             (tf.constant(0), tf.constant(True)), parallel_iterations=1)
    return sound


def _u16(values: tf.Tensor) -> tf.Tensor:
    """int32 ``[..., 2]``: each value's two bytes, little end first."""
    return tf.stack([values % 256, values // 256], -1)


def _background_frame(width: tf.Tensor, height: tf.Tensor,
                      background: tuple[int, int, int]) -> tf.Tensor:
    """Scalar string: an image descriptor at (0, 0) of the screen's size, a
    local palette of two entries of the ``background`` colour, and LZW data
    of index 0 for every pixel (a clear code, then the padding segment of
    :func:`~kavan_tf.export.lzw_graph.padded_sub_blocks`)."""
    place = byte_string(tf.concat([[0x2C, 0, 0, 0, 0], tf.reshape(_u16(tf.stack([width, height])),
                                                                    [-1]), [0x80]], 0))
    # The stream "clear, end" with code size 2 (codes 4 and 5, 3 bits each),
    # its end code turned into the padding.
    data = padded_sub_blocks(tf.constant([0x2C]), tf.constant(2), tf.constant(3, tf.int64),
                             tf.constant(3), 0)
    return tf.strings.join([place, bytes(background) * 2, b"\x02", data])


def rebuilt_gif(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                frames: tf.Tensor, background: tuple[int, int, int]) -> tf.Tensor:
    """Scalar string: a GIF of the background, then ``frames``, as the module
    describes."""
    count = tf.size(frames)

    def field(name):
        return tf.gather(parsed[name], frames)

    transparent = field("transparent")
    # Per frame: a graphic control extension (disposal 0, the transparent
    # index), then an image descriptor with a local palette of 256 colours.
    zeros = tf.zeros([count], tf.int32)
    control = tf.stack([
        zeros + 0x21, zeros + 0xF9, zeros + 4, tf.cast(transparent >= 0, tf.int32), zeros,
        zeros, tf.maximum(transparent, 0), zeros, zeros + 0x2C], 1)
    place = tf.reshape(_u16(tf.stack([field("left"), field("top"), field("w"), field("h")], 1)),
                       [count, 8])
    flags = 0x87 + 0x40 * tf.cast(field("interlaced") > 0, tf.int32)
    colours = tf.reshape(tf.cast(unpacked(palettes(parsed, frames)[:, :256]), tf.int32),
                         [count, 768])
    head = tf.concat([control, place, flags[:, None], colours], 1)
    stride = head.shape[1]
    heads = tf.strings.substr(byte_string(tf.reshape(head, [-1])),
                              stride * tf.range(count), tf.fill([count], stride))
    # The code-size byte and the data sub-blocks, terminator included.
    start = field("data_start")
    data = tf.strings.substr(parsed["data"], start, field("data_end") - start)
    screen = byte_string(tf.reshape(_u16(tf.stack([width, height])), [-1]))
    return tf.strings.join([
        b"GIF89a", screen, b"\x00\x00\x00", _background_frame(width, height, background),
        tf.strings.reduce_join(tf.strings.join([heads, data])), b"\x3b"])


def decode_plain(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                 frames: tf.Tensor, background: tuple[int, int, int]) -> tf.Tensor:
    """uint8 ``[len(frames) + 1, height, width, 3]``: the background, then
    ``frames`` of a plain GIF (:func:`plain_structure`, :func:`sound_streams`)
    composited in turn, by one ``tf.io.decode_gif`` of :func:`rebuilt_gif`;
    ``[0, height, width, 3]`` when giflib dropped a frame (a stream that ends
    before its frame is full)."""
    decoded = tf.io.decode_gif(rebuilt_gif(parsed, width, height, frames, background))
    whole = tf.equal(tf.shape(decoded)[0], tf.size(frames) + 1)
    return tf.cond(whole, lambda: decoded,
                   lambda: tf.zeros(tf.stack([0, height, width, 3]), tf.uint8))
