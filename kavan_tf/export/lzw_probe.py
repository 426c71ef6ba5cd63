"""The graph's LZW code reader for streams laid out as encoders write them.

:func:`probe_codes` reads such a stream in two gathers and no loop, and says
whether it has that layout; the serving graph reads any other stream with
:func:`~kavan_tf.export.lzw_codes.read_codes`, which gives the same codes.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.data.lzw import SCHEDULE, max_long_segments
from kavan_tf.export.lzw_codes import byte_words, code_schedule

# Zero bytes after the data: a segment read past its end gives codes 0 there.
_PROBE_PAD = 12 * SCHEDULE // 8 + 8


def probe_codes(data: tf.Tensor, code_size: tf.Tensor, max_pixels: tf.Tensor):
    """Reads a stream laid out as encoders write it, in two gathers and no loop.

    Encoders start with a clear code (or not), reset the dictionary with a
    clear code whenever it is full, so every segment but the last has the
    same number of codes, and end the last with the end code. This reads the
    first segment from the code-width schedule, then all segments as long
    as it as the rows of one ``[segments, codes]`` gather, and checks that
    the stream has that layout (and a bounded number of segments), so that it
    gives what :func:`~kavan_tf.export.lzw_codes.read_codes` gives. Reads
    past the data give codes 0, which are neither clear nor end codes: a
    stream that runs out has no such layout.

    Returns:
        ``(regular, sound, full, end_bit, end_width, clears)``: whether the
        stream has that layout; if it does, whether no code names an entry
        not made yet (:func:`~kavan_tf.export.lzw_codes.is_sound`), whether
        it holds ``max_pixels`` codes, the bit where its end code starts and
        its width, and the clear codes read.
    """
    nbytes = tf.size(data)
    words = byte_words(data, _PROBE_PAD)
    # Bit offsets in int32: longer data goes to read_codes (not regular).
    nbits = 8 * tf.minimum(nbytes, 2**27)
    clear = tf.bitwise.left_shift(1, code_size)
    # Code j of a segment: its bit offset, the mask of its width, and the
    # largest code it may be (j + clear + 1: an entry made already).
    offsets, widths = code_schedule(code_size, SCHEDULE + 1, tf.int32)
    masks = tf.bitwise.left_shift(1, widths) - 1
    limits = tf.range(SCHEDULE + 1) + (clear + 1)

    def read(bits, mask):
        word = tf.gather(words, tf.bitwise.right_shift(bits, 3))
        return tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(word, tf.bitwise.bitwise_and(bits, 7)), mask)

    end_code = clear + 1
    first_width = code_size + 1
    leading = tf.equal(read(tf.constant(0), masks[0]), clear) & (first_width <= nbits)
    start = tf.where(leading, first_width, 0)
    # The first segment: its first clear or end code, within SCHEDULE codes
    # (and within the data: a small frame reads a few).
    first = tf.minimum(SCHEDULE, (nbits - start) // first_width + 1)
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
    codes = read(bits, masks[None, :cols])
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
    bad = tf.reduce_any(codes > limits[None, :cols], axis=1)
    sound = (tf.logical_not(tf.reduce_any(bad[:segments]))
             & tf.reduce_all(codes[last, :t] <= limits[:t]))
    return (regular, sound, segments * n + t >= max_pixels, tf.cast(end_bit, tf.int64),
            end_width, tf.cast(leading, tf.int32) + segments)

