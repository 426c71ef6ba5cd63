"""GIF LZW codes read, and decompressed, in TensorFlow graph ops, as
:func:`kavan_tf.data.lzw.lzw_decode` does.

``tf.io.decode_gif`` (giflib) decompresses a frame as the reference decoder
does only when its LZW stream is sound: a code that names an entry not made
yet gives garbage pixels, and data that ends before the frame is full an
error. The reference decoder, like browsers, draws what came before such a
fault and leaves the rest of the frame undrawn. So the serving graph reads
each frame's codes with this module first (:func:`read_codes`,
:func:`is_sound`), hands sound streams to giflib (one that ends early with
its end code turned into padding, :func:`padded_sub_blocks`), and
decompresses the others with :func:`decode_codes`, the reference decoder's
algorithm in tensor ops:

1. **Sub-blocks** (:func:`sub_block_data`): a run of 255-byte sub-blocks
   is cut out with a reshape; any other chain's length bytes are marked by
   pointer jumping (``log2`` passes over its data).
2. **Codes**: a ``tf.while_loop`` reads the bit stream one dictionary segment
   (the codes between two clear codes) per step with one gather, from the
   code-width schedule; runs of short segments (clear-code floods) are read
   many at a time at the first code width, all the segments as long as the
   one before (encoders reset a full dictionary) in one gather, and segments
   of a few codes several to a step.
3. **Dictionary**: code ``j`` of a segment makes entry ``j``; pointer jumping
   over the prefix links gives every entry's length.
4. **Pixels**: every output pixel of an entry's code copies the pixel where
   that entry's string first appeared; pointer jumping over those copies
   gives every pixel its literal.

Work is bounded by the input: the loop stops once it has read as many codes
as the frame has pixels (every code gives at least one pixel, so later codes
cannot change the frame), and after
:func:`~kavan_tf.data.lzw.max_long_segments` segments of more than
``clear - 2`` codes, as the reference decoder does.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kavan_tf.data.lzw import FIRST_BATCH as _FIRST_BATCH
from kavan_tf.data.lzw import MAX_BATCH as _MAX_BATCH
from kavan_tf.data.lzw import MAX_CODES as _MAX_CODES
from kavan_tf.data.lzw import SCHEDULE as _SCHEDULE
from kavan_tf.data.lzw import code_widths, max_long_segments

# Segments of a few codes read in the same step after one, and the codes each may hold.
_TAIL = 8
_WINDOW = 64


def sub_block_data(raw: tf.Tensor, first: tf.Tensor, stop: tf.Tensor) -> tf.Tensor:
    """int32 bytes of the sub-block chain whose first length byte is at ``first``,
    up to ``stop`` (after its terminator, or the end of a truncated file),
    without the length bytes."""
    span = raw[first:stop]
    n = tf.size(span)
    # What encoders write: 255-byte sub-blocks, a shorter one, the terminator.
    blocks = n // 256
    last = 256 * blocks
    size = tf.concat([span, [-1]], 0)[last]
    regular = (tf.reduce_all(tf.equal(span[:last:256], 255)) & (last < n)
               & ((tf.equal(size, 0) & tf.equal(last, n - 1))
                  | ((size > 0) & tf.equal(last + 1 + size, n - 1)
                     & tf.equal(span[tf.maximum(n - 1, 0)], 0))))
    return tf.cond(regular, lambda: tf.concat([
        tf.reshape(tf.reshape(span[:last], [blocks, 256])[:, 1:], [-1]),
        span[last + 1 : last + 1 + tf.maximum(size, 0)]], 0), lambda: _chain_data(span))


def _chain_data(span: tf.Tensor) -> tf.Tensor:
    """:func:`sub_block_data` of any chain: the length bytes are marked by
    pointer jumping."""
    n = tf.size(span)
    nxt = tf.concat([tf.minimum(tf.range(n) + 1 + span, n), [n]], 0)
    reach = tf.concat([[True], tf.zeros([n], tf.bool)], 0)

    def body(reach, jump, _):
        # After pass k, reach holds the first 2^(k+1) length bytes of the chain.
        moved = tf.math.unsorted_segment_max(tf.cast(reach, tf.int32), jump, n + 1) > 0
        grown = reach | moved
        return grown, tf.gather(jump, jump), tf.reduce_any(tf.not_equal(grown, reach))

    reach, _, _ = tf.while_loop(lambda r, j, moving: moving, body,
                                (reach, nxt, tf.constant(True)))
    return tf.boolean_mask(span, tf.logical_not(reach[:n]))


def _schedules() -> tuple[np.ndarray, np.ndarray]:
    """Bit offsets and widths of codes ``0 .. _MAX_CODES`` of a segment, for each
    minimum code size 0-11 (rows; row 0 unused): the reference decoder's
    :func:`~kavan_tf.data.lzw.code_widths`."""
    offsets = np.zeros((12, _MAX_CODES + 1), np.int64)
    widths = np.zeros((12, _MAX_CODES + 1), np.int32)
    for size in range(1, 12):
        widths[size] = code_widths(size, _MAX_CODES + 1)
        offsets[size] = np.cumsum(widths[size]) - widths[size]
    return offsets, widths


_OFFSETS, _WIDTHS = _schedules()


def _schedule(code_size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """int64 ``[_MAX_CODES + 1]`` bit offsets and int32 widths of codes
    ``0 .. _MAX_CODES`` of a segment (later codes are 12 bits wide)."""
    return tf.gather(tf.constant(_OFFSETS), code_size), tf.gather(tf.constant(_WIDTHS), code_size)


def _words(data: tf.Tensor, pad: int = 3) -> tf.Tensor:
    """words[i]: bytes i, i + 1, i + 2 of ``data`` (then ``pad`` zero bytes) as one
    number: a code of up to 12 bits at any bit offset is one gather, one
    shift and one mask."""
    padded = tf.concat([data, tf.zeros([pad], tf.int32)], 0)
    return padded[:-2] + 256 * padded[1:-1] + 65536 * padded[2:]


def _word_reader(data: tf.Tensor):
    """``(read, nbits)``: ``read(bits, width)`` gives the codes of ``width``
    bits at bit offsets ``bits`` (int64) of ``data`` (int32 bytes), LSB first;
    ``nbits`` is the data's length in bits."""
    words = _words(data)

    def read(bits, width):
        word = tf.gather(words, tf.bitwise.right_shift(bits, 3))
        return tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(word, tf.cast(tf.bitwise.bitwise_and(bits, 7), tf.int32)),
            tf.bitwise.left_shift(1, width) - 1)

    return read, 8 * tf.cast(tf.size(data), tf.int64)


