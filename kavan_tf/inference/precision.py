"""Running a trained model in reduced precision (bfloat16 / float16 mixed precision)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from kavan_tf.config import PRECISION_POLICIES as POLICIES
from kavan_tf.config import LossConfig
from kavan_tf.inference.folding import fold_batch_norms, refresh_state
from kavan_tf.inference.gate_major import convert_kernels
from kavan_tf.inference.model import InferenceModel
from kavan_tf.models.kavan import KavanModel, global_policy


@contextlib.contextmanager
def dtype_policy(policy: str) -> Iterator[None]:
    """Sets the global Keras dtype policy inside the block, then restores it."""
    if policy not in POLICIES:
        raise ValueError(f"`policy` must be one of {POLICIES}. Received: policy={policy!r}")
    with global_policy(policy):
        yield


def with_precision(
    model: KavanModel,
    policy: str,
    temporal_dtype: str | None = None,
    fold_batch_norm: bool | None = None,
    gate_major_lstm: bool | None = None,
) -> KavanModel:
    """A copy of ``model`` computing under ``policy``, with the same (float32) weights.

    ``"mixed_bfloat16"`` runs convolutions, matmuls and the recurrences in
    bfloat16 (fast on CPUs with AVX-512 BF16 and on recent accelerators)
    while variables and the output heads stay float32. ``"bfloat16"`` also
    stores the weights in bfloat16, which saves casting them at every call
    (for inference; the output heads stay float32).
    ``temporal_dtype`` (e.g. ``"float32"``) overrides the policy of the
    attention + temporal module alone.

    Args:
        model: A KavanModel.
        policy: ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"`` or
            ``"bfloat16"``.
        temporal_dtype: Policy of the temporal module alone; ``None``: ``policy``.
        fold_batch_norm: Fold the backbone's batch normalisations into its
            convolutions (an inference graph, see :func:`fold_batch_norms`);
            ``None`` keeps the model's setting.
        gate_major_lstm: Store the LSTM kernels gate-major, the layout
            small-batch inference reads fastest (:mod:`kavan_tf.inference.gate_major`);
            the weights are converted. ``None`` keeps the model's setting.

    Returns:
        An :class:`InferenceModel` when either is set, else a :class:`KavanModel`.

    Example:

    ```python
    fast = with_precision(model, "mixed_bfloat16")
    export_saved_model(fast, "savedmodels", "kavan_bf16")
    ```
    """
    source_fold = getattr(model, "fold_batch_norm", False)
    source_layout = getattr(model, "gate_major_lstm", False)
    fold = source_fold if fold_batch_norm is None else bool(fold_batch_norm)
    if source_fold and not fold:
        raise ValueError(
            "The model's batch normalisations are already folded and cannot be restored. "
            "Received: fold_batch_norm=False"
        )
    if gate_major_lstm is None:
        gate_major_lstm = source_layout
    config = dataclasses.replace(model.model_config, temporal_dtype=temporal_dtype)
    if fold:  # an inference graph: nothing left to fine-tune in the backbone
        config = dataclasses.replace(config, trainable_backbone=False)
    with dtype_policy(policy):
        if fold or gate_major_lstm:
            copy: KavanModel = InferenceModel(
                config, model.label_config, fold_batch_norm=fold,
                gate_major_lstm=bool(gate_major_lstm), name=model.name,
                load_backbone_weights=False,
            )
        else:
            copy = KavanModel(config, model.label_config, name=model.name,
                              load_backbone_weights=False)
    if fold and not source_fold and config.input_mode == "frames":
        for layer in copy.layers:
            source = model.get_layer(layer.name)
            if layer.name == "backbone":  # Framewise(backbone)
                layer.layer.set_weights(fold_batch_norms(source.layer).get_weights())
            elif layer.weights:
                layer.set_weights(source.get_weights())
    else:
        copy.set_weights(model.get_weights())
    if bool(gate_major_lstm) != source_layout:
        convert_kernels(copy.get_layer("temporal"), inverse=source_layout)
    refresh_state(copy)
    loss_config = getattr(model, "_kavan_compile_args", None)
    if loss_config is not None:  # compiled with the default losses (docs/model.md): evaluate alike
        copy.compile(loss_config=LossConfig(**loss_config))
    return copy


# for_inference precision -> dtype policy
PRECISIONS = {"float32": "float32", "bfloat16": "bfloat16", "float16": "mixed_float16"}


def for_inference(
    model: KavanModel,
    precision: str = "float32",
    temporal_dtype: str | None = None,
    gate_major_lstm: bool | None = None,
) -> KavanModel:
    """The fastest graph computing ``model``'s predictions: what ``kavan export`` serves.

    The backbone's batch normalisations are folded into its convolutions
    (:func:`fold_batch_norms`), the LSTM kernels are stored in the layout
    that the precision reads fastest, and the model computes in ``precision``:

    - ``"float32"``;
    - ``"bfloat16"``: weights stored and computed in bfloat16 (AVX-512 BF16
      and AMX CPUs, TPUs, recent GPUs), which also halves the weights the
      recurrence reads at every step;
    - ``"float16"``: mixed float16, for GPUs.

    The output heads and outputs are float32. The copy is for prediction
    only; keep training the original. ``benchmarks/bench_inference.py``
    measures the speed and accuracy of each step (docs/performance.md).

    Args:
        model: A trained KavanModel.
        precision: One of ``"float32"``, ``"bfloat16"``, ``"float16"``.
        temporal_dtype: Policy of the attention + temporal module alone;
            ``None``: the precision's.
        gate_major_lstm: Store the LSTM kernels gate-major
            (:mod:`kavan_tf.inference.gate_major`) instead of input-major, as
            trained. ``None``: gate-major for bfloat16 only. bfloat16 products
            read gate-major kernels faster on both CPUs measured; float32 ones
            read input-major kernels 3.4x faster (the head at batch 8) on a
            2-core AVX2 CPU and gate-major ones about 8 % faster on an AVX-512
            one (docs/performance.md, ``benchmarks/bench_lstm_bandwidth.py``).

    Example:

    ```python
    fast = for_inference(model, "bfloat16")
    outputs = fast.predict(frames)
    ```
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {list(PRECISIONS)}. Received: precision={precision!r}"
        )
    return with_precision(
        model,
        PRECISIONS[precision],
        temporal_dtype=temporal_dtype,
        fold_batch_norm=True,
        gate_major_lstm=precision == "bfloat16" if gate_major_lstm is None
        else bool(gate_major_lstm),
    )
