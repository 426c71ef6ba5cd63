"""The KAVAN model: backbone -> keypoint attention -> LSTM / HS-LSTM -> heads."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import keras

from kavan_tf.card import CARD_FILE, card_of, set_card
from kavan_tf.config import (
    KavanConfig,
    LabelConfig,
    LossConfig,
    ModelConfig,
    TrainConfig,
    as_config,
)
from kavan_tf.layers.category_from_intensities import CategoryFromIntensities
from kavan_tf.layers.framewise import Framewise
from kavan_tf.layers.temporal_encoder import TemporalEncoder
from kavan_tf.losses.intensity import IntensityLoss
from kavan_tf.losses.keypoint import KeypointHeatmapLoss
from kavan_tf.metrics.regression import EmotionNMSE, GifNMSE, RankError, SpearmanPerGif
from kavan_tf.models.affect import CategoryExpectation
from kavan_tf.models.backbones import backbone_feature_shape, build_backbone
from kavan_tf.models.distributed_fit import DistributedFitFixes
from kavan_tf.optimizers import FusedAdam

logger = logging.getLogger(__name__)

OUTPUT_NAMES = ("intensities", "category", "attention", "valence", "arousal")


@keras.saving.register_keras_serializable(package="kavan_tf")
class KavanModel(DistributedFitFixes, keras.Model):
    """Keypoint Attended Visual Attention Network (paper Fig. 2), any ablation row.

    A functional graph wrapped in a class. Input ``frames`` ``[B, T, H, W, 3]``
    (raw RGB 0-255; preprocessing and the backbone are inside) or ``features``
    ``[B, T, h, w, D]`` (cached backbone features). Outputs, by name:

    - ``intensities`` ``[B, E]``: tanh intensities of the emotions;
    - ``category`` ``[B, C]``: category probabilities (with ``multitask=False``
      read off the intensities, see :class:`CategoryFromIntensities`);
    - ``attention`` ``[B, T, h, w]``: the masks ``alpha`` (uniform when
      attention is off);
    - ``valence``, ``arousal`` ``[B]``: expected valence and arousal in
      [-1, 1], ``sum_c category[c] * label_config.category_valence[c]`` (and
      ``category_arousal``), docs/model.md#valence-and-arousal. No weights and
      no loss.

    The model's card (:mod:`kavan_tf.model_card`) is saved inside the
    ``.keras`` file (:meth:`save_assets`) and read back by ``load_model``.

    Args:
        model_config: A :class:`ModelConfig` or a dict of its fields.
        label_config: A :class:`LabelConfig` or a dict of its fields.
        load_backbone_weights: Load ``model_config.backbone_weights`` into the
            backbone. ``False`` when every weight is about to be overwritten
            (loading a ``.keras`` file, :func:`kavan_tf.inference.with_precision`),
            so that no ImageNet download or weights file is needed.
        backbone_transform: Applied to the built backbone (for the inference
            copies of :mod:`kavan_tf.inference`, which fold it).
        **kwargs: ``keras.Model`` arguments (e.g. ``name``).

    Example:

    ```python
    config = ModelConfig(backbone="small", backbone_weights=None, image_size=(112, 112),
                         hidden_size=128)
    model = KavanModel(config)
    model.compile()                      # docs/model.md losses and metrics, LossConfig defaults
    model.fit(dataset, epochs=3)         # ({"frames": ...}, {"intensities": ..., ...})
    ```
    """

    def __init__(
        self,
        model_config: ModelConfig | dict[str, Any] | None = None,
        label_config: LabelConfig | dict[str, Any] | None = None,
        *,
        load_backbone_weights: bool = True,
        backbone_transform: Callable[[keras.Model], keras.Model] | None = None,
        **kwargs: Any,
    ) -> None:
        model_config = as_config(ModelConfig, model_config, "model_config")
        label_config = as_config(LabelConfig, label_config, "label_config")
        # The global dtype policy the layers were built under (saved, so that a
        # bfloat16 inference copy reloads in bfloat16).
        policy = keras.mixed_precision.global_policy().name
        inputs, features = _inputs(model_config, load_backbone_weights, backbone_transform)
        grid_cells = features.shape[2] * features.shape[3]
        w_res_init = model_config.w_res_init
        if w_res_init is None:
            w_res_init = 1.0 / grid_cells

        representation, attention = TemporalEncoder(
            temporal=model_config.temporal,
            units=model_config.hidden_size,
            attention=model_config.attention,
            attention_size=model_config.attention_size,
            w_res_init=w_res_init,
            tiers=model_config.tiers,
            node_size=model_config.node_size,
            tier1=model_config.hs_tier1,
            context=model_config.hs_context,
            dtype=model_config.temporal_dtype,
            name="temporal",
        )(features)
        if model_config.dropout:
            representation = keras.layers.Dropout(model_config.dropout, name="dropout")(
                representation
            )

        head_input = representation
        if model_config.multitask:
            category = keras.layers.Dense(
                label_config.num_categories,
                activation="softmax",
                dtype="float32",
                name="category",
            )(representation)
            if model_config.category_prior:
                head_input = keras.layers.Concatenate(name="category_prior")(
                    [representation, category]
                )
        intensities = keras.layers.Dense(
            label_config.num_emotions,
            activation="tanh",
            dtype="float32",
            name="intensities",
        )(head_input)
        if not model_config.multitask:
            category = CategoryFromIntensities(
                label_config.emotion_to_category().tolist(), dtype="float32", name="category"
            )(intensities)
        attention = keras.layers.Identity(dtype="float32", name="attention")(attention)
        valence = CategoryExpectation(label_config.category_valence, dtype="float32",
                                      name="valence")(category)
        arousal = CategoryExpectation(label_config.category_arousal, dtype="float32",
                                      name="arousal")(category)

        super().__init__(
            inputs=inputs,
            outputs={"intensities": intensities, "category": category, "attention": attention,
                     "valence": valence, "arousal": arousal},
            **kwargs,
        )
        self.model_config = model_config
        self.label_config = label_config
        self.dtype_policy_name = policy

    @classmethod
    def from_kavan_config(cls, config: KavanConfig, **kwargs: Any) -> KavanModel:
        """Builds the model of a full experiment config."""
        return cls(config.model, config.labels, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, _with_affect_targets(y, y_pred), y_pred, sample_weight,
                                    training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, _with_affect_targets(y, y_pred), y_pred, sample_weight)

    def save_assets(self, dir_path: str) -> None:
        """Writes the model card, if any, into the ``.keras`` file (Keras' saving API)."""
        card = card_of(self)
        if card is not None:
            with open(os.path.join(dir_path, CARD_FILE), "w", encoding="utf-8") as f:
                json.dump(card, f, indent=2)

    def load_assets(self, dir_path: str) -> None:
        """Reads back the card :meth:`save_assets` wrote (files without one have none)."""
        path = os.path.join(dir_path, CARD_FILE)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f, contextlib.suppress(ValueError):
                set_card(self, json.load(f))  # a card of another format is left out

    def get_config(self) -> dict[str, Any]:
        return {
            "model_config": dataclasses.asdict(self.model_config),
            "label_config": dataclasses.asdict(self.label_config),
            "name": self.name,
            "trainable": self.trainable,
            "dtype_policy_name": self.dtype_policy_name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> KavanModel:
        """Rebuilds a saved model's graph, for its saved weights to be loaded into.

        The backbone's weights are not loaded (no ImageNet download): the
        caller (``keras.saving.load_model``) overwrites every weight. To build
        a new model from a config, call ``KavanModel(model_config, ...)``.
        """
        config = dict(config)
        policy = config.pop("dtype_policy_name", None)
        with global_policy(policy or keras.mixed_precision.global_policy().name):
            return cls(**config, load_backbone_weights=False)

    def compile(
        self,
        optimizer: Any = "auto",
        loss: Any = "auto",
        loss_weights: Any = "auto",
        metrics: Any = "auto",
        loss_config: LossConfig | None = None,
        learning_rate: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Compiles with the losses and metrics of docs/model.md unless the caller overrides them.

        ``L = L_RG + w_C L_C + w_RANK L_RANK + w_kp L_kp``: ``L_RG`` and
        ``L_RANK`` form the ``intensities`` loss, ``L_C`` the ``category``
        loss (multi-task models only) and ``L_kp`` the ``attention`` loss
        (attention models only).

        Args:
            optimizer: ``"auto"`` = Adam with ``learning_rate``, as
                :class:`kavan_tf.optimizers.FusedAdam` (Keras' Adam
                with TensorFlow's one-pass update kernel).
            loss: ``"auto"`` or a dict keyed by output name.
            loss_weights: ``"auto"`` or a dict keyed by output name.
            metrics: ``"auto"`` or a dict keyed by output name.
            loss_config: Loss weights and forms; ``LossConfig()`` by default.
            learning_rate: Used when ``optimizer="auto"``; ``TrainConfig``'s
                default when ``None``.
            **kwargs: Passed to ``keras.Model.compile``.
        """
        loss_config = loss_config if loss_config is not None else LossConfig()
        if learning_rate is None:
            learning_rate = TrainConfig().learning_rate
        if not isinstance(loss_config, LossConfig):
            raise ValueError(
                f"`loss_config` must be a LossConfig. Received: loss_config={loss_config!r}"
            )
        # Remembered so that a reloaded .keras model compiles the same way.
        self._kavan_compile_args = (
            dataclasses.asdict(loss_config)
            if (loss, loss_weights, metrics) == ("auto", "auto", "auto")
            else None
        )
        if optimizer == "auto":
            optimizer = FusedAdam(learning_rate=learning_rate)
        if loss == "auto":
            loss = self.default_losses(loss_config)
        if loss_weights == "auto":
            loss_weights = {
                "intensities": 1.0,
                "category": loss_config.w_c,
                "attention": loss_config.w_kp,
            }
            loss_weights = {name: w for name, w in loss_weights.items() if name in loss}
        if metrics == "auto":
            metrics = self.default_metrics(loss_config)
        super().compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics, **kwargs
        )

    def get_compile_config(self) -> dict[str, Any] | None:
        config = super().get_compile_config()
        if config is not None and getattr(self, "_kavan_compile_args", None) is not None:
            config = {"optimizer": config["optimizer"], "loss_config": self._kavan_compile_args}
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        if "loss_config" not in config:
            return super().compile_from_config(config)
        optimizer = keras.optimizers.deserialize(config["optimizer"])
        self.compile(optimizer=optimizer, loss_config=LossConfig(**config["loss_config"]))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def default_losses(self, loss_config: LossConfig) -> dict[str, keras.losses.Loss]:
        """The losses (docs/model.md) keyed by output name; outputs without a loss are left out."""
        losses: dict[str, keras.losses.Loss] = {
            "intensities": IntensityLoss(
                rank_weight=loss_config.w_rank,
                rank_surrogate=loss_config.rank_surrogate,
                rank_temperature=loss_config.rank_temperature,
                epsilon=loss_config.nmse_epsilon,
                vote_weight=loss_config.w_vote,
                regression_weight=loss_config.w_rg,
                vote_model=loss_config.vote_model,
                vote_scale=loss_config.vote_scale,
                vote_draw_margin=loss_config.vote_draw_margin,
                vote_anchor=loss_config.vote_anchor,
            )
        }
        if self.model_config.multitask and loss_config.w_c > 0:
            losses["category"] = keras.losses.SparseCategoricalCrossentropy(name="category_ce")
        if self.model_config.attention and loss_config.w_kp > 0:
            losses["attention"] = KeypointHeatmapLoss()
        elif loss_config.w_kp > 0:
            logger.info(
                "Attention is off: the keypoint loss (w_kp=%s) is unused.", loss_config.w_kp
            )
        return losses

    def default_metrics(self, loss_config: LossConfig) -> dict[str, list[keras.metrics.Metric]]:
        """The metrics (docs/model.md) keyed by output name."""
        return {
            "intensities": [
                GifNMSE(epsilon=loss_config.nmse_epsilon),
                EmotionNMSE(num_emotions=self.label_config.num_emotions),
                RankError(),
                SpearmanPerGif(),
            ],
            "category": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        }


def _with_affect_targets(y: Any, y_pred: Any) -> Any:
    """Targets for ``valence`` and ``arousal``, which have no loss or metric: Keras'
    compiled metrics read a target for every output, and datasets carry none."""
    if isinstance(y, dict) and isinstance(y_pred, dict):
        missing = {k: y_pred[k] for k in ("valence", "arousal") if k in y_pred and k not in y}
        if missing:
            return {**y, **missing}
    return y


@contextlib.contextmanager
def global_policy(policy: str) -> Iterator[None]:
    """Sets the global Keras dtype policy inside the block, then restores it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _inputs(config: ModelConfig, load_backbone_weights: bool = True, backbone_transform=None):
    """The model input and the ``[B, T, h, w, D]`` features tensor."""
    frames = config.num_frames
    if config.input_mode == "features":
        shape = backbone_feature_shape(config)
        inputs = keras.Input(shape=(frames,) + shape, name="features")
        return inputs, inputs
    inputs = keras.Input(shape=(frames,) + config.image_size + (3,), name="frames")
    backbone = build_backbone(config, load_weights=load_backbone_weights)
    if backbone_transform is not None:
        backbone = backbone_transform(backbone)
    features = Framewise(backbone, name="backbone")(
        inputs, training=None if config.trainable_backbone else False
    )
    return inputs, features
