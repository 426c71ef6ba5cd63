"""Step 1 of the in-graph GIF decoder: the block structure of one file.

:func:`parse_gif` walks the blocks of a GIF with stock TensorFlow ops and
returns each frame's rectangle, palette, LZW data span, disposal and
transparency, and a status saying how the parse ended (see
:mod:`kavan_tf.export.gif_graph` for the steps after it). It follows the
reference parser, ``kavan_tf.data.gif_format.parse_gif``.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.data.gif_format import EXTENSION as _EXTENSION
from kavan_tf.data.gif_format import GRAPHIC_CONTROL as _GRAPHIC_CONTROL
from kavan_tf.data.gif_format import IMAGE as _IMAGE
from kavan_tf.data.gif_format import TRAILER as _TRAILER

# Status codes of the parser. 0: the trailer was reached. 1-9: damage between
# frames; the reference decoder warns and keeps the frames read before it, and
# so does the graph. 10 and up: the file is refused.
_OK = 0
_STOP_NO_TRAILER = 1
_STOP_EXTENSION = 2
_STOP_UNEXPECTED_BYTE = 3
_STOP_DESCRIPTOR = 4
_STOP_PALETTE = 5
_STOP_BEFORE_DATA = 6
_STOP_INSIDE_DATA = 7
FAIL_FRAME_PIXELS = 10
FAIL_MAX_FRAMES = 11
_FAIL_HEADER = 13

# Modes of the parser's state machine.
_BLOCK, _EXTENSION_DATA, _IMAGE_DATA = 0, 1, 2
# Sub-blocks one parser step checks at once for a run of equal lengths, and
# the sub-blocks it then follows one at a time.
_RUN_CHECK = 4096
_HOPS = 3
# Extension blocks in a row after which the parser skips a run of them at once.
_EXTENSION_RUN = 8


def _u16(values: tf.Tensor) -> tf.Tensor:
    """Little-endian 16-bit numbers from int32 ``[..., 2]`` bytes."""
    return values[..., 0] + 256 * values[..., 1]


def parse_gif(
    data: tf.Tensor,
    *,
    max_frame_pixels: int,
    max_frames: int,
) -> dict[str, tf.Tensor]:
    """Reads the block structure of one GIF (a scalar ``tf.string``).

    Follows ``kavan_tf.data.gif_format.parse_gif``. Damage between frames (the file
    ends with no trailer, an extension, descriptor or palette is cut short,
    or a byte starts no block) ends the parse, and the frames read so far are
    kept, as the reference decoder and browsers do. A file cut inside a
    frame's data, and the limits, are a ``status`` the caller turns into an
    error.

    Returns:
        A dict of tensors: ``bytes`` (int32 ``[L]``), ``width``, ``height``
        (the logical screen), ``global_palette`` (int32 offset, ``-1`` when
        none), ``global_size`` (colours), ``count`` (frames), ``status``,
        ``position`` (where the parse stopped), ``cut_frame`` (the fields of
        the frame being read when it stopped), and per frame
        ``[count]``: ``left``, ``top``, ``w``, ``h``, ``interlaced``,
        ``palette`` (offset of the local palette or ``-1``), ``palette_size``,
        ``code_size``, ``data_start`` (the code-size byte), ``data_end``
        (after the block terminator), ``disposal``, ``transparent`` (``-1``
        when none).
    """
    raw = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int32)
    end = tf.size(raw)
    # Reads past the end give 0; the parser checks lengths before it trusts them.
    padded = tf.concat([raw, tf.zeros([16], tf.int32)], 0)

    def at(i):
        return padded[tf.minimum(i, end + 15)]

    screen = padded[6:13]
    width, height, flags = _u16(screen[0:2]), _u16(screen[2:4]), screen[4]
    has_global = tf.bitwise.bitwise_and(flags, 0x80) > 0
    global_size = tf.bitwise.left_shift(1, tf.bitwise.bitwise_and(flags, 7) + 1)
    global_palette = tf.where(has_global, 13, -1)
    start = 13 + tf.where(has_global, 3 * global_size, 0)

    fields = ("left", "top", "w", "h", "interlaced", "palette", "palette_size", "code_size",
              "data_start", "data_end", "disposal", "transparent")
    # One row of the fields per frame, in one array. Every step writes the row
    # of frame `count` (rewritten until the frame is complete): no conditional.
    arrays = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[len(fields)])
    last = end + 15

    def walk(q):
        """Follows a sub-block chain from the length byte at ``q``: over a run
        of equal-length sub-blocks with one gather (encoders write runs of
        255-byte sub-blocks), then ``_HOPS`` sub-blocks one at a time. Returns
        where it got: a terminator (length 0), the end of the file, or a
        sub-block to go on from in the next step."""
        size = at(q)
        stride = size + 1
        n = tf.where((q < end) & (size > 0), tf.minimum((end - q) // stride + 1, _RUN_CHECK), 0)
        starts = q + stride * tf.range(n)
        same = tf.equal(tf.gather(padded, tf.minimum(starts, last)), size) & (starts < end)
        run = tf.minimum(tf.reduce_min(tf.where(same, n, tf.range(n))), n)
        q = q + stride * run
        for _ in range(_HOPS):
            size = at(q)
            q = tf.where((q >= end) | tf.equal(size, 0), q, q + 1 + size)
        return q

    def chain_ends():
        """int32 ``[end + 1]``: for every position, where the sub-block chain
        that would start there ends (its terminator, or ``end`` where the file
        ends first), by pointer jumping: each pass doubles the sub-blocks
        every position has looked past, so a chain of any length costs
        ``log2`` passes over the file. Made once, for a chain that ``walk``
        cannot finish in one step (sub-blocks of varying lengths), so that no
        file costs one step per sub-block."""
        positions = tf.range(end + 1)
        lengths = padded[: end + 1]
        ends = tf.where((positions >= end) | tf.equal(lengths, 0), positions,
                        tf.minimum(positions + 1 + lengths, end))

        def jump(ends, _):
            further = tf.gather(ends, ends)
            return further, tf.reduce_any(tf.not_equal(further, ends))

        return tf.while_loop(lambda ends, moving: moving, jump, (ends, tf.constant(True)))[0]

    def extension_runs(ends):
        """For every position, where a run of extension blocks from there ends
        (the first block that is not a whole extension), and the last graphic
        control extension in the run (``-1`` when none), by pointer jumping
        over ``ends`` (:func:`chain_ends`): a file of many extensions costs
        ``log2`` passes, not one step per extension."""
        positions = tf.range(end + 1)
        chain = tf.gather(ends, tf.minimum(positions + 2, end))
        whole = (tf.equal(padded[: end + 1], _EXTENSION) & (positions + 2 <= end)
                 & (chain < end))
        runs = tf.where(whole, chain + 1, positions)
        control = (whole & tf.equal(padded[1 : end + 2], _GRAPHIC_CONTROL)
                   & (padded[2 : end + 3] >= 4) & (positions + 6 < end))
        controls = tf.where(control, positions, -1)

        def jump(runs, controls, _):
            later = tf.gather(controls, runs)
            further = tf.gather(runs, runs)
            return (further, tf.where(later >= 0, later, controls),
                    tf.reduce_any(tf.not_equal(further, runs)))

        runs, controls, _ = tf.while_loop(
            lambda runs, controls, moving: moving, jump, (runs, controls, tf.constant(True)))
        return runs, controls

    # State: pos, mode, count, status, the pending graphic control (disposal,
    # transparent), the frame being read (its fields but data_end), arrays,
    # the extension blocks read in a row, and the tables of chain_ends and
    # extension_runs (empty until a file needs them).
    def cond(pos, mode, count, status, disposal, transparent, frame, arrays, extensions, ends,
             runs, controls):
        return tf.equal(status, _OK) & tf.logical_not(tf.equal(mode, -1))

    def body(*state):
        pos, mode = state[:2]
        many = (tf.equal(mode, _BLOCK) & (state[8] >= _EXTENSION_RUN)
                & tf.equal(at(pos), _EXTENSION))
        return tf.cond(many, lambda: skip_extensions(*state), lambda: step(*state))

    def skip_extensions(pos, mode, count, status, disposal, transparent, frame, arrays,
                        extensions, ends, runs, controls):
        ends = tf.cond(tf.size(ends) > 0, lambda: ends, chain_ends)
        runs, controls = tf.cond(tf.size(runs) > 0, lambda: (runs, controls),
                                 lambda: extension_runs(ends))
        control = controls[pos]
        packed = at(control + 3)
        disposal = tf.where(
            control >= 0, tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed, 2), 7), disposal)
        transparent = tf.where(
            control >= 0, tf.where(tf.bitwise.bitwise_and(packed, 1) > 0, at(control + 6), -1),
            transparent)
        return (runs[pos], mode, count, status, disposal, transparent, frame, arrays,
                tf.constant(0), ends, runs, controls)

    def step(pos, mode, count, status, disposal, transparent, frame, arrays, extensions, ends,
             runs, controls):
        # One step reads the block that starts at `pos` (in _BLOCK mode) and
        # follows its sub-block chain as far as `walk` goes, or (in a data
        # mode) follows the chain it is in. Scalar selects, no conditionals.
        in_block = tf.equal(mode, _BLOCK)
        # Most frames follow a graphic control extension of the usual form
        # (21 F9 04, four bytes, 00): the step takes it and the block after it.
        ahead = tf.gather(padded, tf.minimum(pos + tf.range(18), last))
        control = (in_block & (pos + 7 < end) & tf.equal(ahead[0], _EXTENSION)
                   & tf.equal(ahead[1], _GRAPHIC_CONTROL) & tf.equal(ahead[2], 4)
                   & tf.equal(ahead[7], 0))
        disposal = tf.where(
            control, tf.bitwise.bitwise_and(tf.bitwise.right_shift(ahead[3], 2), 7), disposal)
        transparent = tf.where(
            control, tf.where(tf.bitwise.bitwise_and(ahead[3], 1) > 0, ahead[6], -1), transparent)
        pos = tf.where(control, pos + 8, pos)
        block = tf.where(control, ahead[8], ahead[0])
        after = tf.where(control, ahead[9:18], ahead[1:10])
        # An extension: a graphic control sets the next frame's disposal and transparency.
        is_extension = in_block & (pos < end) & tf.equal(block, _EXTENSION)
        is_gce = (tf.equal(after[0], _GRAPHIC_CONTROL) & (after[1] >= 4) & (pos + 2 + 4 < end))
        packed = after[2]
        gce_disposal = tf.where(
            is_gce, tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed, 2), 7), disposal)
        gce_transparent = tf.where(
            is_gce, tf.where(tf.bitwise.bitwise_and(packed, 1) > 0, after[5], -1), transparent)
        # An image descriptor.
        is_image = in_block & (pos < end) & tf.equal(block, _IMAGE)
        left, top, w, h = (_u16(after[i : i + 2]) for i in (0, 2, 4, 6))
        image_flags = after[8]
        has_local = tf.bitwise.bitwise_and(image_flags, 0x80) > 0
        local_size = tf.bitwise.left_shift(1, tf.bitwise.bitwise_and(image_flags, 7) + 1)
        data_start = pos + 10 + tf.where(has_local, 3 * local_size, 0)
        pixels = tf.cast(w, tf.int64) * tf.cast(h, tf.int64)
        image_status = tf.constant(_OK)
        for failed, code in reversed((
                (pos + 10 > end, _STOP_DESCRIPTOR),
                (pixels > max_frame_pixels, FAIL_FRAME_PIXELS),
                (count + 1 > max_frames, FAIL_MAX_FRAMES),
                (data_start > end, _STOP_PALETTE),
                (data_start >= end, _STOP_BEFORE_DATA))):
            image_status = tf.where(failed, code, image_status)
        image_frame = tf.stack([
            left, top, w, h,
            tf.cast(tf.bitwise.bitwise_and(image_flags, 0x40) > 0, tf.int32),
            tf.where(has_local, pos + 10, -1), tf.where(has_local, local_size, 0),
            at(data_start), data_start, disposal, transparent,
        ])
        # What the block says about the parse: go on (0), or stop.
        block_status = tf.where(
            pos >= end, _STOP_NO_TRAILER,
            tf.where(tf.equal(block, _TRAILER), _OK,
                     tf.where(is_extension, tf.where(pos + 2 > end, _STOP_EXTENSION, _OK),
                              tf.where(is_image, image_status, _STOP_UNEXPECTED_BYTE))))
        block_stops = in_block & (tf.not_equal(block_status, _OK) | (~is_extension & ~is_image))

        # The sub-block chain: the block's own, or the one the parse is in.
        chain_mode = tf.where(in_block, tf.where(is_image, _IMAGE_DATA, _EXTENSION_DATA), mode)
        chain_frame = tf.where(is_image, image_frame, frame)
        chain_disposal = tf.where(is_extension, gce_disposal, disposal)
        chain_transparent = tf.where(is_extension, gce_transparent, transparent)
        q = walk(tf.where(in_block, tf.where(is_image, data_start + 1, pos + 2), pos))
        stuck = ~block_stops & (q < end) & tf.not_equal(at(q), 0)

        def jump_to_the_end(q, ends):
            ends = tf.cond(tf.size(ends) > 0, lambda: ends, chain_ends)
            return ends[q], ends

        q, ends = tf.cond(stuck, lambda: jump_to_the_end(q, ends), lambda: (q, ends))
        cut = q >= end
        done = tf.logical_not(cut) & tf.equal(at(q), 0)
        in_image = tf.equal(chain_mode, _IMAGE_DATA)
        finished = done & in_image
        # An image whose data has no byte at all is "truncated before the
        # data" (frames kept); one cut inside its data is kept with the data
        # it has, as the reference decoder keeps it.
        has_bytes = end > chain_frame[8] + 2
        cut_status = tf.where(
            in_image, tf.where(has_bytes, _STOP_INSIDE_DATA, _STOP_BEFORE_DATA), _STOP_EXTENSION)
        kept = (finished | (cut & in_image & has_bytes)) & ~block_stops
        values = tf.unstack(chain_frame)
        arrays = arrays.write(count, tf.stack(values[:9] + [q + 1] + values[9:11]))

        # A block that stops the parse leaves `pos` where the reference
        # reports it: at the block, or past what was read of it.
        stop_pos = tf.where(is_extension, pos + 2, tf.where(is_image, data_start + 1, pos))
        return (
            tf.where(block_stops, stop_pos, tf.where(done, q + 1, q)),
            tf.where(block_stops, -1, tf.where(done, _BLOCK, chain_mode)),
            count + tf.cast(kept, tf.int32),
            tf.where(block_stops, block_status, tf.where(cut, cut_status, _OK)),
            tf.where(finished, 0, chain_disposal),
            tf.where(finished, -1, chain_transparent),
            chain_frame,
            arrays,
            tf.where(in_block, tf.where(is_extension & ~block_stops, extensions + 1, 0),
                     extensions),
            ends,
            runs,
            controls,
        )

    initial = (
        start,
        tf.constant(_BLOCK),
        tf.constant(0),
        tf.where(end < 13, _FAIL_HEADER, _OK),
        tf.constant(0),
        tf.constant(-1),
        tf.zeros([11], tf.int32),
        arrays,
        tf.constant(0),
        tf.zeros([0], tf.int32),
        tf.zeros([0], tf.int32),
        tf.zeros([0], tf.int32),
    )
    scalar, table = tf.TensorShape([]), tf.TensorShape([None])
    pos, mode, count, status, _, _, frame, arrays, *_ = tf.while_loop(
        cond, body, initial, parallel_iterations=1,
        shape_invariants=(scalar,) * 6 + (tf.TensorShape([11]), scalar, scalar) + (table,) * 3,
    )
    table = arrays.stack()[:count]
    result = {name: table[:, j] for j, name in enumerate(fields)}
    result.update(
        bytes=raw,
        width=width,
        height=height,
        global_palette=global_palette,
        global_size=tf.where(has_global, global_size, 0),
        count=count,
        status=status,
        position=pos,
        cut_frame=frame,
    )
    return result

def stop_reason(parsed: dict[str, tf.Tensor]) -> tf.Tensor:
    """The reference decoder's warning for the damage that ended the parse."""
    count, pos = parsed["count"], parsed["position"]
    hex_digits = tf.constant([f"{i:02x}" for i in range(256)])
    byte = tf.gather(hex_digits, parsed["bytes"][tf.minimum(pos, tf.size(parsed["bytes"]) - 1)])
    reasons = tf.stack([
        tf.constant(""),
        tf.strings.format("file is truncated after {} frame(s) (no trailer)", count),
        tf.constant("file is truncated inside an extension"),
        tf.strings.format(
            "unexpected byte 0x{} at offset {} where a block should start; decoding stops "
            "after {} frame(s)", (byte, pos, count)),
        tf.constant("file is truncated inside an image descriptor"),
        tf.strings.format("file ends inside the palette of frame {}", count),
        tf.strings.format("file is truncated before the data of frame {}", count),
        tf.strings.format("file is truncated inside the data of frame {}", count - 1),
    ])
    return reasons[tf.minimum(parsed["status"], 7)]
