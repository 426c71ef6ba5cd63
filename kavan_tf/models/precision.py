"""Running a trained model in reduced precision (bfloat16 / float16 mixed precision)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import keras

from kavan_tf.config import LossConfig
from kavan_tf.models.kavan import KavanModel

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def dtype_policy(policy: str) -> Iterator[None]:
    """Sets the global Keras dtype policy inside the block, then restores it."""
    if policy not in POLICIES:
        raise ValueError(f"`policy` must be one of {POLICIES}. Received: policy={policy!r}")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def with_precision(
    model: KavanModel, policy: str, temporal_dtype: str | None = None
) -> KavanModel:
    """A copy of ``model`` computing under ``policy``, with the same (float32) weights.

    ``"mixed_bfloat16"`` runs convolutions, matmuls and the recurrences in
    bfloat16 (fast on CPUs with AVX-512 BF16 and on recent accelerators)
    while variables and the output heads stay float32. ``temporal_dtype``
    (e.g. ``"float32"``) overrides the policy of the attention + temporal
    module alone.

    Example:

    ```python
    fast = with_precision(model, "mixed_bfloat16")
    export_saved_model(fast, "savedmodels", "kavan_bf16")
    ```
    """
    config = dataclasses.replace(model.model_config, temporal_dtype=temporal_dtype)
    with dtype_policy(policy):
        copy = KavanModel(config, model.label_config, name=model.name)
    copy.set_weights(model.get_weights())
    loss_config = getattr(model, "_kavan_compile_args", None)
    if loss_config is not None:  # compiled with the SPEC 6 defaults: evaluate alike
        copy.compile(loss_config=LossConfig(**loss_config))
    return copy