def _offset_of(offsets: tf.Tensor, j: tf.Tensor) -> tf.Tensor:
    """Bit offset of code ``j`` of a segment (codes past ``_MAX_CODES`` are 12 bits)."""
    return (tf.gather(offsets, tf.minimum(j, _MAX_CODES))
            + 12 * tf.cast(tf.maximum(j - _MAX_CODES, 0), tf.int64))


def _probe_tables() -> np.ndarray:
    """int32 ``[3, 12, _SCHEDULE + 1]``: for each minimum code size (rows; row 0
    unused), the bit offset of code ``j`` of a segment, the mask of its width,
    and the largest code it may be (``j + clear + 1``: an entry made already)."""
    tables = np.zeros((3, 12, _SCHEDULE + 1), np.int64)
    for size in range(1, 12):
        widths = code_widths(size, _SCHEDULE + 1)
        tables[0, size] = np.cumsum(widths) - widths
        tables[1, size] = (1 << widths) - 1
        tables[2, size] = np.arange(_SCHEDULE + 1) + (1 << size) + 1
    return tables.astype(np.int32)


_PROBE_TABLES = _probe_tables()
# Zero bytes after the data: a segment read past its end gives codes 0 there.
_PROBE_PAD = 12 * _SCHEDULE // 8 + 8


