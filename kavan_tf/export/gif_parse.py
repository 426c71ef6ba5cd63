"""Step 1 of the in-graph GIF decoder: the block structure of one file.

:func:`parse_gif` walks the blocks of a GIF with stock TensorFlow ops and
returns each frame's rectangle, palette, LZW data span, disposal and
transparency, and a status saying how the parse ended (see
:mod:`kavan_tf.export.gif_graph` for the steps after it). It follows the
reference parser, ``kavan_tf.data.gif_format.parse_gif``, and
:func:`stop_reason` gives its warning for the damage that ended a parse.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from kavan_tf.data.gif_format import (
    EXTENSION,
    GRAPHIC_CONTROL,
    IMAGE,
    IMAGE_DESCRIPTOR_SIZE,
    SCREEN_DESCRIPTOR_END,
    TRAILER,
)
from kavan_tf.export.gif_chains import chain_ends, extension_runs, walk

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
_STOP_INSIDE_EXTENSION = 8
FAIL_FRAME_PIXELS = 10
FAIL_MAX_FRAMES = 11
_FAIL_HEADER = 13

# Extension blocks in a row after which the parser skips a run of them at once.
_EXTENSION_RUN = 8
# The fields of a frame, one row per frame.
_FIELDS = ("left", "top", "w", "h", "interlaced", "palette", "palette_size", "code_size",
           "data_start", "data_end", "disposal", "transparent")


class _State(NamedTuple):
    """The parse between two steps of its loop."""

    pos: tf.Tensor  # where the next block starts, or the block that ended the parse
    status: tf.Tensor  # _OK while the parse goes on
    ended: tf.Tensor  # a block (the trailer, or damage) ended the parse
    count: tf.Tensor  # frames read
    disposal: tf.Tensor  # of the next frame, from its graphic control extension
    transparent: tf.Tensor  # of the next frame, -1 when none
    frame: tf.Tensor  # int32 [11]: the fields but data_end of the last image block read
    frames: tf.TensorArray  # the fields of each frame, a row each
    extensions: tf.Tensor  # extension blocks read in a row
    ends: tf.Tensor  # the table of chain_ends, empty until the file needs it
    runs: tf.Tensor  # the tables of extension_runs, empty until the file needs them
    controls: tf.Tensor


def _u16(values: tf.Tensor) -> tf.Tensor:
    """Little-endian 16-bit numbers from int32 ``[..., 2]`` bytes."""
    return values[..., 0] + 256 * values[..., 1]


def _palette(flags: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Whether a screen or image descriptor's packed ``flags`` announce a
    palette, and its colours."""
    return (tf.bitwise.bitwise_and(flags, 0x80) > 0,
            tf.bitwise.left_shift(1, tf.bitwise.bitwise_and(flags, 7) + 1))


