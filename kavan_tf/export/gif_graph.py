"""GIF decoding in TensorFlow graph ops, compositing as the reference decoder does.

TF Serving runs no Python, so ``serving_default`` must decode GIF bytes with
stock ops. ``tf.io.decode_gif`` alone ignores disposal methods and
transparency the way browsers apply them, and sizes its canvas from the
largest frame. So the graph does what :mod:`kavan_tf.data.gif` does, and
gives ``tf.io.decode_gif`` only files it rebuilt from its own parse:

1. **Parse** (:mod:`kavan_tf.export.gif_parse`): each frame's rectangle,
   interlace flag, palette, LZW data span, disposal method and transparent
   index, and how the parse ended. Every limit of the reference decoder
   (``max_frame_pixels``, ``max_frames``, ``max_total_pixels``) is checked on
   this structure before any pixel is decoded (:mod:`kavan_tf.export.gif_checks`):
   a refusal is the GIF's ``error`` value, never an exception.
2. **Plain GIFs** (:mod:`kavan_tf.export.gif_whole`): when the frames the
   samples depend on (:mod:`kavan_tf.export.gif_plan`) are on the screen,
   disposed with 0 or 1, and their LZW streams sound, one
   ``tf.io.decode_gif`` of a file rebuilt from the parse composites them.
   Any other GIF is drawn frame by frame, as follows, by a function whose
   executor TensorFlow builds the first time a GIF needs it
   (:func:`~kavan_tf.export.lazy_graph.rarely_taken`).
3. **Decompress** each frame: :mod:`kavan_tf.export.lzw_graph` reads its LZW
   codes (without a loop when they are laid out as encoders write them,
   :func:`~kavan_tf.export.lzw_graph.probe_codes`). A sound stream (no code
   naming an entry not made yet, code size 1-8, not a flood of clear codes)
   is wrapped in a one-frame GIF of the frame's own size whose global palette
   maps index ``i`` to the colour ``(i, i, i)``, with no transparency and no
   interlace flag, and ``tf.io.decode_gif`` returns the palette indices
   themselves, rows in the order they were sent; a sound stream that ends
   before the frame is full goes with its end code turned into padding
   (:func:`_frame_pixels`). Any other stream is decompressed in tensor ops
   with the reference decoder's algorithm, which draws the pixels before a
   fault and leaves the rest undrawn (giflib draws garbage or fails).
4. **Composite** (:func:`decode_gif_sampled`): a ``tf.while_loop`` over the
   frames deinterlaces the indices, draws the opaque pixels clipped to the
   logical screen and applies disposal 2 (clear to the background colour) and
   3 (restore what was under the frame), exactly as the reference decoder's
   ``_composite``. The canvas holds palette ids (which colour of which drawn
   frame), so the palettes (local, global, or the grey ramp) are looked up
   once, for the sampled canvases. Only the frames the model samples are
   kept, and only the frames they depend on are drawn.

The rules for damaged files are in :func:`~kavan_tf.export.gif_parse.parse_gif`.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.export.gif_checks import first_error, header_checks, structure_error
from kavan_tf.export.gif_palette import COLOURS, packed, palettes, unpacked
from kavan_tf.export.gif_parse import parse_gif
from kavan_tf.export.gif_plan import covering_frames, drawable_frames, frames_to_composite
from kavan_tf.export.gif_whole import GIFLIB_CLEARS, decode_plain, plain_structure
from kavan_tf.export.lazy_graph import rarely_taken
from kavan_tf.export.lzw_graph import (
    PADDED_PIXELS,
    byte_string,
    decode_codes,
    is_sound,
    padded_sub_blocks,
    probe_codes,
    read_codes,
    sub_block_data,
)


def eval_frame_indices(num_frames: tf.Tensor, num_samples: int) -> tf.Tensor:
    """TSN evaluation indices: the middle frame of each of ``num_samples`` segments.

    Integer arithmetic, so the indices equal the float64 formula
    ``floor((k + 0.5) * n / T)`` exactly.

    Args:
        num_frames: Scalar int tensor ``n >= 1``, the frames of the GIF.
        num_samples: ``T``, the frames the model takes.

    Returns:
        int32 ``[T]`` indices into the GIF's frames.
    """
    n = tf.cast(num_frames, tf.int64)
    k = tf.range(num_samples, dtype=tf.int64)
    return tf.cast(((2 * k + 1) * n) // (2 * num_samples), tf.int32)



def _giflib_indices(width: tf.Tensor, rows: tf.Tensor, code_byte: tf.Tensor,
                    sub_blocks: tf.Tensor) -> tf.Tensor:
    """int32 ``[width * rows]``: the first ``rows`` rows (as sent) of a frame's
    palette indices, by ``tf.io.decode_gif`` of a one-frame GIF of that size
    around ``code_byte`` (its LZW minimum code size byte) and ``sub_blocks``
    (LZW data sub-blocks and terminator), whose global palette maps index
    ``i`` to ``(i, i, i)``, with no transparency and no interlace flag."""
    size = tf.stack([width, rows])
    size = byte_string(tf.reshape(tf.stack([size % 256, size // 256], 1), [-1]))
    # A global palette that maps index i to the colour (i, i, i).
    index_palette = byte_string(tf.repeat(tf.range(256), 3))
    gif = tf.strings.join([
        b"GIF89a", size, b"\xf7\x00\x00", index_palette, b"\x2c\x00\x00\x00\x00", size,
        b"\x00", code_byte, sub_blocks, b"\x3b",
    ])
    return tf.reshape(tf.cast(tf.io.decode_gif(gif)[0, :, :, 0], tf.int32), [-1])


def _giflib_can(sound, clears, full, end_bit, code_size, whole_file, needed) -> tf.Tensor:
    """Whether giflib decompresses the stream as the reference decoder does:
    no code names an entry not made yet, code size 1-8, not a flood of clear
    codes (giflib clears its whole table at each: a work bomb), and either
    the codes fill the frame within the file or an end code ends them early
    (then it is turned into padding: :func:`_padded`)."""
    return (sound & (code_size <= 8) & (clears <= GIFLIB_CLEARS)
            & ((full & whole_file) | ((end_bit >= 0) & (needed <= PADDED_PIXELS))))


_SCALAR_INT = tf.TensorSpec([], tf.int32)


@rarely_taken(tf.TensorSpec([None], tf.int32), _SCALAR_INT, _SCALAR_INT,
              tf.TensorSpec([], tf.bool))
def _irregular_stream(data, code_size, needed, whole_file):
    """A stream :func:`~kavan_tf.export.lzw_graph.probe_codes` cannot read, or
    one giflib cannot decompress: its codes read by
    :func:`~kavan_tf.export.lzw_graph.read_codes`. Returns whether giflib
    can decompress it after all, the end code's place, and otherwise the
    pixels decoded in tensor ops (the reference decoder's algorithm: the
    pixels before a fault, the rest undrawn)."""
    codes, j, full, end_bit, end_width, clears = read_codes(data, code_size, needed)
    giflib = _giflib_can(is_sound(codes, j, code_size), clears, full, end_bit, code_size,
                         whole_file, needed)
    indices, count = tf.cond(giflib, lambda: (tf.zeros([0], tf.int32), tf.constant(0)),
                             lambda: decode_codes(codes, j, code_size, needed))
    return (giflib, full, tf.cast(end_bit, tf.int64), tf.cast(end_width, tf.int32),
            indices, count)


def _padded(data, code_size, end_bit, end_width, width, rows, code_byte):
    """A sound stream that ends before the frame is full, by giflib with its
    end code turned into padding; returns the indices and how many are the
    stream's. The pixels before the padding are the stream's: two paddings,
    of index 0 and of 1, tell them apart when the last pixel is 0."""
    needed = width * rows
    streams = padded_sub_blocks(data, code_size, end_bit, end_width, [0, 1])
    zeros = _giflib_indices(width, rows, code_byte, streams[0])

    def count():
        ones = _giflib_indices(width, rows, code_byte, streams[1])
        differ = tf.cast(tf.where(tf.not_equal(zeros, ones))[:, 0], tf.int32)
        return tf.reduce_min(tf.concat([differ, [needed]], 0))

    return zeros, tf.cond(tf.equal(zeros[-1], 0), count, lambda: needed)


def _frame_pixels(parsed: dict[str, tf.Tensor], i: tf.Tensor, rows: tf.Tensor,
                  cols: tf.Tensor, transparent: tf.Tensor):
    """Palette indices and the mask of the pixels drawn, ``[rows, cols]`` (the
    frame's part on the screen), of frame ``i``, as the reference decoder's
    ``_draw``: not the transparent index, nor the pixels after an LZW fault.
    Also whether the LZW data gave every pixel."""
    w, h = parsed["w"][i], parsed["h"][i]
    interlaced = parsed["interlaced"][i] > 0
    # Rows below the screen are never shown; an interlaced frame sends its
    # rows out of order, so it is decoded whole.
    needed_rows = tf.where(interlaced, h, rows)
    code_size, needed = parsed["code_size"][i], w * needed_rows
    data = sub_block_data(parsed["bytes"], parsed["data_start"][i] + 1, parsed["data_end"][i])
    whole_file = parsed["data_end"][i] <= tf.size(parsed["bytes"])
    code_byte = tf.strings.substr(parsed["data"], parsed["data_start"][i], 1)
    lzw = tf.strings.substr(parsed["data"], parsed["data_start"][i] + 1,
                            parsed["data_end"][i] - parsed["data_start"][i] - 1)
    # giflib decompresses a sound stream (no code naming an entry not made
    # yet, code size 1-8) as the reference decoder does, and faster: as it
    # is when the codes fill the frame, and otherwise with its end code
    # turned into padding, so that a stream that ends early does not make
    # giflib fail. Streams laid out as encoders write them are read without
    # a loop (probe_codes); any other stream, and one giflib cannot
    # decompress, goes to _irregular_stream.
    regular, sound, full, end_bit, end_width, clears = probe_codes(data, code_size, needed)
    usual = regular & _giflib_can(sound, clears, full, end_bit, code_size, whole_file, needed)
    giflib, full, end_bit, end_width, decoded, count = tf.cond(
        usual,
        lambda: (tf.constant(True), full, end_bit, end_width, tf.zeros([0], tf.int32),
                 tf.constant(0)),
        lambda: _irregular_stream(data, code_size, needed, whole_file))

    def by_giflib():
        return tf.cond(
            full & whole_file,
            lambda: (_giflib_indices(w, needed_rows, code_byte, lzw), needed),
            lambda: _padded(data, code_size, end_bit, end_width, w, needed_rows, code_byte))

    indices, count = tf.cond(giflib, by_giflib, lambda: (decoded, count))
    whole = count >= needed

    def deinterlace(image):
        order = tf.concat([tf.range(start, tf.maximum(h, start), step)
                           for start, step in ((0, 8), (4, 8), (2, 4), (1, 2))], 0)
        return tf.gather(image, tf.math.invert_permutation(order))

    def shown(image):
        image = tf.reshape(image, tf.stack([needed_rows, w]))
        image = tf.cond(interlaced, lambda: deinterlace(image), lambda: image)
        return image[:rows, :cols]

    indices = shown(indices)
    opaque = tf.not_equal(indices, transparent)
    # Only a frame whose data ends early has undrawn pixels.
    opaque = tf.cond(whole, lambda: opaque,
                     lambda: opaque & shown(tf.range(needed) < count))
    return indices, opaque, whole


def decode_gif_sampled(
    data: tf.Tensor,
    num_samples: int,
    *,
    background: tuple[int, int, int] = (255, 255, 255),
    max_frame_pixels: int,
    max_total_pixels: int,
    max_frames: int,
) -> dict[str, tf.Tensor]:
    """Decodes one GIF to its TSN evaluation frames, or says why it cannot.

    Every limit is checked on the parsed structure before any frame is
    decompressed. A refused file is a value, not an exception, so that one
    bad file in a batch leaves the others' results as they are.

    Args:
        data: Scalar ``tf.string``, the file's bytes.
        num_samples: ``T``: frame ``floor((k + 1/2) n / T)`` of each segment.
        background: RGB shown where no frame has drawn (``DataConfig.background``).
        max_frame_pixels: ``DataConfig.max_frame_pixels``.
        max_total_pixels: ``DataConfig.max_total_pixels``.
        max_frames: ``DataConfig.max_frames``.

    Returns:
        ``frames``: uint8 ``[D, H, W, 3]``, the distinct sampled frames, each
        once (a GIF with fewer frames than samples repeats some; ``[1, 1, 1,
        3]`` zeros when refused); ``slots``: int32 ``[T]``, which of them
        each sample is (:func:`sampled_frames` makes the ``[T, H, W, 3]``
        samples); ``indices``: int32 ``[T]``, the sampled frames' positions
        in the GIF (zeros when refused); ``error``: scalar string, ``""``
        when the GIF decoded, else the reference decoder's cause
        (:attr:`kavan_tf.errors.MediaDecodeError.cause`), word for word.
    """
    def refused(error):
        return {"frames": tf.zeros([1, 1, 1, 3], tf.uint8),
                "slots": tf.zeros([num_samples], tf.int32),
                "indices": tf.zeros([num_samples], tf.int32), "error": error}

    def parse():
        parsed = parse_gif(data, max_frame_pixels=max_frame_pixels, max_frames=max_frames)
        parsed["data"] = data
        error, width, height = structure_error(parsed, max_frame_pixels, max_total_pixels,
                                                max_frames)
        return tf.cond(
            tf.equal(error, ""),
            lambda: _composited(parsed, width, height, num_samples, background),
            lambda: refused(error))

    # The parse starts only on a sound header.
    error = first_error(header_checks(data, max_frame_pixels))
    return tf.cond(tf.equal(error, ""), parse, lambda: refused(error))


def _composited(parsed: dict[str, tf.Tensor], width: tf.Tensor, height: tf.Tensor,
                num_samples: int, background: tuple[int, int, int]) -> dict[str, tf.Tensor]:
    """The sampled frames of a GIF whose structure passed every check (see
    :func:`decode_gif_sampled`)."""
    count = parsed["count"]
    samples = eval_frame_indices(count, num_samples)
    # The canvas holds, for each pixel, which colour of which drawn frame it
    # shows: id 0 is the background, id 1 + k * COLOURS + index the colour
    # `index` of the k-th frame drawn. Drawing is then selects of int32
    # ids, and the palettes are looked up once, for the sampled canvases.
    background_colour = packed(tf.constant(background, tf.int32))[None]
    canvas = tf.zeros(tf.stack([height, width]), tf.int32)
    drawable = drawable_frames(parsed, width, height, count)
    # The sampled frames, each once (several samples are one frame when
    # the GIF has fewer frames than samples), and each sample's among them.
    distinct, slot_of = tf.unique(samples)

    def draw(i, k, canvas):
        left, top = parsed["left"][i], parsed["top"][i]
        x1 = tf.minimum(left + parsed["w"][i], width)
        y1 = tf.minimum(top + parsed["h"][i], height)
        visible = (left < x1) & (top < y1)
        rows, cols = y1 - top, x1 - left
        pad = tf.maximum(tf.stack([[top, height - y1], [left, width - x1]]), 0)
        transparent = parsed["transparent"][i]

        def paint():
            indices, opaque, whole = _frame_pixels(parsed, i, rows, cols, transparent)
            ids = tf.pad(1 + k * COLOURS + tf.minimum(indices, COLOURS - 1), pad)
            return tf.where(tf.pad(opaque, pad), ids, canvas), whole

        drawn, whole = tf.cond(drawable[i], paint, lambda: (canvas, tf.constant(True)))
        disposal = parsed["disposal"][i]

        def region():
            ones = tf.ones(tf.stack([tf.maximum(rows, 0), tf.maximum(cols, 0)]), tf.bool)
            return tf.pad(ones, pad)

        after = tf.case(
            [
                (visible & tf.equal(disposal, 2),
                 lambda: tf.where(region(), tf.zeros_like(canvas), drawn)),
                (visible & tf.equal(disposal, 3), lambda: tf.where(region(), canvas, drawn)),
            ],
            default=lambda: drawn,
        )
        return drawn, after, whole

    def composite(needed):
        def body(k, canvas, out, whole):
            i = needed[k]
            drawn, after, drawn_whole = draw(i, k, canvas)
            at = tf.reduce_sum(tf.cast(distinct < i, tf.int32))
            sampled = tf.reduce_any(tf.equal(distinct, i))
            out = tf.cond(sampled, lambda: out.write(at, tf.gather(colours, drawn)),
                          lambda: out)
            return k + 1, after, out, whole & drawn_whole

        colours = tf.concat([background_colour, tf.reshape(palettes(parsed, needed), [-1])], 0)
        out = tf.TensorArray(tf.int32, size=tf.size(distinct), element_shape=[None, None])
        _, _, out, whole = tf.while_loop(
            lambda k, *_: k < tf.size(needed), body,
            (tf.constant(0), canvas, out, tf.constant(True)), parallel_iterations=1,
        )
        return out.stack(), whole

    # Only the frames the samples depend on are drawn (gif_plan), on the
    # assumption that a frame covering the screen with no transparent index
    # paints every pixel. A frame whose LZW data ends early or holds a bad
    # code does not: then a second pass draws every frame up to the last
    # sample (damaged files only). One loop makes both passes, so the
    # compositor is in the graph once.
    covers = covering_frames(parsed, width, height, count)
    paints_all = covers & drawable & (parsed["transparent"][:count] < 0)
    fast = frames_to_composite(parsed, samples, count, covers, paints_all)

    last = tf.reduce_max(samples)

    def frame_by_frame():
        def one_pass(attempt, frames, whole):
            needed = tf.cond(tf.equal(attempt, 0), lambda: fast, lambda: tf.range(last + 1))
            frames, whole = composite(needed)
            return attempt + 1, tf.ensure_shape(frames, [None, None, None]), whole

        # (A second pass that would draw the same frames again is skipped.)
        redrawn = tf.size(fast) < last + 1
        _, frames, _ = tf.while_loop(
            lambda attempt, _, whole: (tf.equal(attempt, 0)
                                       | (tf.equal(attempt, 1) & ~whole & redrawn)),
            one_pass, (tf.constant(0), tf.zeros([0, 0, 0], tf.int32), tf.constant(True)),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None, None]),
                              tf.TensorShape([])),
            parallel_iterations=1)
        # Each distinct sampled frame is unpacked once; the samples that
        # repeat one (a GIF with fewer frames than samples) point to it.
        return unpacked(frames)

    # The frames a plain GIF's samples depend on are decoded by one giflib
    # call (gif_whole); if giflib drops a frame, or the GIF is not plain
    # (damaged files, disposal 2 and 3), it is drawn frame by frame.
    whole, at = tf.cond(
        plain_structure(parsed, width, height, fast),
        lambda: decode_plain(parsed, width, height, fast, background),
        lambda: (tf.zeros(tf.stack([0, height, width, 3]), tf.uint8), tf.zeros_like(fast)))
    frames = tf.cond(tf.shape(whole)[0] > 0,
                     lambda: tf.gather(whole, tf.gather(at, tf.searchsorted(fast, distinct))),
                     rarely_taken()(frame_by_frame))
    frames = tf.ensure_shape(frames, [None, None, None, 3])
    return {"frames": frames, "slots": slot_of, "indices": samples, "error": tf.constant("")}


def sampled_frames(decoded: dict[str, tf.Tensor]) -> tf.Tensor:
    """uint8 ``[T, H, W, 3]``: the sampled frames of a :func:`decode_gif_sampled`
    result, distinct frames repeated where samples share one."""
    return tf.gather(decoded["frames"], decoded["slots"])
