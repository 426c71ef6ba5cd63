"""GIF LZW data decompressed in TensorFlow graph ops, as
:func:`kavan_tf.data.lzw.lzw_decode` does.

``tf.io.decode_gif`` (giflib) decompresses a frame as the reference decoder
does only when its LZW stream is sound: a code that names an entry not made
yet gives garbage pixels, and data that ends before the frame is full an
error. The reference decoder, like browsers, draws what came before such a
fault and leaves the rest of the frame undrawn. So the serving graph reads
each frame's codes first (:func:`probe_codes`, :func:`read_codes`,
:func:`is_sound`), hands sound streams to giflib (one that ends early with
its end code turned into padding, :func:`padded_sub_blocks`), and
decompresses the others with :func:`decode_codes`, the reference decoder's
algorithm in tensor ops. By step:

1. **Sub-blocks** (:func:`sub_block_data`): a run of 255-byte sub-blocks
   is cut out with a reshape; any other chain's length bytes are marked by
   pointer jumping (``log2`` passes over its data).
2. **Codes** (:mod:`kavan_tf.export.lzw_codes`, and
   :mod:`kavan_tf.export.lzw_probe` for the layout encoders write): the
   codes of each dictionary segment, read from the code-width schedule.
3. **Dictionary**: code ``j`` of a segment makes entry ``j``; pointer jumping
   over the prefix links gives every entry's length.
4. **Pixels**: every output pixel of an entry's code copies the pixel where
   that entry's string first appeared; pointer jumping over those copies
   gives every pixel its literal.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.data.lzw import MAX_CODES
from kavan_tf.export.lzw_codes import code_schedule, is_sound, read_codes
from kavan_tf.export.lzw_probe import probe_codes

__all__ = [
    "PADDED_PIXELS",
    "byte_string",
    "decode_codes",
    "is_sound",
    "lzw_decode",
    "padded_sub_blocks",
    "padded_tails",
    "probe_codes",
    "read_codes",
    "sub_block_data",
]

# Pixels the padding streams give: a frame with more goes unpadded.
PADDED_PIXELS = 2**24


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


def _dictionary(codes: tf.Tensor, j: tf.Tensor, code_size: tf.Tensor):
    """Every code's global id, the codes that make entries, and the string
    length of every id (pointer jumping over the prefix links)."""
    clear = tf.bitwise.left_shift(1, code_size)
    segment = tf.cumsum(tf.cast(tf.equal(j, 0), tf.int32)) - 1
    segments = tf.reduce_max(tf.concat([segment, [-1]], 0)) + 1
    lengths = tf.math.unsorted_segment_sum(tf.ones_like(codes), segment, segments)
    per_segment = MAX_CODES - 2 - clear
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


def _padding_code_count(code_size: tf.Tensor, pixels: tf.Tensor) -> tf.Tensor:
    """int32: how many codes the padding segment of :func:`padded_tails`
    needs for ``pixels`` pixels (elementwise). The literal and the growing
    entries (``clear + 2 .. MAX_CODES - 2``) give ``1 + 2 + ... + (growing +
    1)`` pixels, then the last entry its length each; fewer pixels than that
    take the first ``k`` codes, which give ``k (k + 1) / 2``."""
    clear = tf.bitwise.left_shift(1, code_size)
    growing = MAX_CODES - 3 - clear
    last = MAX_CODES - 1 - clear
    rest = pixels - (growing + 1) * (growing + 2) // 2
    k = tf.cast(tf.math.ceil((tf.sqrt(8.0 * tf.cast(pixels, tf.float64) + 1.0) - 1.0) / 2.0),
                tf.int32)
    k = tf.maximum(k + tf.cast(k * (k + 1) // 2 < pixels, tf.int32), 1)
    return tf.where(rest > 0, 1 + growing + (rest + last - 1) // last, k)


def padded_tails(tails: tf.Tensor, before: tf.Tensor, shift: tf.Tensor, end_width: tf.Tensor,
                 code_size: tf.Tensor, pixels: tf.Tensor, literals: tf.Tensor) -> tf.Tensor:
    """Data sub-blocks (terminator included) of ``N`` LZW streams, each with
    its end code turned into a clear code and a padding segment, once per
    literal: the stream's own pixels, then that index until a frame of
    ``pixels`` pixels is full, so that giflib never meets a stream that ends
    early. The segment is the literal, then each entry being made (each one
    more pixel of it), then the last entry again and again (a full
    dictionary is kept).

    Args:
        tails: int32 ``[N, P]``: the end of each stream's data, up to the byte
            that holds its end code (``tails[n, before[n]]``).
        before: int32 ``[N]``: where that byte is in ``tails``.
        shift: int32 ``[N]``: the end code's first bit in that byte.
        end_width: int32 ``[N]``: the end code's width.
        code_size: int32 ``[N]``: the LZW minimum code size.
        pixels: int32 ``[N]``: the pixels the padding must give at least.
        literals: int32 ``[N, K]``: the padding's indices.

    Returns:
        string ``[N, K]``: ``tails[n, :before[n]]`` and the padded rest, in
        sub-blocks of 255 bytes (the last filled with zeros) and the
        terminator.
    """
    count, literal_count = tf.shape(literals)[0], tf.shape(literals)[1]
    code_size, shift = code_size[:, None], shift[:, None]
    start = shift + end_width[:, None]
    # The clear code at the end code's place, then the segment's codes, the
    # literal's 0 for now; packed LSB first, one row per stream.
    clear = tf.bitwise.left_shift(1, code_size)
    needed = _padding_code_count(code_size, pixels[:, None])
    j = tf.range(tf.reduce_max(needed))[None, :]
    offsets, _ = code_schedule(code_size, tf.reduce_max(needed), tf.int32)
    codes = tf.concat([clear, tf.where(j > 0, tf.minimum(clear + 1 + j, MAX_CODES - 1), 0)], 1)
    bits = tf.concat([shift, start + offsets], 1)
    used = tf.concat([tf.ones_like(shift, tf.bool), j < needed], 1)
    size = (start[:, 0] + tf.reduce_max(tf.where(j < needed, offsets, 0), 1) + 12 + 7) // 8
    width = tf.reduce_max(size) + 2
    rows = tf.broadcast_to(tf.range(count)[:, None], tf.shape(bits))
    # Codes share no bit, so adding is or-ing; a byte's sum, up to 19 bits,
    # spills its second and third bytes into the next two.
    sums = tf.reshape(tf.math.unsorted_segment_sum(
        tf.where(used, tf.bitwise.left_shift(codes, tf.bitwise.bitwise_and(bits, 7)), 0),
        rows * width + tf.where(used, tf.bitwise.right_shift(bits, 3), 0), count * width),
        tf.stack([count, width]))
    region = (tf.bitwise.bitwise_and(sums, 255)
              + tf.pad(tf.bitwise.bitwise_and(tf.bitwise.right_shift(sums, 8), 255),
                       [[0, 0], [1, 0]])[:, :-1]
              + tf.pad(tf.bitwise.right_shift(sums, 16), [[0, 0], [2, 0]])[:, :-2])
    # Each literal's bits where the segment's first code is, and the data's
    # bits before the end code in the first byte.
    literal_bits = tf.bitwise.left_shift(literals, tf.bitwise.bitwise_and(start, 7))[:, :, None]
    at = tf.bitwise.right_shift(start[:, 0], 3)
    first = tf.bitwise.bitwise_and(tf.gather(tails, before, axis=1, batch_dims=1),
                                   tf.bitwise.left_shift(1, shift[:, 0]) - 1)
    region = (region[:, None, :]
              + tf.one_hot(at, width, dtype=tf.int32)[:, None, :]
              * tf.bitwise.bitwise_and(literal_bits, 255)
              + tf.one_hot(at + 1, width, dtype=tf.int32)[:, None, :]
              * tf.bitwise.right_shift(literal_bits, 8)
              + tf.one_hot(tf.zeros([count], tf.int32), width, dtype=tf.int32)[:, None, :]
              * first[:, None, None])
    # The data before the end code's byte, then the region.
    length = before + size
    p = tf.range(tf.reduce_max(length))[None, :]
    kept = tf.gather(tails, tf.broadcast_to(tf.minimum(p, tf.shape(tails)[1] - 1),
                                            tf.stack([count, tf.shape(p)[1]])),
                     axis=1, batch_dims=1)
    from_region = tf.gather(region, tf.clip_by_value(p - before[:, None], 0, width - 1),
                            axis=2, batch_dims=1)
    body = tf.where((p < before[:, None])[:, None, :], kept[:, None, :], from_region)
    body = tf.where((p < length[:, None])[:, None, :], body, 0)
    # In sub-blocks of 255 bytes, then the terminator: a block past a
    # stream's last has length 0, which ends it.
    used_blocks = (length + 254) // 255
    most = tf.reduce_max(used_blocks)
    body = tf.pad(body, [[0, 0], [0, 0], [0, most * 255 - tf.shape(body)[2]]])
    body = tf.reshape(body, tf.stack([count, literal_count, most, 255]))
    marks = tf.where(tf.range(most)[None, :] < used_blocks[:, None], 255, 0)
    chunks = tf.concat([tf.broadcast_to(marks[:, None, :, None],
                                        tf.stack([count, literal_count, most, 1])), body], 3)
    chunks = tf.concat([tf.reshape(chunks, tf.stack([count, literal_count, most * 256])),
                        tf.zeros(tf.stack([count, literal_count, 1]), tf.int32)], 2)
    stride = most * 256 + 1
    pieces = tf.strings.substr(
        byte_string(tf.reshape(chunks, [-1])), stride * tf.range(count * literal_count),
        tf.reshape(tf.broadcast_to(256 * used_blocks[:, None] + 1,
                                   tf.stack([count, literal_count])), [-1]))
    return tf.reshape(pieces, tf.stack([count, literal_count]))


def padded_sub_blocks(data: tf.Tensor, code_size: tf.Tensor, end_bit: tf.Tensor,
                      end_width: tf.Tensor, literals: list[int] | tf.Tensor,
                      pixels: int | tf.Tensor = PADDED_PIXELS) -> tf.Tensor:
    """:func:`padded_tails` of one stream, ``data``, whose end code starts at
    bit ``end_bit`` and is ``end_width`` bits wide, once per literal of
    ``literals`` (int32 ``[K]``). Returns string ``[K]``."""
    q = tf.cast(tf.bitwise.right_shift(end_bit, 3), tf.int32)
    shift = tf.cast(tf.bitwise.bitwise_and(end_bit, 7), tf.int32)
    return padded_tails(
        data[None, : q + 1], q[None], shift[None], tf.reshape(end_width, [1]),
        tf.reshape(code_size, [1]), tf.reshape(tf.cast(pixels, tf.int32), [1]),
        tf.convert_to_tensor(literals, tf.int32)[None])[0]


def byte_string(values: tf.Tensor) -> tf.Tensor:
    """A scalar string of the bytes ``values`` (int32 ``[n]``, 0-255)."""
    raw = tf.cast(values, tf.uint8)
    serialized = tf.io.serialize_tensor(raw)
    # A serialized uint8 tensor ends with its bytes.
    return tf.strings.substr(serialized, tf.strings.length(serialized) - tf.size(raw),
                             tf.size(raw))

