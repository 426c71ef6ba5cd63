"""GIF LZW decompression, vectorised with numpy.

:func:`lzw_decode` turns the data sub-blocks of one image into palette
indices, as giflib and browsers do. The serving graph
(:mod:`kavan_tf.export.lzw_graph`) reads codes with the same widths
(:func:`code_widths`), the same constants and the same bound on long segments
(:func:`max_long_segments`), all imported from here.

The decoder works on whole arrays of codes rather than one code at a time:

1. Code positions. The width of a code only depends on how many codes were
   read since the last clear code, so the bit positions of a segment (the
   codes between two clear codes) are known in advance; a segment is read
   with one gather, and ends at the first clear or end-of-information code.
2. Dictionary. Code j > 0 of a segment makes the entry "string of code j-1
   + first character of code j". Entries get ids after the literals; their
   prefixes are the previous codes, and pointer jumping over the prefix
   links gives every entry its first character and its length.
3. Output. Strings are written back to front, one character per step for
   all codes at once; the few long strings left are copied from where their
   head first appeared in the output.
"""

from __future__ import annotations

import functools

import numpy as np

MAX_CODES = 4096  # entries of the LZW dictionary (12-bit codes)
SCHEDULE = 4608  # codes per segment whose positions are precomputed
# Codes of a run of short segments (clear-code floods) read at once, doubling
# up to MAX_BATCH.
FIRST_BATCH = 4096
MAX_BATCH = 1 << 20
_STEP_COST_IN_COPIES = 16  # one vectorised step costs about 16 string copies


def code_widths(min_code_size: int, count: int) -> np.ndarray:
    """int64 widths of codes ``0 .. count - 1`` of a segment (the codes between
    two clear codes): code ``j > 0`` is read after ``j - 1`` entries were made,
    so the next free entry is ``clear + 1 + j`` and the code is as wide as that
    number's bit length (at least ``min_code_size + 1``, at most 12), as in
    giflib and browsers. The serving graph reads codes with the same widths."""
    clear = 1 << min_code_size
    next_free = np.minimum(clear + 1 + np.arange(count), MAX_CODES)
    widths = np.clip(np.floor(np.log2(next_free)).astype(np.int64) + 1, min_code_size + 1, 12)
    widths[0] = min_code_size + 1
    return widths


