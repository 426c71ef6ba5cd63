"""Graph functions that TensorFlow builds only when a GIF first needs them.

Most GIFs never take some of the decoder's branches: drawing frame by frame
(GIFs that are not plain: :mod:`kavan_tf.export.gif_whole`), LZW streams
giflib cannot decompress, screens too tall to resize in one batch. Inlined,
each such branch is lowered and turned into executor nodes on the first call
of every endpoint that holds it. :func:`rarely_taken` makes such a branch
one ``tf.function`` marked ``_noinline``: the calling graph holds one call
op, and TensorFlow builds the function's executor the first time a GIF takes
the branch, once per process. The function is still loaded, and registered
on the first call, with the rest of the SavedModel: docs/performance.md
measures what that leaves of the cold start. Each such function is traced
once (its ``input_signature`` is fixed), so every endpoint calls the same
copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf


@tf.autograph.experimental.do_not_convert
def rarely_taken(*input_signature: tf.TensorSpec) -> Callable[[Callable[..., Any]], Any]:
    """Decorator: ``fn`` as a ``tf.function`` instantiated on its first call.

    Its ops run on the CPU, as the rest of the decoder (docs/serving.md,
    "On a GPU host").

    Args:
        *input_signature: One ``tf.TensorSpec`` per argument.
    """
    @tf.autograph.experimental.do_not_convert
    def wrap(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def on_cpu(*args: tf.Tensor) -> Any:
            with tf.device("/device:CPU:0"):
                return fn(*args)

        return tf.function(on_cpu, input_signature=list(input_signature), autograph=False,
                           experimental_attributes={"_noinline": True})

    return wrap