def probe_codes(data: tf.Tensor, code_size: tf.Tensor, max_pixels: tf.Tensor):
    """Reads a stream laid out as encoders write it, in two gathers and no loop.

    Encoders start with a clear code (or not), reset the dictionary with a
    clear code whenever it is full, so every segment but the last has the
    same number of codes, and end the last with the end code. This reads the
    first segment from the code-width schedule, then all segments as long
    as it as the rows of one ``[segments, codes]`` gather, and checks that
    the stream has that layout (and a bounded number of segments), so that it
    gives what :func:`read_codes` gives. Reads past the data give codes 0,
    which are neither clear nor end codes: a stream that runs out has no
    such layout.

    Returns:
        ``(regular, sound, full, end_bit, end_width, clears)``: whether the
        stream has that layout; if it does, whether no code names an entry
        not made yet (:func:`is_sound`), whether it holds ``max_pixels``
        codes, the bit where its end code starts and its width, and the clear
        codes read.
    """
    nbytes = tf.size(data)
    words = _words(data, _PROBE_PAD)
    # Bit offsets in int32: longer data goes to read_codes (not regular).
    nbits = 8 * tf.minimum(nbytes, 2**27)
    offsets, masks, limits = tf.unstack(tf.gather(tf.constant(_PROBE_TABLES), code_size, axis=1))

    def read(bits, mask):
        word = tf.gather(words, tf.bitwise.right_shift(bits, 3))
        return tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(word, tf.bitwise.bitwise_and(bits, 7)), mask)

    clear = tf.bitwise.left_shift(1, code_size)
    end_code = clear + 1
    first_width = code_size + 1
    leading = tf.equal(read(tf.constant(0), masks[0]), clear) & (first_width <= nbits)
    start = tf.where(leading, first_width, 0)
    # The first segment: its first clear or end code, within _SCHEDULE codes
    # (and within the data: a small frame reads a few).
    first = tf.minimum(_SCHEDULE, (nbits - start) // first_width + 1)
    codes = read(start + offsets[:first], masks[:first])
    special = tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
    n = tf.reduce_min(tf.concat([tf.cast(tf.where(special)[:, 0], tf.int32), [first]], 0))
    found = n < first
    n = tf.minimum(n, first - 1)
    ends_first = found & tf.equal(codes[n], end_code)
    # Every segment as long as the first (a row each, its clear code last),
    # and one row more: the last segment, ended by the end code.
    stride = offsets[n + 1]
    long_limit = max_long_segments(max_pixels)
    rows = tf.where(ends_first, 1, tf.minimum(
        (nbits - start) // stride + 1,
        tf.minimum(long_limit + 2, max_pixels // tf.maximum(n, 1) + 2)))
    rows = tf.maximum(rows, 1)
    cols = n + 1
    bits = (start + stride * tf.range(rows))[:, None] + offsets[None, :cols]
    codes = read(bits, tf.tile(masks[None, :cols], [rows, 1]))
    special = tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
    # A segment as long as the first: one special code, the clear code last.
    whole = (tf.equal(tf.reduce_sum(tf.cast(special, tf.int32), axis=1), 1)
             & tf.equal(codes[:, n], clear))
    segments = tf.reduce_min(tf.concat(
        [tf.cast(tf.where(tf.logical_not(whole))[:, 0], tf.int32), [rows]], 0))
    last = tf.minimum(segments, rows - 1)
    t = tf.reduce_min(tf.concat([tf.cast(tf.where(special[last])[:, 0], tf.int32), [n]], 0))
    end_bit, end_width = bits[last, t], offsets[t + 1] - offsets[t]
    # (The end code lies in the data: reads past it give no end code whole.)
    regular = (found & (segments < rows) & tf.equal(codes[last, t], end_code)
               & (end_bit + end_width <= nbits) & (nbytes < 2**27)
               & ((n > 0) | ends_first)
               & (tf.where(n > clear - 2, segments, 0) <= long_limit))
    # No code names an entry not made yet (the clear codes never do).
    bad = tf.reduce_any(codes > tf.tile(limits[None, :cols], [rows, 1]), axis=1)
    sound = (tf.logical_not(tf.reduce_any(bad[:segments]))
             & tf.reduce_all(codes[last, :t] <= limits[:t]))
    return (regular, sound, segments * n + t >= max_pixels, tf.cast(end_bit, tf.int64),
            end_width, tf.cast(leading, tf.int32) + segments)


def read_codes(data: tf.Tensor, code_size: tf.Tensor, max_pixels: tf.Tensor):
    """The codes of the non-empty segments, as the reference's ``_read_codes``.

    Returns:
        ``(codes, j, full, end_bit, end_width, clears)``: int32 ``[K]`` codes (clear and end
        codes removed) and each code's index in its segment, at most
        ``max_pixels`` of them; whether ``max_pixels`` codes were read (so the
        frame is full); and the bit where the end code that ended the stream
        starts (``-1`` when none did: the data ran out or the bound was met)
        and its width; and the clear codes read.
    """
    read, nbits = _word_reader(data)
    clear = tf.bitwise.left_shift(1, code_size)
    end_code = clear + 1
    first_width = code_size + 1
    short = clear - 2
    offsets, widths = _schedule(code_size)
    long_limit = max_long_segments(max_pixels)

    def offset_of(j):
        return _offset_of(offsets, j)

    def fast(pos, j0, after_long, done, read_count, longs, batch, codes_ta, js_ta, k, spec,
             end_bit, end_width, clears):
        count = tf.cast(tf.minimum(tf.cast(batch, tf.int64),
                                   (nbits - pos) // tf.cast(first_width, tf.int64)), tf.int32)
        count = tf.maximum(count, 0)
        r = tf.range(count)
        bits = pos + tf.cast(first_width, tf.int64) * tf.cast(r, tf.int64)
        codes = read(bits, first_width)
        special = tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
        where = tf.cast(tf.where(special)[:, 0], tf.int32)
        nspecial = tf.size(where)
        gaps = where - tf.concat([[-1], where[:-1]], 0) - 1
        idx = tf.range(nspecial)
        usable = tf.reduce_min(tf.concat([tf.boolean_mask(idx, gaps > short), [nspecial]], 0))
        ends_at = tf.boolean_mask(idx, tf.equal(tf.gather(codes, where), end_code) & (idx < usable))
        usable = tf.reduce_min(tf.concat([ends_at + 1, [usable]], 0))
        last = tf.gather(tf.concat([[0], where], 0), usable)
        segment = tf.cumsum(tf.cast(special, tf.int32), exclusive=True)
        j = r - tf.gather(tf.concat([[0], where + 1], 0), segment)
        keep = tf.logical_not(special) & (r < last)
        ended = (usable > 0) & tf.equal(tf.gather(tf.concat([codes, [0]], 0), last), end_code)
        progress = usable > 0
        keep = keep & progress
        codes_ta = codes_ta.write(k, tf.boolean_mask(codes, keep))
        js_ta = js_ta.write(k, tf.boolean_mask(j, keep))
        new_pos = tf.where(progress, pos + tf.cast(first_width, tf.int64)
                           * tf.cast(last + 1, tf.int64), pos)
        # A long segment comes next when the batch shows one after the last
        # short segment taken (or no short segment could be taken).
        long_next = tf.logical_not(progress) | (usable < nspecial)
        return (new_pos, j0, long_next, done | ended | tf.equal(count, 0),
                read_count + tf.reduce_sum(tf.cast(keep, tf.int32)), longs,
                tf.where(progress, tf.minimum(2 * batch, _MAX_BATCH), batch),
                codes_ta, js_ta, k + 1, spec,
                tf.where(ended, pos + tf.cast(first_width, tf.int64) * tf.cast(last, tf.int64),
                         end_bit),
                tf.where(ended, first_width, end_width),
                clears + tf.where(progress, usable, 0))

    def scheduled(pos, j0, after_long, done, read_count, longs, batch, codes_ta, js_ta, k,
                  spec, end_bit, end_width, clears):
        jj = j0 + tf.range(_SCHEDULE)
        bits = pos + offset_of(jj) - offset_of(j0)
        width = tf.gather(widths, tf.minimum(jj, _MAX_CODES))
        fits = bits + tf.cast(width, tf.int64) <= nbits
        nfit = tf.reduce_sum(tf.cast(fits, tf.int32))
        codes = read(tf.where(fits, bits, 0), width)
        special = fits & tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
        at = tf.reduce_min(tf.concat([tf.cast(tf.where(special)[:, 0], tf.int32), [_SCHEDULE]], 0))
        found = at < _SCHEDULE
        taken = tf.minimum(at, nfit)
        special_code = tf.gather(tf.concat([codes, [0]], 0), at)
        cleared = found & tf.equal(special_code, clear)
        ended = found & tf.logical_not(cleared)
        is_long = cleared & (j0 + at > short)
        whole = tf.logical_not(found) & tf.equal(nfit, _SCHEDULE)
        after = tf.gather(tf.concat([bits + tf.cast(width, tf.int64), [0]], 0),
                          tf.where(found, at, _SCHEDULE - 1))
        longs = longs + tf.cast(is_long, tf.int32)
        clears = clears + tf.cast(cleared, tf.int32)
        end_bit = tf.where(ended, tf.gather(tf.concat([bits, [0]], 0), at), end_bit)
        end_width = tf.where(ended, tf.gather(tf.concat([width, [0]], 0), at), end_width)
        codes_ta = codes_ta.write(k, codes[:taken])
        js_ta = js_ta.write(k, jj[:taken])
        # After a segment of a few codes, more such (hostile files hold
        # many): up to _TAIL more in this step, each read in a window of
        # _WINDOW codes, until one does not end within its window.
        window_j = tf.range(_WINDOW)
        window_offsets = offsets[:_WINDOW]
        window_widths = widths[:_WINDOW]

        def tail(u, active, stalled, finished, position, last, longs, clears, taken, end_bit,
                 end_width, codes_ta, js_ta, k):
            wbits = position + window_offsets
            wfits = wbits + tf.cast(window_widths, tf.int64) <= nbits
            wcodes = read(tf.where(wfits, wbits, 0), window_widths)
            wspecial = wfits & tf.equal(tf.bitwise.bitwise_or(wcodes, 1), end_code)
            wat = tf.reduce_min(tf.concat(
                [tf.cast(tf.where(wspecial)[:, 0], tf.int32), [_WINDOW]], 0))
            got = wat < _WINDOW
            size = tf.where(got, wat, 0)
            codes_ta = codes_ta.write(k + 1, wcodes[:size])
            js_ta = js_ta.write(k + 1, window_j[:size])
            wcode = tf.gather(tf.concat([wcodes, [0]], 0), wat)
            wclear = got & tf.equal(wcode, clear)
            wend = got & tf.equal(wcode, end_code)
            longs = longs + tf.cast(wclear & (wat > short), tf.int32)
            end_bit = tf.where(wend, tf.gather(tf.concat([wbits, [0]], 0), wat), end_bit)
            end_width = tf.where(wend, tf.gather(tf.concat([window_widths, [0]], 0), wat),
                                 end_width)
            position = tf.where(got, tf.gather(tf.concat(
                [wbits + tf.cast(window_widths, tf.int64), [0]], 0), wat), position)
            return (u + 1, wclear & (longs <= long_limit), tf.logical_not(got),
                    finished | wend | (wclear & (longs > long_limit)), position,
                    tf.where(got, wat, last), longs, clears + tf.cast(wclear, tf.int32),
                    taken + size, end_bit, end_width, codes_ta, js_ta, k + 1)

        (_, _, stalled, finished, position, last, longs, clears, taken, end_bit, end_width,
         codes_ta, js_ta, k) = tf.while_loop(
            lambda u, active, *_: active & (u < _TAIL), tail,
            (tf.constant(0), cleared & (j0 + at < _WINDOW) & (longs <= long_limit),
             tf.constant(False),
             tf.constant(False), after, j0 + at, longs, clears, taken, end_bit, end_width,
             codes_ta, js_ta, k), parallel_iterations=1)
        return (
            tf.where(cleared, position, tf.where(found | whole, after, pos)),
            tf.where(whole, j0 + _SCHEDULE, 0),
            tf.where(cleared, stalled | (last > short), after_long | whole),
            done | ended | ~(found | whole) | finished | (longs > long_limit),
            read_count + taken, longs, tf.constant(_FIRST_BATCH), codes_ta, js_ta, k + 1,
            tf.where(cleared & (last > short), last, 0),
            end_bit, end_width, clears,
        )

    def speculated(pos, j0, after_long, done, read_count, longs, batch, codes_ta, js_ta, k,
                   spec, end_bit, end_width, clears):
        # Encoders reset the dictionary when it is full, so most segments
        # have the length of the one before: all those that follow are read
        # and checked at once. The first that differs is read next step,
        # unless it is the last one, ended by the end code.
        n = spec
        jj = tf.range(n + 1)
        rel = offset_of(jj)
        width = tf.gather(widths, tf.minimum(jj, _MAX_CODES))
        stride = rel[-1] + tf.cast(width[-1], tf.int64)
        count = tf.cast(tf.maximum((nbits - pos) // stride, 0), tf.int32)
        count = tf.minimum(count, tf.maximum(long_limit - longs + 1, 0))
        count = tf.minimum(count, (max_pixels - read_count) // n + 1)
        # One row more than fits whole: the end of the stream may lie in it.
        bits = pos + stride * tf.cast(tf.range(count + 1), tf.int64)[:, None] + rel[None, :]
        fits = bits + tf.cast(width, tf.int64)[None, :] <= nbits
        codes = read(tf.where(fits, bits, 0), width[None, :])
        special = fits & tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
        same = (tf.logical_not(tf.reduce_any(special[:count, :n], axis=1))
                & tf.equal(codes[:count, n], clear))
        accepted = tf.reduce_min(tf.concat(
            [tf.cast(tf.where(tf.logical_not(same))[:, 0], tf.int32), [count]], 0))
        longs = longs + accepted
        # The row after them: its first special code, if that is the end code.
        row_special = special[accepted]
        first = tf.reduce_min(tf.concat([tf.cast(tf.where(row_special)[:, 0], tf.int32),
                                         [n + 1]], 0))
        final = ((first <= n) & (longs <= long_limit)
                 & tf.equal(tf.gather(tf.concat([codes[accepted], [0]], 0), first), end_code))
        tail = tf.where(final, first, 0)
        codes_ta = codes_ta.write(k, tf.concat([tf.reshape(codes[:accepted, :n], [-1]),
                                                codes[accepted, :tail]], 0))
        js_ta = js_ta.write(k, tf.concat([tf.tile(jj[:n], [accepted]), jj[:tail]], 0))
        end_at = tf.gather(tf.concat([bits[accepted], [0]], 0), first)
        return (pos + stride * tf.cast(accepted, tf.int64), j0, after_long,
                done | final | (longs > long_limit), read_count + accepted * n + tail, longs,
                batch, codes_ta, js_ta, k + 1, tf.constant(0),
                tf.where(final, end_at, end_bit),
                tf.where(final, tf.gather(tf.concat([width, [0]], 0), first), end_width),
                clears + accepted)

    def body(*state):
        j0, after_long, spec = state[1], state[2], state[10]
        at_start = tf.equal(j0, 0)
        branch = tf.where(at_start & tf.logical_not(after_long), 0,
                          tf.where(at_start & (spec > 0), 1, 2))
        return tf.switch_case(branch, [lambda: fast(*state), lambda: speculated(*state),
                                       lambda: scheduled(*state)])

    def cond(pos, j0, after_long, done, read_count, *_):
        return tf.logical_not(done) & (read_count < max_pixels)

    state = (tf.constant(0, tf.int64), tf.constant(0), tf.constant(False), max_pixels <= 0,
             tf.constant(0), tf.constant(0), tf.constant(_FIRST_BATCH),
             tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                            element_shape=[None]),
             tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                            element_shape=[None]),
             tf.constant(0), tf.constant(0), tf.constant(-1, tf.int64),
             tf.constant(0), tf.constant(0))
    state = tf.while_loop(cond, body, state, parallel_iterations=1)
    codes_ta, js_ta, k = state[7], state[8], state[9]
    codes = tf.cond(k > 0, lambda: codes_ta.concat(), lambda: tf.zeros([0], tf.int32))
    js = tf.cond(k > 0, lambda: js_ta.concat(), lambda: tf.zeros([0], tf.int32))
    # Every code gives at least one pixel: a stream read to ``max_pixels``
    # codes fills the frame.
    return (codes[:max_pixels], js[:max_pixels], state[4] >= max_pixels, state[11], state[12],
            state[13])


def lzw_decode(data: tf.Tensor, code_size: tf.Tensor, max_pixels: tf.Tensor):
    """Decompresses one frame's LZW data (int32 bytes, sub-blocks joined).

    Args:
        data: int32 ``[n]`` bytes.
        code_size: The LZW minimum code size, 1-11.
        max_pixels: The pixels the frame needs.

    Returns:
        ``(indices, count)``: int32 ``[max_pixels]`` palette indices, of which
        the first ``count`` were decoded (the rest are 0), exactly as the
        reference decoder's ``lzw_decode`` gives them.
    """
    codes, j, *_ = read_codes(data, code_size, max_pixels)
    return decode_codes(codes, j, code_size, max_pixels)


def is_sound(codes: tf.Tensor, j: tf.Tensor, code_size: tf.Tensor) -> tf.Tensor:
    """Whether no code of :func:`read_codes` names an entry not made yet."""
    clear = tf.bitwise.left_shift(1, code_size)
    return tf.reduce_all(codes <= j + clear + 1)


def _dictionary(codes: tf.Tensor, j: tf.Tensor, code_size: tf.Tensor):
    """Every code's global id, the codes that make entries, and the string
    length of every id (pointer jumping over the prefix links)."""
    clear = tf.bitwise.left_shift(1, code_size)
    segment = tf.cumsum(tf.cast(tf.equal(j, 0), tf.int32)) - 1
    segments = tf.reduce_max(tf.concat([segment, [-1]], 0)) + 1
    lengths = tf.math.unsorted_segment_sum(tf.ones_like(codes), segment, segments)
    per_segment = _MAX_CODES - 2 - clear
    made = tf.clip_by_value(lengths - 1, 0, per_segment)
    first_entry = clear + tf.cumsum(made, exclusive=True)
    gid = tf.where(codes < clear, codes, codes + tf.gather(first_entry, segment) - clear - 2)
    makes = tf.cast(tf.where(j < tf.gather(made, segment))[:, 0], tf.int32)
    prefix = tf.concat([tf.range(clear), tf.gather(gid, makes)], 0)

    def jump(root, depth, _):
        active = root >= clear
        return (tf.where(active, tf.gather(root, root), root),
                depth + tf.where(active, tf.gather(depth, root), 0),
                tf.reduce_any(active))

    depth = tf.concat([tf.zeros([clear], tf.int32), tf.ones([tf.size(makes)], tf.int32)], 0)
    _, depth, _ = tf.while_loop(lambda r, d, moving: moving, jump,
                                (prefix, depth, tf.constant(True)))
    return gid, makes, depth + 1


# Pixels the padding streams give: a frame with more goes unpadded.
PADDED_PIXELS = 2**24


def _padding_streams() -> np.ndarray:
    """int32 ``[9, 2, n]`` bytes: for code sizes 1-8 (rows), the codes of an LZW
    segment, from bit 0, that give at least 2^24 pixels of index 0
    (``[:, 0]``) or 1 (``[:, 1]``): the literal, then entries that each add
    one more of it (each the entry being made), then the last entry again and
    again (a full dictionary is kept)."""
    table = np.zeros((9, 2, 16384), np.int32)
    for size in range(1, 9):
        clear = 1 << size
        for literal in (0, 1):
            value = bits = position = 0
            pixels, j = 0, 0
            while pixels < PADDED_PIXELS:
                code = literal if j == 0 else min(clear + 1 + j, _MAX_CODES - 1)
                pixels += 1 if j == 0 else code - clear
                value |= code << bits
                bits += int(_WIDTHS[size][min(j, _MAX_CODES)])
                j += 1
                while bits >= 8:
                    table[size, literal, position] = value & 255
                    position += 1
                    value >>= 8
                    bits -= 8
            table[size, literal, position] = value & 255
    # Int32 already (the graph shifts them), and only as long as the longest.
    return table[:, :, : int(np.nonzero(table.any(axis=(0, 1)))[0][-1]) + 1]


_PADDING = _padding_streams()


def padded_sub_blocks(data: tf.Tensor, code_size: tf.Tensor, end_bit: tf.Tensor,
                      end_width: tf.Tensor, literal: int) -> tf.Tensor:
    """A string of data sub-blocks (terminator included) holding ``data`` with
    its end code (at bit ``end_bit``, ``end_width`` bits wide) turned into a
    clear code followed by :func:`_padding_streams`'s segment of
    ``literal``: the stream's own pixels, then that index until any frame is
    full, so that giflib does not fail on a stream that ends early."""
    q = tf.cast(tf.bitwise.right_shift(end_bit, 3), tf.int32)
    shift = tf.cast(tf.bitwise.bitwise_and(end_bit, 7), tf.int32)
    # From byte q: the bits of data before the end code, the clear code,
    # then the padding segment, t bits in.
    head = (tf.bitwise.bitwise_and(data[q], tf.bitwise.left_shift(1, shift) - 1)
            | tf.bitwise.left_shift(tf.bitwise.left_shift(1, code_size), shift))
    t = shift + end_width
    whole_bytes, rest = tf.bitwise.right_shift(t, 3), tf.bitwise.bitwise_and(t, 7)
    pad = tf.constant(_PADDING[:, literal])[code_size]
    before = tf.concat([[0], pad[:-1]], 0)
    shifted = tf.bitwise.bitwise_and(
        tf.bitwise.left_shift(pad, rest) | tf.bitwise.right_shift(before, 8 - rest), 255)
    region = tf.concat([tf.zeros([whole_bytes], tf.int32), shifted], 0)
    head_bytes = tf.bitwise.bitwise_and(
        tf.bitwise.right_shift(head, tf.constant([0, 8, 16])), 255)
    region = region | tf.pad(head_bytes, [[0, tf.size(region) - 3]])
    body = tf.concat([data[:q], region], 0)
    blocks = (tf.size(body) + 254) // 255
    body = tf.pad(body, [[0, blocks * 255 - tf.size(body)]])
    chunks = tf.concat([tf.fill([blocks, 1], 255), tf.reshape(body, [blocks, 255])], 1)
    return byte_string(tf.concat([tf.reshape(chunks, [-1]), [0]], 0))


def byte_string(values: tf.Tensor) -> tf.Tensor:
    """A scalar string of the bytes ``values`` (int32 ``[n]``, 0-255)."""
    raw = tf.cast(values, tf.uint8)
    serialized = tf.io.serialize_tensor(raw)
    # A serialized uint8 tensor ends with its bytes.
    return tf.strings.substr(serialized, tf.strings.length(serialized) - tf.size(raw),
                             tf.size(raw))


def decode_codes(codes: tf.Tensor, j: tf.Tensor, code_size: tf.Tensor, max_pixels: tf.Tensor):
    """:func:`lzw_decode` from the codes :func:`read_codes` gave."""
    clear = tf.bitwise.left_shift(1, code_size)
    # Decoding stops at the first code naming an entry not made yet.
    bad = codes > j + clear + 1
    cut = tf.reduce_min(tf.concat([tf.cast(tf.where(bad)[:, 0], tf.int32), [tf.size(codes)]], 0))
    codes, j = codes[:cut], j[:cut]
    gid, makes, length = _dictionary(codes, j, code_size)
    out_lengths = tf.gather(length, gid)
    # int64 sums (codes of 4,096-pixel strings could pass 2^31), positions
    # then capped at the frame's pixels: no later one is ever looked up.
    starts64 = tf.cumsum(tf.cast(out_lengths, tf.int64), exclusive=True)
    total = tf.reduce_sum(tf.cast(out_lengths, tf.int64))
    pixels = tf.cast(tf.minimum(total, tf.cast(max_pixels, tf.int64)), tf.int32)
    used = tf.reduce_sum(tf.cast(starts64 < tf.cast(pixels, tf.int64), tf.int32))
    starts = tf.cast(tf.minimum(starts64, tf.cast(pixels, tf.int64)), tf.int32)
    # An entry's string first appears in the output where the code that made
    # it starts (that code's string, then the next code's first pixel).
    source = tf.concat([tf.zeros([clear], tf.int32), tf.gather(starts, makes)], 0)
    owner = tf.repeat(tf.range(used), out_lengths[:used])[:pixels]
    p = tf.range(pixels)
    code = tf.gather(gid, owner)
    literal = code < clear
    pointer = tf.where(literal, p, tf.gather(source, code) + p - tf.gather(starts, owner))
    value = tf.where(literal, code, 0)

    def follow(pointer, _):
        further = tf.gather(pointer, pointer)
        return further, tf.reduce_any(tf.not_equal(further, pointer))

    pointer, _ = tf.while_loop(lambda ptr, moving: moving, follow, (pointer, tf.constant(True)))
    indices = tf.gather(value, pointer)
    indices = tf.concat([indices, tf.zeros([max_pixels - pixels], tf.int32)], 0)
    return indices, pixels
