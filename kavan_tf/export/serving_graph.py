"""In-graph GIF decoding, TSN evaluation sampling and resizing for TF Serving.

TF Serving runs no Python, so the ``serving_default`` signature decodes GIF
bytes inside the graph, with stock ops only. Decoding follows the reference
decoder :func:`kavan_tf.data.gif.decode_gif` (see
:mod:`kavan_tf.export.gif_graph`): the same composited frames, the same
limits checked from the file's structure before any pixel is decoded, and
the same refusals, as values (each GIF's ``error``, the reference decoder's
cause word for word).

Sampling (:func:`kavan_tf.export.gif_graph.eval_frame_indices`) matches
:func:`kavan_tf.data.sampling.sample_indices` in evaluation
mode: segment ``k`` of ``T`` equal segments (by frame index) contributes its
middle frame ``floor((k + 1/2) * n / T)``; GIFs with fewer than ``T`` frames
repeat frames evenly through the same formula. Frames are stretched to the
model's ``image_size`` with Pillow's bilinear filter, re-implemented in graph
ops (:func:`resize_stretch`), and kept whole-valued, as the training pipeline
feeds them.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.config import DataConfig
from kavan_tf.export.gif_graph import decode_gif_sampled
from kavan_tf.export.lazy_graph import rarely_taken

_PRECISION_BITS = 22  # Pillow's fixed-point precision for 8-bit resampling


def resize_stretch(frames: tf.Tensor, image_size: tuple[int, int] | tf.Tensor) -> tf.Tensor:
    """Stretches uint8 frames ``[N, h, w, 3]`` to ``image_size``; float32 0-255 out.

    A graph version of Pillow's 8-bit bilinear resampling, which the Python
    pipeline uses (:func:`kavan_tf.data.sampling.resize_frames`): a triangle
    filter widened by the scale factor when shrinking (antialiasing), 22-bit
    fixed-point coefficients, a horizontal then a vertical pass, each rounded
    to uint8. The sums are exact (see :func:`_resample`), so results equal
    Pillow's integer arithmetic.
    Pillow 13 sometimes runs the vertical pass first when both axes shrink;
    the results then differ by at most one grey level on some pixels.

    Args:
        frames: uint8 (or whole-valued) ``[N, h, w, 3]``.
        image_size: ``(height, width)``: ints, or an int32 ``[2]`` tensor
            (then the result's height and width are not static).

    Returns:
        float32 ``[N, height, width, 3]`` with whole values in [0, 255].
    """
    static = not isinstance(image_size, tf.Tensor)
    size = tf.cast(tf.stack([image_size[0], image_size[1]]), tf.int32)
    frames = tf.cast(frames, tf.uint8)
    shape = tf.shape(frames, out_type=tf.int64)
    # The horizontal pass makes [N, h, width, 3] before the vertical pass
    # shrinks it: for tall frames (1 x 65535) resize one frame at a time, so
    # that memory stays bounded by one frame's intermediate.
    intermediate = shape[0] * shape[1] * tf.cast(size[1], tf.int64) * 3
    resized = tf.cond(intermediate > _BATCHED_RESIZE_ELEMENTS,
                      lambda: _stretch_each(frames, size), lambda: _stretch(frames, size))
    if static:
        resized = tf.ensure_shape(resized, [None, image_size[0], image_size[1], 3])
    return resized


_FRAMES = tf.TensorSpec([None, None, None, 3], tf.uint8)
_SIZE = tf.TensorSpec([2], tf.int32)


# Largest [N, h, width, 3] intermediate (elements) resized in one batch.
_BATCHED_RESIZE_ELEMENTS = 32 * 2**20


@tf.function(input_signature=[_FRAMES, _SIZE], autograph=False)
def _stretch(frames: tf.Tensor, image_size: tf.Tensor) -> tf.Tensor:
    """:func:`resize_stretch` of a batch of frames, in one pass each way (one
    function, traced once for every size the endpoints resize to)."""
    height, width = image_size[0], image_size[1]
    shape = tf.shape(frames)
    count, rows, cols = shape[0], shape[1], shape[2]
    # Both passes resample axis 1 of [N, in, M]: the horizontal pass runs on
    # the transposed frames.
    x = tf.transpose(frames, [0, 2, 1, 3])  # [N, w, h, 3]
    x = _resample(tf.reshape(x, (count, cols, rows * 3)), *_pillow_bilinear_taps(cols, width))
    x = tf.transpose(tf.reshape(x, (count, width, rows, 3)), [0, 2, 1, 3])  # [N, h, W, 3]
    x = _resample(tf.reshape(x, (count, rows, width * 3)), *_pillow_bilinear_taps(rows, height))
    return tf.cast(tf.reshape(x, (count, height, width, 3)), tf.float32)


@rarely_taken(_FRAMES, _SIZE)
def _stretch_each(frames: tf.Tensor, image_size: tf.Tensor) -> tf.Tensor:
    """:func:`_stretch` one frame at a time (bounded memory for tall frames)."""
    return tf.map_fn(lambda frame: _stretch(frame[None], image_size)[0], frames,
                     parallel_iterations=1,
                     fn_output_signature=tf.TensorSpec([None, None, 3], tf.float32))


def _pillow_bilinear_taps(in_size: tf.Tensor,
                          out_size: int | tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Pillow's fixed-point bilinear coefficients as ``K`` taps per output pixel.

    Follows ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` of Pillow's
    ``libImaging/Resample.c`` (filter support 1, ``PRECISION_BITS = 22``).
    Each output pixel reads the ``K = ceil(2 * support) + 1`` input pixels
    from its window start (padding taps get weight 0), so a pass costs
    ``out x K`` rather than ``out x in``.

    Returns:
        ``(indices int32 [out, K], weights int32 [out, K])``: 22-bit
        fixed-point coefficients, as Pillow uses them.
    """
    size = tf.cast(in_size, tf.float64)
    scale = size / tf.cast(out_size, tf.float64)
    filter_scale = tf.maximum(scale, 1.0)
    support = filter_scale
    centre = ((tf.range(out_size, dtype=tf.float64) + 0.5) * scale)[:, tf.newaxis]
    first = tf.maximum(tf.floor(centre - support + 0.5), 0.0)
    stop = tf.minimum(tf.floor(centre + support + 0.5), size)
    taps = tf.cast(tf.math.ceil(2.0 * support), tf.int32) + 1
    source = first + tf.cast(tf.range(taps), tf.float64)[tf.newaxis, :]
    triangle = tf.maximum(1.0 - tf.abs((source - centre + 0.5) * (1.0 / filter_scale)), 0.0)
    weights = tf.where(source < stop, triangle, 0.0)
    weights = tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=1, keepdims=True))
    indices = tf.cast(tf.minimum(source, size - 1.0), tf.int32)
    return indices, tf.cast(tf.floor(0.5 + weights * 2.0**_PRECISION_BITS), tf.int32)


