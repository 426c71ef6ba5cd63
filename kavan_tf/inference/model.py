"""The inference copy of a KAVAN model: the same predictions, a faster graph."""

from __future__ import annotations

from typing import Any

import keras

from kavan_tf.config import ModelConfig, as_config
from kavan_tf.inference.folding import fold_batch_norms
from kavan_tf.inference.gate_major import mark_gate_major
from kavan_tf.models.kavan import KavanModel


@keras.saving.register_keras_serializable(package="kavan_tf")
class InferenceModel(KavanModel):
    """A :class:`KavanModel` built for prediction: the backbone's batch
    normalisations folded into its convolutions (:func:`fold_batch_norms`)
    and, with ``gate_major_lstm``, the LSTM kernels stored gate-major
    (:mod:`kavan_tf.inference.gate_major`; :func:`for_inference` picks the
    layout by precision).

    Build it with :func:`kavan_tf.inference.for_inference` (or
    :func:`kavan_tf.inference.with_precision`), which copies and converts a
    trained model's weights; its own weights are not a trained model's, so
    ``set_weights`` from a :class:`KavanModel` would scramble them. It saves
    and reloads like any ``.keras`` model. Keep training the original.

    Args:
        model_config: The original's :class:`kavan_tf.config.ModelConfig`
            (its backbone must be frozen).
        label_config: Its :class:`kavan_tf.config.LabelConfig`.
        fold_batch_norm: Fold the backbone's batch normalisations.
        gate_major_lstm: Store the LSTM kernels gate-major.
        **kwargs: :class:`KavanModel` arguments.
    """

    def __init__(self, model_config=None, label_config=None, *, fold_batch_norm=True,
                 gate_major_lstm=True, **kwargs: Any) -> None:
        model_config = as_config(ModelConfig, model_config, "model_config")
        if fold_batch_norm and model_config.trainable_backbone:
            raise ValueError(
                "`fold_batch_norm` is for inference graphs and cannot be combined with "
                "trainable_backbone=True (a folded backbone has no batch normalisation left "
                "to train). Received: fold_batch_norm=True"
            )
        super().__init__(
            model_config,
            label_config,
            backbone_transform=fold_batch_norms if fold_batch_norm else None,
            **kwargs,
        )
        if gate_major_lstm:
            mark_gate_major(self.get_layer("temporal"))
        self.fold_batch_norm = bool(fold_batch_norm)
        self.gate_major_lstm = bool(gate_major_lstm)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fold_batch_norm": self.fold_batch_norm,
                "gate_major_lstm": self.gate_major_lstm}
