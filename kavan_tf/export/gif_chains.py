"""The sub-block chains of a GIF, followed in graph ops for the parser.

Extensions and image data are chains of sub-blocks (a length byte, that many
bytes) ended by a terminator (length 0). :func:`walk` follows one chain as
encoders write it in a few ops; :func:`chain_ends` and
:func:`extension_runs` are tables for any file, by pointer jumping, so that
no file costs the parser (:mod:`kavan_tf.export.gif_parse`) a step per
sub-block or per extension. Only files whose chains :func:`walk` leaves
unfinished, or with long runs of extensions, need the tables: they are
built when a file first does (:func:`~kavan_tf.export.lazy_graph.rarely_taken`).

Every function takes the file's int32 bytes followed by 16 zero bytes
(``padded``) and its length ``end``.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.data.gif_format import EXTENSION, GRAPHIC_CONTROL
from kavan_tf.export.lazy_graph import rarely_taken

# Sub-blocks walk checks at once for a run of equal lengths, and the
# sub-blocks it then follows one at a time.
_RUN_CHECK = 4096
_HOPS = 3


def walk(padded: tf.Tensor, end: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
    """Follows a sub-block chain from the length byte at ``q``: over a run of
    equal-length sub-blocks with one gather (encoders write runs of 255-byte
    sub-blocks), then ``_HOPS`` sub-blocks one at a time. Returns where it
    got: a terminator (length 0), the end of the file, or a sub-block the
    chain goes on from."""
    last = end + 15
    size = padded[tf.minimum(q, last)]
    stride = size + 1
    n = tf.where((q < end) & (size > 0), tf.minimum((end - q) // stride + 1, _RUN_CHECK), 0)
    starts = q + stride * tf.range(n)
    same = tf.equal(tf.gather(padded, tf.minimum(starts, last)), size) & (starts < end)
    run = tf.minimum(tf.reduce_min(tf.where(same, n, tf.range(n))), n)
    q = q + stride * run
    for _ in range(_HOPS):
        size = padded[tf.minimum(q, last)]
        q = tf.where((q >= end) | tf.equal(size, 0), q, q + 1 + size)
    return q


_BYTES = tf.TensorSpec([None], tf.int32)
_END = tf.TensorSpec([], tf.int32)


@rarely_taken(_BYTES, _END)
def chain_ends(padded: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
    """int32 ``[end + 1]``: for every position, where the sub-block chain that
    would start there ends (its terminator, or ``end`` where the file ends
    first), by pointer jumping: each pass doubles the sub-blocks every
    position has looked past, so a chain of any length costs ``log2`` passes
    over the file."""
    positions = tf.range(end + 1)
    lengths = padded[: end + 1]
    ends = tf.where((positions >= end) | tf.equal(lengths, 0), positions,
                    tf.minimum(positions + 1 + lengths, end))

    def jump(ends, _):
        further = tf.gather(ends, ends)
        return further, tf.reduce_any(tf.not_equal(further, ends))

    return tf.while_loop(lambda ends, moving: moving, jump, (ends, tf.constant(True)))[0]


@rarely_taken(_BYTES, _END, _BYTES)
def extension_runs(padded: tf.Tensor, end: tf.Tensor,
                   ends: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For every position, where a run of extension blocks from there ends
    (the first block that is not a whole extension), and the last graphic
    control extension in the run (``-1`` when none), by pointer jumping over
    ``ends`` (:func:`chain_ends`): a file of many extensions costs ``log2``
    passes, not one step per extension."""
    positions = tf.range(end + 1)
    chain = tf.gather(ends, tf.minimum(positions + 2, end))
    whole = tf.equal(padded[: end + 1], EXTENSION) & (positions + 2 <= end) & (chain < end)
    runs = tf.where(whole, chain + 1, positions)
    control = (whole & tf.equal(padded[1 : end + 2], GRAPHIC_CONTROL)
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
