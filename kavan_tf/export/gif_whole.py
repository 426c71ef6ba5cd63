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
  file, in sub-blocks of 255 bytes up to the one with its end code, with no
  code naming an entry not made yet and no flood of clear codes
  (:func:`sound_streams`).

The rebuilt file starts with a frame of the background colour covering the
screen, as the reference decoder's canvas starts. Then come the frames, each
with its rectangle, interlace flag and transparent index as they are in the
file, one graphic control extension, as its local palette the 256 colours
the reference decoder shows for it
(:func:`~kavan_tf.export.gif_palette.palettes`: indices past the palette are
black, so no index is outside it), and its LZW data with the end code turned
into padding of a transparent index (:func:`decode_plain`): giflib never
meets a stream that ends before its frame is full (some versions of
TensorFlow fail the whole file then), and the padding draws nothing, as the
reference decoder leaves the rest of such a frame undrawn. Most GIFs made
from video, and GIFs whose frames each change part of the last one through a
transparent index, are plain: one giflib call then decodes what the samples
need, far fewer ops than drawing frame by frame
(:mod:`kavan_tf.export.gif_graph`, which does it for any other GIF).
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.export.gif_palette import palettes, unpacked
from kavan_tf.export.lzw_graph import (
    PADDED_PIXELS,
    byte_string,
    padded_sub_blocks,
    padded_tails,
    sub_block_data,
)
from kavan_tf.export.lzw_probe import probe_codes

# Largest canvas area times frames (pixels, the background frame and the
# frames that go twice included) decoded in one giflib call (3 bytes each):
# larger GIFs are drawn frame by frame.
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
            & (tf.cast(2 * tf.size(frames) + 1, tf.int64) * screen <= MAX_DECODED_PIXELS)
            & (screen <= PADDED_PIXELS))


def sound_streams(parsed: dict[str, tf.Tensor], frames: tf.Tensor):
    """Whether every stream of ``frames`` can go to giflib: laid out as
    encoders write it, within the file, naming no entry not made yet,
    holding no flood of clear codes
    (:func:`~kavan_tf.export.lzw_probe.probe_codes`), and in sub-blocks of 255
    bytes up to the one that holds its end code. Stops at the first that
    cannot.

    Returns:
        ``(sound, end_bit, end_width)``: bool, and two ``tf.TensorArray`` of
        one value per frame, whole when ``sound``: the bit of its data where
        the end code starts (int64), and its width.
    """
    size = tf.size(parsed["bytes"])
    count = tf.size(frames)

    def body(k, _, end_bits, end_widths):
        i = frames[k]
        start = parsed["data_start"][i] + 1
        data = sub_block_data(parsed["bytes"], start, parsed["data_end"][i])
        regular, sound, _full, end_bit, end_width, clears = probe_codes(
            data, parsed["code_size"][i], parsed["w"][i] * parsed["h"][i])
        blocks = tf.where(regular, tf.cast(tf.bitwise.right_shift(end_bit, 3), tf.int32) // 255, 0)
        lengths = tf.gather(parsed["bytes"],
                            tf.minimum(start + 256 * tf.range(blocks), size - 1))
        sound = (regular & sound & (clears <= GIFLIB_CLEARS)
                 & (parsed["data_end"][i] <= size) & tf.reduce_all(tf.equal(lengths, 255)))
        return k + 1, sound, end_bits.write(k, end_bit), end_widths.write(k, end_width)

    _, sound, end_bits, end_widths = tf.while_loop(
        lambda k, sound, *_: sound & (k < count), body,
        (tf.constant(0), tf.constant(True), tf.TensorArray(tf.int64, size=count),
         tf.TensorArray(tf.int32, size=count)), parallel_iterations=1)
    return sound, end_bits, end_widths


def padded_streams(parsed: dict[str, tf.Tensor], frames: tf.Tensor, end_bit: tf.Tensor,
                   end_width: tf.Tensor, literals: tf.Tensor) -> tf.Tensor:
    """Each frame's LZW data sub-blocks (terminator included) with its end
    code turned into padding that fills the frame, once per literal.

    For every frame of ``frames`` at once (streams of :func:`sound_streams`):
    the sub-blocks before the one that holds the end code are the file's
    own; from there :func:`~kavan_tf.export.lzw_graph.padded_tails` writes
    the data again, with the padding.

    Args:
        frames: int32 ``[N]``.
        end_bit, end_width: Of each stream (:func:`sound_streams`).
        literals: int32 ``[N, K]``, the padding's index, ``K`` per frame.

    Returns:
        string ``[N, K]``.
    """
    file_bytes = tf.concat([parsed["bytes"], tf.zeros([1], tf.int32)], 0)
    data_start = tf.gather(parsed["data_start"], frames)
    q = tf.cast(tf.bitwise.right_shift(end_bit, 3), tf.int32)
    # The sub-blocks before the one that holds the end code are the file's
    # own (sound_streams: all 255 bytes long); the rest is written again.
    blocks = q // 255
    tail = data_start + 2 + 256 * blocks  # in the file, payload byte 255 * blocks
    before = q - 255 * blocks
    p = tf.range(tf.reduce_max(before) + 1)[None, :]
    tails = tf.gather(file_bytes, tf.minimum(tail[:, None] + p, tf.size(file_bytes) - 1))
    padded = padded_tails(
        tails, before, tf.cast(tf.bitwise.bitwise_and(end_bit, 7), tf.int32), end_width,
        tf.gather(parsed["code_size"], frames),
        tf.gather(parsed["w"], frames) * tf.gather(parsed["h"], frames), literals)
    head = tf.strings.substr(parsed["data"], data_start + 1, 256 * blocks)
    return head[:, None] + padded


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
                             tf.constant(3), [0], width * height)[0]
    return tf.strings.join([place, bytes(background) * 2, b"\x02", data])