@functools.lru_cache(maxsize=16)
def _code_schedule(min_code_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where the codes of a segment lie, for each bit offset of its start.

    Codes are as wide as :func:`code_widths` says.

    Returns:
        ``(byte, shift, end, mask)``, each ``[8, SCHEDULE]`` except ``mask``
        ``[SCHEDULE]``: for a segment starting at bit ``b`` of byte ``B``
        (``b`` in 0-7), code j is ``(word(B + byte[b, j]) >> shift[b, j]) &
        mask[j]`` and ends at bit ``end[b, j]`` counted from byte ``B``.
    """
    widths = code_widths(min_code_size, SCHEDULE)
    starts = np.cumsum(widths) - widths + np.arange(8)[:, None]
    return (
        starts >> 3,
        (starts & 7).astype(np.uint32),
        starts + widths,
        ((1 << widths) - 1).astype(np.uint32),
    )


def lzw_decode(data: bytes, min_code_size: int, max_pixels: int) -> tuple[np.ndarray, str | None]:
    """Decompresses GIF LZW data into palette indices, vectorised with numpy.

    Decoding follows giflib and browsers: a clear code resets the dictionary,
    the end-of-information code or the end of the data ends the stream, and a
    full dictionary is kept (deferred clear) until the next clear code.

    Args:
        data: The concatenated data sub-blocks of one image.
        min_code_size: The LZW minimum code size (1-11).
        max_pixels: Stop after this many indices (the frame's size).

    Returns:
        ``(indices, problem)``: at most ``max_pixels`` indices (``uint8``, or
        ``uint16`` when ``min_code_size > 8``) and ``None``, or a short
        description of why the stream ended early (``indices`` then holds the
        pixels decoded before that point).
    """
    clear = 1 << min_code_size
    dtype = np.uint8 if min_code_size <= 8 else np.uint16
    if max_pixels <= 0:
        return np.zeros(0, dtype=dtype), None
    codes, lengths, stream_problem = _read_codes(data, min_code_size, max_pixels)

    # All segments at once: code j of its segment may name a literal, an
    # entry made before it or the one it makes itself (anything up to
    # clear + 1 + j); decoding stops at the first code that names more.
    problem = None
    seg_starts = np.cumsum(lengths) - lengths
    j = np.arange(codes.size, dtype=np.int32) - np.repeat(seg_starts.astype(np.int32), lengths)
    bad = codes > j + (clear + 1)
    if bad.any():
        cut = int(bad.argmax())
        problem = f"invalid LZW code {int(codes[cut])}"
        codes, j = codes[:cut], j[:cut]
        last = int(np.searchsorted(seg_starts, cut, side="right")) - 1
        lengths = lengths[: last + 1].copy()
        lengths[last] = cut - seg_starts[last]
    if codes.size == 0:
        return np.zeros(0, dtype=dtype), problem or stream_problem or "no image data"
    # Global ids: literals keep their value; the entries of each segment
    # follow those of the segments before it.
    per_segment = MAX_CODES - 2 - clear  # entries a segment can make
    made = np.clip(lengths - 1, 0, per_segment)
    first_entry = clear + np.cumsum(made) - made
    offset = np.repeat((first_entry - clear - 2).astype(np.int32), lengths)
    gid = np.where(codes < clear, codes, codes + offset).astype(np.int32, copy=False)
    # Code j < made of a segment makes an entry: its string, then the first
    # character of code j + 1.
    makes = np.flatnonzero(j < np.repeat(made.astype(np.int32), lengths))
    prefix = np.concatenate([np.arange(clear, dtype=np.int32), gid[makes]])

    # Pointer jumping gives every entry its first literal (root) and length.
    # Only the entries whose root is not yet a literal take part in a step.
    root = prefix.copy()
    depth = np.ones(prefix.size, dtype=np.int32)
    depth[:clear] = 0
    active = np.flatnonzero(root >= clear)
    while active.size:
        hop = root[active]
        depth[active] += depth[hop]
        hop = root[hop]
        root[active] = hop
        active = active[hop >= clear]
    length = depth + 1
    suffix = np.concatenate([np.arange(clear, dtype=np.int32), root[gid[makes + 1]]])

    out_lengths = length[gid]
    ends = np.cumsum(out_lengths, dtype=np.int64)
    # An entry's string first appears in the output where the code before
    # the one that made it starts, followed by one character.
    starts = ends - out_lengths
    source = np.concatenate([np.zeros(clear, dtype=np.int64), starts[makes]])
    if ends[-1] >= max_pixels:
        used = int(np.searchsorted(ends, max_pixels)) + 1
        gid, out_lengths, ends = gid[:used], out_lengths[:used], ends[:used]
        problem = None
    elif problem is None:
        problem = stream_problem or "image data ends early"
    out = np.empty(int(ends[-1]), dtype=dtype)
    _expand(out, gid, out_lengths, ends, prefix, suffix.astype(dtype), length, source, clear)
    return out[:max_pixels], problem


def _expand(
    out: np.ndarray,
    gid: np.ndarray,
    lengths: np.ndarray,
    ends: np.ndarray,
    prefix: np.ndarray,
    suffix: np.ndarray,
    length: np.ndarray,
    source: np.ndarray,
    clear: int,
) -> None:
    """Writes the string of every code into ``out``.

    Strings are written back to front, one character per step for all codes
    still longer than the step (sorted by length, the active codes are a
    prefix of the arrays). When only a few long strings remain, each one's
    unwritten head -- itself a dictionary string that appeared earlier in the
    output -- is copied from there, in output order.
    """
    # A stable sort of 16-bit keys is a radix sort.
    order = np.argsort((MAX_CODES + 1 - lengths).astype(np.uint16), kind="stable")
    current = gid[order]
    position = ends[order] - 1
    # at_least[n]: how many codes have strings of n characters or more.
    at_least = np.bincount(lengths)[::-1].cumsum()[::-1]
    longest = at_least.size - 1
    # Stop after the step that makes the fewest steps + copies left the cheapest.
    left = np.append(at_least[2:], 0)  # codes still unwritten after each step
    last_step = int(np.argmin(_STEP_COST_IN_COPIES * np.arange(1, longest + 1) + left))
    for step in range(longest):
        n_now = int(at_least[step + 1])
        out[position[:n_now] - step] = suffix[current[:n_now]]
        n_next = int(left[step])
        if not n_next:
            return
        current[:n_next] = prefix[current[:n_next]]
        if step == last_step:
            break
    # current[i] is now the unwritten head of code i's string.
    rest = np.argsort(position[:n_next])
    heads = current[:n_next][rest]
    view = memoryview(out)  # type: ignore[arg-type]
    for head, last, count, start in zip(
        heads.tolist(),
        (position[:n_next][rest] - step - 1).tolist(),
        length[heads].tolist(),
        source[heads].tolist(),
        strict=True,
    ):
        if head < clear:
            out[last] = head
        else:
            view[last - count + 1 : last + 1] = view[start : start + count]


def max_long_segments(pixels: int) -> int:
    """How many segments of more than ``clear - 2`` codes a frame of ``pixels``
    pixels may hold before its decoding stops.

    Encoders reset the dictionary when it is full (thousands of codes per
    segment) or every ``clear - 2`` codes (short segments, read many at a
    time); only a hostile file holds many segments of a few codes each. The
    bound keeps decoding such a file as cheap per byte as any other, in this
    decoder and in the serving graph, which shares it.
    """
    return 16 + pixels // 1024


def _read_codes(
    data: bytes, min_code_size: int, max_pixels: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Splits the bit stream into segments of codes between clear codes.

    Runs of short segments (at most ``clear - 2`` codes, which is what clear
    code floods and "uncompressed" encoders write) are all as wide as the
    first code, so they are read many at a time with one gather; longer
    segments follow the code-width schedule one segment at a time. The work
    is therefore bounded by the input's length, whatever its clear codes;
    after :func:`max_long_segments` long segments the stream is read no
    further.

    Returns:
        ``(codes, lengths, problem)``: the int32 codes of all non-empty
        segments, one after the other (clear and end-of-information codes
        removed), the number of codes of each segment, and ``None`` when an
        end-of-information code ended the stream, or why it ended otherwise.
    """
    clear = 1 << min_code_size
    end_code = clear + 1
    nbits = len(data) * 8
    # words[i]: the four bytes from byte i as one little-endian integer (an
    # overlapping view): a code of up to 12 bits at any bit offset is one
    # gather, one shift and one mask.
    words = np.ndarray(
        (len(data) + 1,), dtype="<u4", buffer=bytes(data) + b"\0\0\0\0", strides=(1,)
    )
    first_width = min_code_size + 1
    short = clear - 2  # a segment this short keeps its first code width to its end
    parts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    pos = 0
    batch = FIRST_BATCH
    chunk = 1024  # first read of a long segment: the last long one's length
    after_long = False
    long_segments, long_limit = 0, max_long_segments(max_pixels)
    while True:
        # Fast path: constant-width codes from a segment start (after a short
        # segment; after a long one the next is most likely long too).
        if (nbits - pos) // first_width <= 0:
            return (*_joined(parts, lengths), "image data ends without an end code")
        if not after_long:
            count = min(batch, (nbits - pos) // first_width)
            bits = pos + first_width * np.arange(count, dtype=np.int64)
            codes = ((words[bits >> 3] >> (bits & 7).astype(np.uint32))
                     & np.uint32((1 << first_width) - 1)).astype(np.int32)
            special = np.flatnonzero((codes | 1) == end_code)
            if special.size:
                gaps = np.diff(special, prepend=-1) - 1  # codes before each special
                long = np.flatnonzero(gaps > short)
                usable = int(long[0]) if long.size else special.size
                ends_stream = np.flatnonzero(codes[special[:usable]] == end_code)
                if ends_stream.size:
                    usable = int(ends_stream[0]) + 1
                if usable:
                    last = int(special[usable - 1])
                    keep = np.ones(last + 1, dtype=bool)
                    keep[special[:usable]] = False
                    parts.append(codes[: last + 1][keep])
                    seg = gaps[:usable]
                    lengths.append(seg[seg > 0])
                    if codes[last] == end_code:
                        return (*_joined(parts, lengths), None)
                    pos = int(bits[last]) + first_width
                    batch = min(batch * 2, MAX_BATCH)
                    continue
        # A long segment (or no special code in sight): the schedule.
        segment, pos, finished = _read_segment(words, nbits, pos, min_code_size, chunk)
        if segment.size:
            parts.append(segment)
            lengths.append(np.array([segment.size]))
        if finished == "end":
            return (*_joined(parts, lengths), None)
        if finished == "data":
            return (*_joined(parts, lengths), "image data ends without an end code")
        after_long = segment.size > short
        long_segments += after_long
        if long_segments > long_limit:
            return (*_joined(parts, lengths),
                    f"the LZW dictionary is reset after more than {long_limit} long segments")
        chunk = max(1024, segment.size + 1) if after_long else 1024
        batch = FIRST_BATCH


def _joined(parts: list[np.ndarray], lengths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(parts), np.concatenate(lengths).astype(np.int64)


def _read_segment(
    words: np.ndarray, nbits: int, pos: int, min_code_size: int, chunk: int = 1024
) -> tuple[np.ndarray, int, str]:
    """Reads one segment from bit ``pos`` with the code-width schedule.

    Returns:
        ``(codes, position after its clear code, how it ended)``: ``"clear"``,
        ``"end"`` (an end-of-information code) or ``"data"`` (the data ran out).
    """
    end_code = (1 << min_code_size) + 1
    byte_at, shift_at, end_at, mask_at = _code_schedule(min_code_size)
    parts = []
    start = 0
    base, bit = pos >> 3, pos & 7
    while True:
        if start < SCHEDULE:
            stop = min(start + chunk, SCHEDULE)
            byte = byte_at[bit, start:stop] + base
            shift, end = shift_at[bit, start:stop], end_at[bit, start:stop]
            mask = mask_at[start:stop]
        else:  # past the schedule every code is 12 bits wide
            stop = start + chunk
            end = end_at[bit, -1] + 12 * np.arange(start - SCHEDULE + 1, stop - SCHEDULE + 1)
            byte, shift = ((end - 12) >> 3) + base, ((end - 12) & 7).astype(np.uint32)
            mask = np.full(stop - start, 4095, dtype=np.uint32)
        fits = int(np.searchsorted(end, nbits - 8 * base, side="right"))
        codes = ((words[byte[:fits]] >> shift[:fits]) & mask[:fits]).astype(np.int32)
        # The clear code is even and the end code follows it.
        special = (codes | 1) == end_code
        k = int(special.argmax()) if fits else 0
        if fits and special[k]:
            parts.append(codes[:k])
            segment = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if codes[k] == end_code:
                return segment, pos, "end"
            return segment, 8 * base + int(end[k]), "clear"
        parts.append(codes)
        if fits < stop - start:
            segment = np.concatenate(parts) if len(parts) > 1 else parts[0]
            return segment, pos, "data"
        start += fits
        chunk = min(chunk * 2, 1 << 16)