def _graphic_control(taken: tf.Tensor, packed: tf.Tensor, index: tf.Tensor,
                     disposal: tf.Tensor, transparent: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The next frame's disposal method and transparent index (``-1``: none)
    after a graphic control extension with the ``packed`` fields and the
    transparent ``index`` where ``taken``; ``disposal`` and ``transparent``
    elsewhere."""
    return (tf.where(taken, tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed, 2), 7),
                     disposal),
            tf.where(taken, tf.where(tf.bitwise.bitwise_and(packed, 1) > 0, index, -1),
                     transparent))


class _Parser:
    """One file's bytes and the limits, with a method per block type that
    says what the block does to the parse.

    A step reads the block at ``pos`` and its whole sub-block chain. Each
    handler is a few scalar ops on the block's first bytes: the step runs
    them all and selects by the block's label rather than branching on it.
    """

    def __init__(self, raw: tf.Tensor, max_frame_pixels: int, max_frames: int):
        self.end = tf.size(raw)
        # Reads past the end give 0; the parser checks lengths before it trusts them.
        self.bytes = tf.concat([raw, tf.zeros([16], tf.int32)], 0)
        self.last = self.end + 15
        self.max_frame_pixels, self.max_frames = max_frame_pixels, max_frames

    def at(self, i: tf.Tensor) -> tf.Tensor:
        return self.bytes[tf.minimum(i, self.last)]

    def chain_table(self, ends: tf.Tensor) -> tf.Tensor:
        """``ends``, the table of :func:`~kavan_tf.export.gif_chains.chain_ends`,
        made now if the file has not needed it before (``ends`` empty)."""
        return tf.cond(tf.size(ends) > 0, lambda: ends,
                       lambda: chain_ends(self.bytes, self.end))

    def step(self, s: _State) -> _State:
        """The loop body: a run of extension blocks at once after
        ``_EXTENSION_RUN`` of them in a row, one block otherwise."""
        many = (s.extensions >= _EXTENSION_RUN) & tf.equal(self.at(s.pos), EXTENSION)
        return tf.cond(many, lambda: self.extension_run(s), lambda: self.block(s))

    def block(self, s: _State) -> _State:
        """The block at ``s.pos`` and its sub-block chain (an extension's, or
        an image's LZW data), followed to its terminator or the end of the
        file."""
        ahead = tf.gather(self.bytes, tf.minimum(s.pos + tf.range(18), self.last))
        pos, label, after, disposal, transparent = self.usual_control(s, ahead)
        is_extension = (pos < self.end) & tf.equal(label, EXTENSION)
        is_image = (pos < self.end) & tf.equal(label, IMAGE)
        extension_status, extension_disposal, extension_transparent = self.extension(
            pos, after, disposal, transparent)
        image, data_start, image_status = self.image_descriptor(
            pos, after, s.count, disposal, transparent)
        status = tf.where(is_extension, extension_status,
                          tf.where(is_image, image_status, self.other_block(pos, label)))
        stops = tf.not_equal(status, _OK) | ~(is_extension | is_image)
        frame = tf.where(is_image, image, s.frame)
        disposal = tf.where(is_extension, extension_disposal, disposal)
        transparent = tf.where(is_extension, extension_transparent, transparent)

        q, ends = self.sub_blocks(tf.where(is_image, data_start + 1, pos + 2), s.ends, ~stops)
        cut = q >= self.end
        finished = ~cut & tf.equal(self.at(q), 0) & is_image
        # An image whose data has no byte at all is "truncated before the
        # data" (frames kept); one cut inside its data is kept with the data
        # it has, as the reference decoder keeps it.
        has_bytes = self.end > data_start + 2
        cut_status = tf.where(is_image, tf.where(has_bytes, _STOP_INSIDE_DATA, _STOP_BEFORE_DATA),
                              _STOP_INSIDE_EXTENSION)
        kept = (finished | (cut & is_image & has_bytes)) & ~stops
        values = tf.unstack(frame)
        return _State(
            pos=tf.where(stops | cut, pos, q + 1),
            status=tf.where(stops, status, tf.where(cut, cut_status, _OK)),
            ended=stops,
            count=s.count + tf.cast(kept, tf.int32),
            disposal=tf.where(finished, 0, disposal),
            transparent=tf.where(finished, -1, transparent),
            frame=frame,
            frames=s.frames.write(s.count, tf.stack(values[:9] + [q + 1] + values[9:])),
            extensions=tf.where(is_extension & ~stops, s.extensions + 1, 0),
            ends=ends, runs=s.runs, controls=s.controls,
        )

    def usual_control(self, s: _State, ahead: tf.Tensor):
        """A graphic control extension of the usual form (21 F9 04, four
        bytes, 00) at ``s.pos`` (``ahead``: the bytes from there), taken
        together with the block after it, so that most frames cost one step.

        Returns:
            ``(pos, label, after, disposal, transparent)``: the position and
            first byte of the block to read, the 9 bytes after that, and the
            next frame's disposal and transparency.
        """
        usual = ((s.pos + 7 < self.end) & tf.equal(ahead[0], EXTENSION)
                 & tf.equal(ahead[1], GRAPHIC_CONTROL) & tf.equal(ahead[2], 4)
                 & tf.equal(ahead[7], 0))
        disposal, transparent = _graphic_control(usual, ahead[3], ahead[6], s.disposal,
                                                 s.transparent)
        return (tf.where(usual, s.pos + 8, s.pos), tf.where(usual, ahead[8], ahead[0]),
                tf.where(usual, ahead[9:18], ahead[1:10]), disposal, transparent)

    def extension(self, pos, after, disposal, transparent):
        """An extension block at ``pos`` (``after``: its label and the bytes
        after it): a graphic control extension sets the next frame's disposal
        and transparency. Returns the status (the file ends before the label
        is whole), the disposal and the transparency."""
        control = (tf.equal(after[0], GRAPHIC_CONTROL) & (after[1] >= 4)
                   & (pos + 2 + 4 < self.end))
        disposal, transparent = _graphic_control(control, after[2], after[5], disposal,
                                                 transparent)
        return tf.where(pos + 2 > self.end, _STOP_EXTENSION, _OK), disposal, transparent

    def image_descriptor(self, pos, after, count, disposal, transparent):
        """An image descriptor at ``pos`` (``after``: the 9 bytes after its
        separator), frame ``count``.

        Returns:
            ``(frame, data_start, status)``: the frame's fields but
            ``data_end``, the position of its LZW code-size byte, and the
            first of the reference decoder's checks it fails, in its order.
        """
        left, top, w, h = (_u16(after[i : i + 2]) for i in (0, 2, 4, 6))
        flags = after[8]
        has_local, local_size = _palette(flags)
        data_start = pos + IMAGE_DESCRIPTOR_SIZE + tf.where(has_local, 3 * local_size, 0)
        pixels = tf.cast(w, tf.int64) * tf.cast(h, tf.int64)
        status = tf.constant(_OK)
        for failed, code in reversed((
                (pos + IMAGE_DESCRIPTOR_SIZE > self.end, _STOP_DESCRIPTOR),
                (pixels > self.max_frame_pixels, FAIL_FRAME_PIXELS),
                (count + 1 > self.max_frames, FAIL_MAX_FRAMES),
                (data_start > self.end, _STOP_PALETTE),
                (data_start >= self.end, _STOP_BEFORE_DATA))):
            status = tf.where(failed, code, status)
        frame = tf.stack([
            left, top, w, h,
            tf.cast(tf.bitwise.bitwise_and(flags, 0x40) > 0, tf.int32),
            tf.where(has_local, pos + IMAGE_DESCRIPTOR_SIZE, -1),
            tf.where(has_local, local_size, 0),
            self.at(data_start), data_start, disposal, transparent,
        ])
        return frame, data_start, status

    def other_block(self, pos, label):
        """Any other block: the trailer ends the parse (``_OK``); the end of
        the file, or a byte that starts no block, stops it."""
        return tf.where(pos >= self.end, _STOP_NO_TRAILER,
                        tf.where(tf.equal(label, TRAILER), _OK, _STOP_UNEXPECTED_BYTE))

    def extension_run(self, s: _State) -> _State:
        """The run of whole extension blocks at ``s.pos`` in one step, and the
        last graphic control extension in it (the tables of
        :func:`~kavan_tf.export.gif_chains.extension_runs`, made the first
        time a file needs them)."""
        ends = self.chain_table(s.ends)
        runs, controls = tf.cond(tf.size(s.runs) > 0, lambda: (s.runs, s.controls),
                                 lambda: extension_runs(self.bytes, self.end, ends))
        control = controls[s.pos]
        disposal, transparent = _graphic_control(
            control >= 0, self.at(control + 3), self.at(control + 6), s.disposal,
            s.transparent)
        return s._replace(pos=runs[s.pos], disposal=disposal, transparent=transparent,
                          extensions=tf.constant(0), ends=ends, runs=runs, controls=controls)

    def sub_blocks(self, q, ends, go):
        """Follows the sub-block chain from the length byte at ``q`` (where
        ``go``) to its terminator or the end of the file: ``walk``, then for
        a chain it leaves unfinished (sub-blocks of varying lengths) the
        table of :meth:`chain_table`. Returns where it got, and the table."""
        q = walk(self.bytes, self.end, q)
        stuck = go & (q < self.end) & tf.not_equal(self.at(q), 0)

        def jump_to_the_end():
            table = self.chain_table(ends)
            return table[q], table

        return tf.cond(stuck, jump_to_the_end, lambda: (q, ends))


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
        ``position`` (where the block that ended the parse starts),
        ``cut_frame`` (the fields of the last frame read), and per frame
        ``[count]``: ``left``, ``top``, ``w``, ``h``, ``interlaced``,
        ``palette`` (offset of the local palette or ``-1``), ``palette_size``,
        ``code_size``, ``data_start`` (the code-size byte), ``data_end``
        (after the block terminator), ``disposal``, ``transparent`` (``-1``
        when none).
    """
    raw = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int32)
    parser = _Parser(raw, max_frame_pixels, max_frames)
    screen = parser.bytes[6:SCREEN_DESCRIPTOR_END]
    width, height = _u16(screen[0:2]), _u16(screen[2:4])
    has_global, global_size = _palette(screen[4])

    scalar, table = tf.TensorShape([]), tf.TensorShape([None])
    state = _State(
        pos=SCREEN_DESCRIPTOR_END + tf.where(has_global, 3 * global_size, 0),
        status=tf.where(parser.end < SCREEN_DESCRIPTOR_END, _FAIL_HEADER, _OK),
        ended=tf.constant(False),
        count=tf.constant(0),
        disposal=tf.constant(0),
        transparent=tf.constant(-1),
        frame=tf.zeros([len(_FIELDS) - 1], tf.int32),
        frames=tf.TensorArray(tf.int32, size=0, dynamic_size=True,
                              element_shape=[len(_FIELDS)]),
        extensions=tf.constant(0),
        ends=tf.zeros([0], tf.int32),
        runs=tf.zeros([0], tf.int32),
        controls=tf.zeros([0], tf.int32),
    )
    invariants = _State(*(scalar,) * 6, tf.TensorShape([len(_FIELDS) - 1]), scalar, scalar,
                        table, table, table)
    (state,) = tf.while_loop(
        lambda s: tf.equal(s.status, _OK) & ~s.ended, lambda s: (parser.step(s),), (state,),
        parallel_iterations=1, shape_invariants=(invariants,))
    rows = state.frames.stack()[: state.count]
    result = {name: rows[:, j] for j, name in enumerate(_FIELDS)}
    result.update(
        bytes=raw,
        width=width,
        height=height,
        global_palette=tf.where(has_global, SCREEN_DESCRIPTOR_END, -1),
        global_size=tf.where(has_global, global_size, 0),
        count=state.count,
        status=state.status,
        position=state.pos,
        cut_frame=state.frame,
    )
    return result


def stop_reason(parsed: dict[str, tf.Tensor]) -> tf.Tensor:
    """The reference decoder's warning, word for word, for the damage that
    ended the parse (``kavan_tf.data.gif_format.parse_gif``); empty when the
    trailer ended it, or a limit."""
    count, pos, raw = parsed["count"], parsed["position"], parsed["bytes"]
    digits = tf.constant(list("0123456789abcdef"))

    def hex_byte(i):
        value = raw[tf.clip_by_value(i, 0, tf.size(raw) - 1)]
        return tf.strings.join([digits[value // 16], digits[value % 16]])

    frames = tf.strings.as_string(count)
    reasons = {
        _STOP_NO_TRAILER: ["file is truncated after ", frames, " frame(s) (no trailer)"],
        _STOP_EXTENSION: ["file is truncated inside an extension"],
        _STOP_UNEXPECTED_BYTE: [
            "unexpected byte 0x", hex_byte(pos), " at offset ", tf.strings.as_string(pos),
            " where a block should start; decoding stops after ", frames, " frame(s)"],
        _STOP_DESCRIPTOR: ["file is truncated inside an image descriptor"],
        _STOP_PALETTE: ["file ends inside the palette of frame ", frames],
        _STOP_BEFORE_DATA: ["file is truncated before the data of frame ", frames],
        _STOP_INSIDE_DATA: ["file is truncated inside the data of frame ",
                            tf.strings.as_string(count - 1)],
        _STOP_INSIDE_EXTENSION: ["file is truncated inside extension 0x", hex_byte(pos + 1)],
    }
    texts = tf.stack([tf.strings.join(reasons.get(status, [""]))
                      for status in range(FAIL_FRAME_PIXELS)])
    status = parsed["status"]
    return texts[tf.where(status < FAIL_FRAME_PIXELS, status, _OK)]