def rebuilt_gif(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                frames: tf.Tensor, background: tuple[int, int, int], keyed: tf.Tensor,
                first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    """Scalar string: a GIF of the background, then ``frames``, with the LZW
    data of :func:`padded_streams` (``keyed``, ``first``, ``second``), as the
    module describes."""
    count = tf.size(frames)

    def field(name):
        return tf.gather(parsed[name], frames)

    def heads(transparent):
        # A graphic control extension (disposal 0, the transparent index),
        # then an image descriptor with a local palette of 256 colours.
        zeros = tf.zeros([count], tf.int32)
        control = tf.stack([
            zeros + 0x21, zeros + 0xF9, zeros + 4, zeros + 1, zeros, zeros, transparent, zeros,
            zeros + 0x2C], 1)
        head = tf.concat([control, place, flags[:, None], colours], 1)
        stride = head.shape[1]
        return tf.strings.substr(byte_string(tf.reshape(head, [-1])),
                                 stride * tf.range(count), tf.fill([count], stride))

    place = tf.reshape(_u16(tf.stack([field("left"), field("top"), field("w"), field("h")], 1)),
                       [count, 8])
    flags = 0x87 + 0x40 * tf.cast(field("interlaced") > 0, tf.int32)
    colours = tf.reshape(tf.cast(unpacked(palettes(parsed, frames)[:, :256]), tf.int32),
                         [count, 768])
    code_byte = tf.strings.substr(parsed["data"], field("data_start"), tf.ones([count], tf.int32))
    once = tf.strings.join([heads(tf.where(keyed, field("transparent"), 0)), code_byte, first])
    again = tf.strings.join([heads(tf.ones([count], tf.int32)), code_byte, second])
    screen = byte_string(tf.reshape(_u16(tf.stack([width, height])), [-1]))
    return tf.strings.join([
        b"GIF89a", screen, b"\x00\x00\x00", _background_frame(width, height, background),
        tf.strings.reduce_join(tf.where(keyed, once, tf.strings.join([once, again]))), b"\x3b"])


def decode_plain(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                 frames: tf.Tensor, background: tuple[int, int, int]) -> tuple[tf.Tensor,
                                                                              tf.Tensor]:
    """The composited ``frames`` of a plain GIF (:func:`plain_structure`), by
    one ``tf.io.decode_gif`` of :func:`rebuilt_gif`.

    Each stream's end code is turned into padding that fills its frame
    (:func:`padded_streams`), so that giflib never meets a stream that ends
    early, and the padding is of a transparent index, so that it draws
    nothing, as the reference decoder leaves the rest of such a frame
    undrawn: the frame's own transparent index, when it has one its stream
    can name (``keyed``). A frame without one goes twice: padded with index
    0 and transparent 0, then padded with index 1 and transparent 1; between
    them every pixel of its own is drawn, and no padding.

    Returns:
        ``(decoded, at)``: uint8 ``[F, height, width, 3]``, the background
        and the rebuilt file's frames, and int32 ``[len(frames)]``, where
        each of ``frames`` is among them; ``[0, height, width, 3]`` when a
        stream cannot go to giflib (:func:`sound_streams`), or giflib did
        not give every frame.
    """
    sound, end_bit, end_width = sound_streams(parsed, frames)
    transparent = tf.gather(parsed["transparent"], frames)
    keyed = (transparent >= 0) & (transparent < tf.bitwise.left_shift(
        1, tf.gather(parsed["code_size"], frames)))
    at = tf.cumsum(tf.where(keyed, 1, 2))

    def decode():
        literals = tf.stack([tf.where(keyed, transparent, 0), tf.ones_like(transparent)], 1)
        streams = padded_streams(parsed, frames, end_bit.stack(), end_width.stack(), literals)
        decoded = tf.io.decode_gif(rebuilt_gif(parsed, width, height, frames, background,
                                               keyed, streams[:, 0], streams[:, 1]))
        return tf.cond(tf.equal(tf.shape(decoded)[0], at[-1] + 1), lambda: decoded, nothing)

    def nothing():
        return tf.zeros(tf.stack([0, height, width, 3]), tf.uint8)

    return tf.cond(sound, decode, nothing), at
