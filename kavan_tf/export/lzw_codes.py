"""Step 2 of the graph's LZW decoder: the codes of a frame's bit stream.

:func:`read_codes` reads the codes of any stream as the reference decoder's
``_read_codes`` does (:mod:`kavan_tf.data.lzw`), with the same code widths,
batch sizes and bound on long segments, all imported from there: a
``tf.while_loop`` reads one dictionary segment (the codes between two clear
codes) per step with one gather, from the code-width schedule; runs of short
segments (clear-code floods) are read many at a time at the first code
width, all the segments as long as the one before (encoders reset a full
dictionary) in one gather, and segments of a few codes several to a step.
:func:`~kavan_tf.export.lzw_probe.probe_codes` reads the streams laid out as
encoders write them with no loop.

Work is bounded by the input: the loop stops once it has read as many codes
as the frame has pixels (every code gives at least one pixel, so later codes
cannot change the frame), and after
:func:`~kavan_tf.data.lzw.max_long_segments` segments of more than
``clear - 2`` codes, as the reference decoder does.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.data.lzw import FIRST_BATCH, MAX_BATCH, MAX_CODES, SCHEDULE, max_long_segments

# Segments of a few codes read in the same step after one, and the codes each may hold.
_TAIL = 8
_WINDOW = 64


def code_schedule(code_size: tf.Tensor, count: int | tf.Tensor,
                  dtype: tf.DType = tf.int64) -> tuple[tf.Tensor, tf.Tensor]:
    """Bit offsets (``dtype``) and int32 widths of codes ``0 .. count - 1`` of
    a segment, as :func:`~kavan_tf.data.lzw.code_widths` gives them: code
    ``j`` is read when the next free entry is ``n = clear + 1 + j``, and is
    as wide as ``n``'s bit length (from ``code_size + 1`` up to 12 bits).
    ``code_size`` may be ``[N, 1]``: then one row per code size.
    Computed in the graph for the one code size, elementwise: the bit
    lengths of ``0 .. m - 1`` add up to ``b * m - 2^b + 1`` (``b``: the bit
    length of ``m``), so the offsets need no cumulative sum."""
    next_free = tf.range(count) + (tf.bitwise.left_shift(1, code_size) + 1)
    capped = tf.minimum(next_free, MAX_CODES)
    # The bit length of n < 2^24 is the exponent of float32(n), plus one.
    length = tf.bitwise.right_shift(tf.bitcast(tf.cast(capped, tf.float32), tf.int32), 23) - 126
    # The bit lengths of 0 .. next_free - 1, those past MAX_CODES taken as 12
    # (the + 1 cancels): code j starts where its next free entry's sum
    # passes code 0's.
    before = (length * capped - tf.bitwise.left_shift(1, length)
              + 12 * (next_free - capped))
    return tf.cast(before - before[..., :1], dtype), tf.minimum(length, 12)


def byte_words(data: tf.Tensor, pad: int = 3) -> tf.Tensor:
    """words[i]: bytes i, i + 1, i + 2 of ``data`` (then ``pad`` zero bytes) as one
    number: a code of up to 12 bits at any bit offset is one gather, one
    shift and one mask."""
    padded = tf.concat([data, tf.zeros([pad], tf.int32)], 0)
    return padded[:-2] + 256 * padded[1:-1] + 65536 * padded[2:]


def _word_reader(data: tf.Tensor):
    """``(read, nbits)``: ``read(bits, width)`` gives the codes of ``width``
    bits at bit offsets ``bits`` (int64) of ``data`` (int32 bytes), LSB first;
    ``nbits`` is the data's length in bits."""
    table = byte_words(data)

    def read(bits, width):
        word = tf.gather(table, tf.bitwise.right_shift(bits, 3))
        return tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(word, tf.cast(tf.bitwise.bitwise_and(bits, 7), tf.int32)),
            tf.bitwise.left_shift(1, width) - 1)

    return read, 8 * tf.cast(tf.size(data), tf.int64)


def _offset_of(offsets: tf.Tensor, j: tf.Tensor) -> tf.Tensor:
    """Bit offset of code ``j`` of a segment (codes past ``MAX_CODES`` are 12 bits)."""
    return (tf.gather(offsets, tf.minimum(j, MAX_CODES))
            + 12 * tf.cast(tf.maximum(j - MAX_CODES, 0), tf.int64))


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
    offsets, widths = code_schedule(code_size, MAX_CODES + 1)
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
                tf.where(progress, tf.minimum(2 * batch, MAX_BATCH), batch),
                codes_ta, js_ta, k + 1, spec,
                tf.where(ended, pos + tf.cast(first_width, tf.int64) * tf.cast(last, tf.int64),
                         end_bit),
                tf.where(ended, first_width, end_width),
                clears + tf.where(progress, usable, 0))

    def scheduled(pos, j0, after_long, done, read_count, longs, batch, codes_ta, js_ta, k,
                  spec, end_bit, end_width, clears):
        jj = j0 + tf.range(SCHEDULE)
        bits = pos + offset_of(jj) - offset_of(j0)
        width = tf.gather(widths, tf.minimum(jj, MAX_CODES))
        fits = bits + tf.cast(width, tf.int64) <= nbits
        nfit = tf.reduce_sum(tf.cast(fits, tf.int32))
        codes = read(tf.where(fits, bits, 0), width)
        special = fits & tf.equal(tf.bitwise.bitwise_or(codes, 1), end_code)
        at = tf.reduce_min(tf.concat([tf.cast(tf.where(special)[:, 0], tf.int32), [SCHEDULE]], 0))
        found = at < SCHEDULE
        taken = tf.minimum(at, nfit)
        special_code = tf.gather(tf.concat([codes, [0]], 0), at)
        cleared = found & tf.equal(special_code, clear)
        ended = found & tf.logical_not(cleared)
        is_long = cleared & (j0 + at > short)
        whole = tf.logical_not(found) & tf.equal(nfit, SCHEDULE)
        after = tf.gather(tf.concat([bits + tf.cast(width, tf.int64), [0]], 0),
                          tf.where(found, at, SCHEDULE - 1))
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
            tf.where(whole, j0 + SCHEDULE, 0),
            tf.where(cleared, stalled | (last > short), after_long | whole),
            done | ended | ~(found | whole) | finished | (longs > long_limit),
            read_count + taken, longs, tf.constant(FIRST_BATCH), codes_ta, js_ta, k + 1,
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
        width = tf.gather(widths, tf.minimum(jj, MAX_CODES))
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
             tf.constant(0), tf.constant(0), tf.constant(FIRST_BATCH),
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



def is_sound(codes: tf.Tensor, j: tf.Tensor, code_size: tf.Tensor) -> tf.Tensor:
    """Whether no code of :func:`read_codes` names an entry not made yet."""
    clear = tf.bitwise.left_shift(1, code_size)
    return tf.reduce_all(codes <= j + clear + 1)