# Largest int32 window array (bytes) the block-matmul pass may make; larger
# frames (big downscales) take the tap-by-tap pass, whose arrays are output-sized.
_BLOCK_PASS_BYTES = 256 * 2**20


def _resample(x: tf.Tensor, indices: tf.Tensor, weights: tf.Tensor, block: int = 8) -> tf.Tensor:
    """One pass along axis 1 of uint8 ``[N, in, M]`` -> ``[N, out, M]``, as Pillow rounds it.

    Both ways of computing it give Pillow's integer results exactly: blocks of
    output pixels as small matrix products (:func:`_resample_blocks`, faster)
    when their int32 windows fit in ``_BLOCK_PASS_BYTES``, otherwise the
    taps one at a time (:func:`_resample_taps`, memory bounded by the output).
    """
    in_size, out_size = tf.shape(x)[1], tf.shape(indices)[0]
    taps = tf.shape(indices)[1]
    blocks = -(-out_size // block)
    # Each block reads at most its pixels' input range plus the filter support.
    span = tf.cast(tf.math.ceil(block * in_size / out_size), tf.int32) + taps + 1
    window_bytes = (
        tf.cast(tf.shape(x)[0] * tf.shape(x)[2], tf.int64)
        * tf.cast(blocks * tf.minimum(span, in_size), tf.int64)
        * 4
    )
    return tf.cond(
        window_bytes <= _BLOCK_PASS_BYTES,
        lambda: _resample_blocks(x, indices, weights, block),
        lambda: _resample_taps(x, indices, weights),
    )


def _resample_blocks(x: tf.Tensor, indices: tf.Tensor, weights: tf.Tensor, block: int):
    """:func:`_resample` as one batched product of ``block``-pixel output blocks.

    Block ``b`` reads the ``span`` input rows from its first tap on and is one
    small matrix product ``[block, span] x [span, M]`` in int32, as Pillow
    sums: its 22-bit coefficients never negative and summing to about
    ``2^22``, times 8-bit pixels, stay below ``2^31``. Each sum is rounded
    as Pillow rounds it, ``(sum + 2^21) >> 22``, and clipped to 255.
    """
    in_size = tf.shape(x)[1]
    out_size = tf.shape(indices)[0]
    blocks = -(-out_size // block)
    pad = [[0, blocks * block - out_size], [0, 0]]
    indices = tf.reshape(tf.pad(indices, pad), (blocks, block, -1))
    weights = tf.reshape(tf.pad(weights, pad), (blocks, block, -1))
    used = weights > 0
    first = tf.reduce_min(tf.where(used, indices, in_size), axis=[1, 2])  # [blocks]
    first = tf.minimum(first, in_size - 1)  # a block of padding only
    last = tf.reduce_max(tf.where(used, indices, 0), axis=[1, 2])
    span = tf.reduce_max(tf.maximum(last - first, 0)) + 1
    # Coefficient matrices [blocks, block, span]: each tap's weight at its row
    # (padding taps have weight 0 and add nothing).
    where = tf.stack(
        [
            tf.broadcast_to(tf.range(blocks)[:, None, None], tf.shape(indices)),
            tf.broadcast_to(tf.range(block)[None, :, None], tf.shape(indices)),
            tf.where(used, indices - first[:, None, None], 0),
        ],
        axis=-1,
    )
    coefficients = tf.scatter_nd(
        tf.reshape(where, (-1, 3)), tf.reshape(weights, [-1]), tf.stack([blocks, block, span])
    )
    rows = tf.minimum(first[:, None] + tf.range(span)[None, :], in_size - 1)
    count, columns = tf.shape(x)[0], tf.shape(x)[2]
    windows = tf.reshape(
        tf.gather(x, tf.reshape(rows, [-1]), axis=1), (count, blocks, span, columns)
    )
    sums = tf.matmul(coefficients[None], tf.cast(windows, tf.int32))  # [N, blocks, block, M]
    return _pillow_rounded(tf.reshape(sums, (count, blocks * block, columns))[:, :out_size])


def _pillow_rounded(sums: tf.Tensor) -> tf.Tensor:
    """int32 sums of 22-bit coefficients times pixels as Pillow rounds and
    clips them to uint8: ``(sum + 2^21) >> 22``, at most 255 (the sums are
    never negative)."""
    rounded = tf.bitwise.right_shift(sums + (1 << (_PRECISION_BITS - 1)), _PRECISION_BITS)
    return tf.cast(tf.minimum(rounded, 255), tf.uint8)


# Largest int32 accumulator (elements) of one chunk of the tap-by-tap pass.
_TAP_CHUNK_ELEMENTS = 16 * 2**20


@rarely_taken(tf.TensorSpec([None, None, None], tf.uint8), tf.TensorSpec([None, None], tf.int32),
              tf.TensorSpec([None, None], tf.int32))
def _resample_taps(x: tf.Tensor, indices: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """:func:`_resample` summing the taps one at a time, in int32 as Pillow does.

    8-bit values times 22-bit coefficients summed over a few taps stay below
    2^31; no ``[N, out, K, M]`` array is made, and axis 2 is processed in
    chunks so that the int32 sums never exceed ``_TAP_CHUNK_ELEMENTS``
    (a 1 x 65535 frame would otherwise need gigabytes).
    """
    count, columns = tf.shape(x)[0], tf.shape(x)[2]
    out_size = tf.shape(indices)[0]
    chunk = tf.maximum(1, _TAP_CHUNK_ELEMENTS // tf.maximum(count * out_size, 1))
    chunks = (columns + chunk - 1) // chunk

    def one_chunk(c, pieces):
        part = x[:, :, c * chunk : (c + 1) * chunk]

        def add_tap(tap, total):
            weight = tf.reshape(weights[:, tap], [1, -1, 1])
            tap_values = tf.cast(tf.gather(part, indices[:, tap], axis=1), tf.int32)
            return tap + 1, total + tap_values * weight

        shape = tf.stack([count, out_size, tf.shape(part)[2]])
        _, total = tf.while_loop(
            lambda tap, _: tap < tf.shape(weights)[1],
            add_tap,
            (tf.constant(0), tf.zeros(shape, tf.int32)),
        )
        return c + 1, pieces.write(c, tf.transpose(_pillow_rounded(total), [2, 0, 1]))

    pieces = tf.TensorArray(tf.uint8, size=chunks, infer_shape=False)
    _, pieces = tf.while_loop(lambda c, _: c < chunks, one_chunk, (tf.constant(0), pieces))
    # Chunks are concatenated along their first axis (the pass's axis 2).
    return tf.transpose(pieces.concat(), [1, 2, 0])


def decode_gif(gif: tf.Tensor, num_frames: int,
               data_config: DataConfig | None = None) -> dict[str, tf.Tensor]:
    """Decodes (as the reference decoder) and samples (TSN evaluation) one GIF.

    :func:`kavan_tf.export.gif_graph.decode_gif_sampled` with the settings of
    ``data_config`` (``DataConfig()`` when ``None``): ``frames`` (uint8
    ``[D, H, W, 3]``, the distinct sampled frames at the GIF's own size),
    ``slots``, ``indices`` and ``error``.
    """
    data = data_config if data_config is not None else DataConfig()
    red, green, blue = data.background
    return decode_gif_sampled(
        gif,
        num_frames,
        background=(int(red), int(green), int(blue)),
        max_frame_pixels=data.max_frame_pixels,
        max_total_pixels=data.max_total_pixels,
        max_frames=data.max_frames,
    )


def resize_sampled(frames: tf.Tensor, slots: tf.Tensor,
                   image_size: tuple[int, int] | tf.Tensor) -> tf.Tensor:
    """The ``[T, h, w, 3]`` samples of a GIF at ``image_size``: its distinct
    sampled ``frames`` (:func:`~kavan_tf.export.gif_graph.decode_gif_sampled`)
    each resized once (:func:`resize_stretch`), then repeated as ``slots`` says."""
    return tf.gather(resize_stretch(frames, image_size), slots)


def display_size(size: tf.Tensor, longest: int) -> tf.Tensor:
    """int32 ``[2]``: ``size`` (height, width) scaled down to at most ``longest``
    on the long side, as :func:`kavan_tf.predict.inputs.display_frames`
    rounds it (half to even); never scaled up."""
    size = tf.cast(size, tf.float64)
    scale = tf.constant(longest, tf.float64) / tf.reduce_max(size)
    scaled = tf.maximum(tf.constant(1.0, tf.float64), tf.round(size * scale))
    return tf.cast(tf.where(scale >= 1.0, size, scaled), tf.int32)


def map_gifs(one, gifs: tf.Tensor, output_signature: dict[str, tf.TensorSpec],
             ) -> dict[str, tf.Tensor]:
    """``one`` on each GIF of ``[B]`` strings, several at once on the CPU.

    The iterations are independent (each GIF's error is its own value), so
    the while loop runs as many at once as the inter-op threads allow.
    """
    with tf.device("/device:CPU:0"):
        return tf.map_fn(one, gifs, fn_output_signature=output_signature,
                         parallel_iterations=_PARALLEL_GIFS)


# GIFs of a batch decoded at once, at most (each holds its canvas and frames).
_PARALLEL_GIFS = 16
