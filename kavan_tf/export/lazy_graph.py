"""Graph functions that TensorFlow builds only when a GIF first needs them.

Most GIFs never take some of the decoder's branches: LZW streams giflib
cannot decompress, streams that end early, screens too tall to resize in one
batch. Inlined, each such branch is optimised and turned into executor
nodes on the first call of every endpoint that holds it, which is most of a
served model's cold start. :func:`rarely_taken` makes such a branch one
``tf.function`` marked ``_noinline``: the calling graph holds one call op,
and TensorFlow instantiates the function's body (optimising it then) the
first time a GIF takes the branch, once per process. Each such function is
traced once (its ``input_signature`` is fixed), so every endpoint calls the
same copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf


def rarely_taken(*input_signature: tf.TensorSpec) -> Callable[[Callable[..., Any]], Any]:
    """Decorator: ``fn`` as a ``tf.function`` instantiated on its first call.

    Its ops run on the CPU, as the rest of the decoder (docs/serving.md,
    "Placement").

    Args:
        *input_signature: One ``tf.TensorSpec`` per argument.
    """
    def wrap(fn: Callable[..., Any]) -> Any:
        @functools.wraps(fn)
        def on_cpu(*args: tf.Tensor) -> Any:
            with tf.device("/device:CPU:0"):
                return fn(*args)

        return tf.function(on_cpu, input_signature=list(input_signature), autograph=False,
                           experimental_attributes={"_noinline": True})

    return wrap
