"""The in-graph GIF decoder's refusals: the reference decoder's checks, as values.

Each check is a ``(holds, cause)`` pair; :func:`first_error` picks the cause
of the first that fails, in the reference decoder's order, so the graph
refuses a file with the same words as :mod:`kavan_tf.data.gif_format`
(the ``cause`` of its :class:`~kavan_tf.errors.GifDecodeError`). A refusal
is a string, not an ``Assert``: one bad file in a batch fails only itself.
"""

from __future__ import annotations

import tensorflow as tf

from kavan_tf.export.gif_parse import FAIL_FRAME_PIXELS, FAIL_MAX_FRAMES, stop_reason


def text(*parts: str | int | tf.Tensor) -> tf.Tensor:
    """A scalar string of ``parts`` joined: strings as they are, numbers in
    decimal (``tf.strings.format`` would quote string tensors)."""
    return tf.strings.join([
        tf.strings.as_string(part) if isinstance(part, tf.Tensor) and part.dtype.is_integer
        else str(part) if isinstance(part, int) else part
        for part in parts
    ])


def first_error(checks: list[tuple[tf.Tensor, tf.Tensor]]) -> tf.Tensor:
    """The message of the first ``(holds, message)`` check that does not hold, else ``""``.

    Checks go in the reference decoder's order, so a file with several
    faults gets the reference's message.
    """
    error = tf.constant("")
    for holds, message in reversed(checks):
        error = tf.where(holds, error, message)
    return error


def header_checks(data: tf.Tensor, max_frame_pixels: int) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """The reference decoder's checks of the header and the logical screen
    descriptor, in its order, as ``(holds, cause)`` pairs."""
    length = tf.strings.length(data)
    signature = tf.strings.substr(data + b"\0" * 6, 0, 6)
    screen = tf.io.decode_raw(tf.strings.substr(data + b"\0" * 13, 6, 4), tf.uint16,
                              little_endian=True)
    width, height = (tf.cast(screen[i], tf.int64) for i in (0, 1))
    flags = tf.cast(tf.io.decode_raw(tf.strings.substr(data + b"\0" * 13, 10, 1),
                                     tf.uint8)[0], tf.int32)
    palette_end = 13 + tf.where(
        tf.bitwise.bitwise_and(flags, 0x80) > 0,
        3 * tf.bitwise.left_shift(1, tf.bitwise.bitwise_and(flags, 7) + 1), 0)
    return [
        ((length >= 6) & tf.equal(tf.strings.substr(signature, 0, 3), b"GIF"),
         text("not a GIF file (the bytes do not start with GIF87a or GIF89a)")),
        (tf.equal(signature, b"GIF87a") | tf.equal(signature, b"GIF89a"),
         text("unknown GIF version (not GIF87a or GIF89a)")),
        (length >= 13, text("file ends inside the logical screen descriptor")),
        (width * height <= max_frame_pixels,
         text("logical screen ", width, "x", height, f" exceeds max_frame_pixels="
              f"{max_frame_pixels}")),
        (length >= palette_end, text("file ends inside the global palette")),
    ]


def structure_error(parsed: dict[str, tf.Tensor], max_frame_pixels: int,
                     max_total_pixels: int, max_frames: int):
    """``(cause, width, height)``: the reference decoder's refusal of the parsed
    structure (``""`` when none), and the logical screen (a zero side takes
    the first frame's extent)."""
    count, status, cut = parsed["count"], parsed["status"], parsed["cut_frame"]

    def first(name):
        return tf.concat([parsed[name], [0]], 0)[0]

    width = tf.where(tf.equal(parsed["width"], 0), first("left") + first("w"), parsed["width"])
    height = tf.where(tf.equal(parsed["height"], 0), first("top") + first("h"),
                      parsed["height"])
    screen = tf.cast(width, tf.int64) * tf.cast(height, tf.int64)
    total = tf.maximum(
        screen * tf.cast(count, tf.int64),
        tf.reduce_sum(tf.cast(parsed["w"], tf.int64) * tf.cast(parsed["h"], tf.int64)),
    )
    error = first_error([
        (tf.not_equal(status, FAIL_FRAME_PIXELS),
         text("frame ", count, " is ", cut[2], "x", cut[3],
              f", exceeding max_frame_pixels={max_frame_pixels}")),
        (tf.not_equal(status, FAIL_MAX_FRAMES), text(f"more than max_frames={max_frames} frames")),
        (count > 0, text("the file holds no image", _in_parentheses(stop_reason(parsed)))),
        (screen > 0, text("the logical screen and the first frame are empty")),
        (screen <= max_frame_pixels,
         text("logical screen ", width, "x", height,
              f" exceeds max_frame_pixels={max_frame_pixels}")),
        (total <= max_total_pixels,
         text(count, " frames of ", width, "x", height, " (", total,
              f" pixels) exceed max_total_pixels={max_total_pixels}")),
    ])
    return error, width, height


def _in_parentheses(reason: tf.Tensor) -> tf.Tensor:
    """`` (reason)``, or nothing when ``reason`` is empty (the parse reached the
    trailer), as the reference decoder words it."""
    return tf.where(tf.equal(reason, ""), "", tf.strings.join([" (", reason, ")"]))
