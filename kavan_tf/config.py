"""Typed configuration: the single source of defaults.

The CLI, the notebooks, the tuner and the tests all build from
:class:`KavanConfig`. Every section validates its values on construction and
raises ``ValueError`` naming the field and the value it received.

Example:

```python
from kavan_tf.config import KavanConfig

config = KavanConfig.from_dict({"model": {"backbone": "small", "hidden_size": 64}})
config.model.temporal            # "hslstm"
KavanConfig.from_file("experiment.toml")   # or .json
```
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from kavan_tf.labels import DEFAULT_CATEGORY_MEMBERS, DEFAULT_CATEGORY_NAMES, EMOTIONS

# Keras dtype policies the models can be built under.
PRECISION_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
# The HS-LSTM readings the paper allows (docs/model.md, "HS-LSTM readings").
HS_TIER1_READINGS = ("frame", "node")
HS_CONTEXT_READINGS = ("input", "state")


def _fail(section: str, name: str, value: Any, why: str) -> None:
    raise ValueError(f"Invalid `{section}.{name}`: {why}. Received: {name}={value!r}")


def _check_positive(section: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            _fail(section, name, value, "must be a positive number")


def _check_non_negative(section: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            _fail(section, name, value, "must be a non-negative number")


def _check_choice(section: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(section, name, value, f"must be one of {choices}")


#: Valence and arousal of the default categories (docs/decisions.md#labels-and-categories):
#: pleasure-arousal (+, high), pleasure-sleep (+, low), misery-arousal (-, high),
#: misery-sleep (-, low).
DEFAULT_CATEGORY_VALENCE: tuple[float, ...] = (1.0, 1.0, -1.0, -1.0)
DEFAULT_CATEGORY_AROUSAL: tuple[float, ...] = (1.0, -1.0, 1.0, -1.0)


@dataclass
class LabelConfig:
    """Emotion names and the coarse category mapping (docs/decisions.md#labels-and-categories).

    Args:
        emotions: Emotion names in output order.
        category_names: Names of the coarse categories, in output order.
        category_members: For each category, the emotions that belong to it.
            Every emotion belongs to exactly one category.
        category_valence: For each category, its valence in [-1, 1] (the
            circumplex's pleasure axis). Expected valence is
            ``sum_c p_c * category_valence[c]`` (docs/model.md#valence-and-arousal).
            ``None``: with four categories the default quadrants' signs
            ``(+1, +1, -1, -1)``, else zeros (no valence).
        category_arousal: For each category, its arousal in [-1, 1]; ``None``:
            with four categories ``(+1, -1, +1, -1)``, else zeros.
    """

    emotions: tuple[str, ...] = EMOTIONS
    category_names: tuple[str, ...] = DEFAULT_CATEGORY_NAMES
    category_members: tuple[tuple[str, ...], ...] = DEFAULT_CATEGORY_MEMBERS
    category_valence: tuple[float, ...] | None = None
    category_arousal: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        self.emotions = tuple(self.emotions)
        self.category_names = tuple(self.category_names)
        self.category_members = tuple(tuple(m) for m in self.category_members)
        if len(set(self.emotions)) != len(self.emotions) or not self.emotions:
            _fail("labels", "emotions", self.emotions, "must be non-empty and unique")
        if len(self.category_members) != len(self.category_names):
            _fail(
                "labels",
                "category_members",
                self.category_members,
                f"needs one member list per category ({len(self.category_names)})",
            )
        seen: list[str] = [e for members in self.category_members for e in members]
        if sorted(seen) != sorted(self.emotions):
            missing = sorted(set(self.emotions) - set(seen))
            extra = sorted(
                {e for e in seen if seen.count(e) > 1} | (set(seen) - set(self.emotions))
            )
            _fail(
                "labels",
                "category_members",
                self.category_members,
                f"every emotion must be in exactly one category (missing {missing}, "
                f"duplicated or unknown {extra})",
            )
        for name, default in (("category_valence", DEFAULT_CATEGORY_VALENCE),
                              ("category_arousal", DEFAULT_CATEGORY_AROUSAL)):
            values = getattr(self, name)
            if values is None:
                values = default if self.num_categories == len(default) else \
                    (0.0,) * self.num_categories
            try:
                values = tuple(float(v) for v in values)
            except (TypeError, ValueError):
                _fail("labels", name, values, "must be numbers, one per category")
            if len(values) != self.num_categories or not all(-1.0 <= v <= 1.0 for v in values):
                _fail("labels", name, values,
                      f"needs one value in [-1, 1] per category ({self.num_categories})")
            setattr(self, name, values)

    @property
    def num_emotions(self) -> int:
        return len(self.emotions)

    @property
    def num_categories(self) -> int:
        return len(self.category_names)

    def emotion_to_category(self) -> np.ndarray:
        """Returns an int array ``[num_emotions]``: the category id of each emotion."""
        lookup = {e: c for c, members in enumerate(self.category_members) for e in members}
        return np.array([lookup[e] for e in self.emotions], dtype=np.int32)

    def category_of(self, intensities: np.ndarray) -> np.ndarray:
        """Category of the highest-scoring emotion (paper 4.2), over the last axis."""
        return self.emotion_to_category()[np.argmax(np.asarray(intensities), axis=-1)]


@dataclass
class DataConfig:
    """GIF decoding, frame sampling, keypoints and heatmaps.

    docs/decisions.md#gif-decoding-and-sampling, #keypoints-and-heatmaps.

    Args:
        sampling: TSN segment split, ``"index"`` (by frame index) or ``"time"``
            (by display time).
        resize: ``"stretch"`` or ``"letterbox"``.
        background: RGB colour that transparent pixels are composited onto.
        max_frame_pixels: Decompression-bomb guard: largest logical screen
            (width x height) accepted.
        max_total_pixels: Decompression-bomb guard: largest width x height x
            frames accepted.
        max_frames: Largest number of frames accepted.
        heatmap_grid: Side of the grid the Gaussians are drawn on (Eq. 8).
        heatmap_sigma: Gaussian sigma in grid cells.
        mouth_weight: Weight of the mouth points 48-67.
        heatmap_norm: ``"softmax"`` (paper) or ``"l1"``.
        batch_size: Examples per batch.
        shuffle_buffer: Shuffle buffer size for training datasets.
        num_parallel_calls: Parallel map calls (``-1`` = autotune).
        feature_frames_per_segment: ``K``, the frames per TSN segment that the
            feature cache (``kavan prepare --features``) stores, so that
            training on features still samples a frame per segment; odd, so
            that the segment's middle (the evaluation frame) is among them.
    """

    sampling: str = "index"
    resize: str = "stretch"
    background: tuple[int, int, int] = (255, 255, 255)
    max_frame_pixels: int = 4096 * 4096
    max_total_pixels: int = 2**28
    max_frames: int = 4096
    heatmap_grid: int = 64
    heatmap_sigma: float = 5.0
    mouth_weight: float = 0.5
    heatmap_norm: str = "softmax"
    batch_size: int = 8
    shuffle_buffer: int = 256
    num_parallel_calls: int = -1
    feature_frames_per_segment: int = 3

    def __post_init__(self) -> None:
        s = "data"
        self.background = tuple(int(c) for c in self.background)  # type: ignore[assignment]
        _check_choice(s, "sampling", self.sampling, ("index", "time"))
        _check_choice(s, "resize", self.resize, ("stretch", "letterbox"))
        _check_choice(s, "heatmap_norm", self.heatmap_norm, ("softmax", "l1"))
        if len(self.background) != 3 or not all(0 <= c <= 255 for c in self.background):
            _fail(s, "background", self.background, "must be three ints in [0, 255]")
        _check_positive(
            s,
            max_frame_pixels=self.max_frame_pixels,
            max_total_pixels=self.max_total_pixels,
            max_frames=self.max_frames,
            heatmap_grid=self.heatmap_grid,
            heatmap_sigma=self.heatmap_sigma,
            batch_size=self.batch_size,
            shuffle_buffer=self.shuffle_buffer,
        )
        _check_non_negative(s, mouth_weight=self.mouth_weight)
        k = self.feature_frames_per_segment
        if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0:
            _fail(s, "feature_frames_per_segment", k, "must be an odd int >= 1")
        if self.num_parallel_calls != -1:
            _check_positive(s, num_parallel_calls=self.num_parallel_calls)


BACKBONE_WEIGHTS_HELP = '"imagenet", None, or a path to a local weights file'


@dataclass
class ModelConfig:
    """The KAVAN model and its ablations (docs/model.md, docs/decisions.md#the-model).

    Args:
        num_frames: T, frames sampled per GIF.
        image_size: ``(height, width)`` of the frames fed to the backbone.
        input_mode: ``"frames"`` (raw RGB 0-255, preprocessing inside the model)
            or ``"features"`` (cached backbone features).
        backbone: ``"resnet50"`` (paper), ``"small"`` (tests, CPU demos) or the
            snake_case name of another ``keras.applications`` CNN.
        backbone_weights: ``"imagenet"``, ``None`` or a local weights file.
        trainable_backbone: Fine-tune the backbone (frozen by default).
        feature_shape: ``(h, w, D)`` of the backbone features; derived from the
            backbone when ``None``.
        attention: Keypoint-attended soft attention (Eqs. 4-6) on or off.
        temporal: ``"lstm"`` or ``"hslstm"``.
        hidden_size: LSTM state size (paper: 2048).
        attention_size: Size of the attention projection (paper: 32).
        w_res_init: Initial value of the learnable residual weight of Eq. 4;
            ``None`` means ``1 / (h * w)``, which gives the residual path the
            same weight as uniform attention at initialisation.
        tiers: HS-LSTM tiers (paper: 2).
        node_size: Frames per HS-LSTM node (paper: 4).
        hs_tier1: How HS-LSTM's first tier reads a node (docs/model.md,
            "HS-LSTM readings"): ``"frame"`` steps once per frame over the
            node's pooled frames (default); ``"node"`` steps once per node on
            the node's pooled features.
        hs_context: How the earlier tiers' segment representations ``H_l^i``
            reach the next tier: ``"input"`` beside every frame's input
            (default); ``"state"`` as the next tier's hidden state at the start
            of the node. Eq. 10's attention term is there in both.
        multitask: Train the category head (paper's MTL row). When ``False``
            the model is regression-only and its ``category`` output is the
            category of the highest predicted intensity (no weights).
        category_prior: Feed the category probabilities to the intensity head.
        dropout: Dropout rate on the GIF representation.
        temporal_dtype: Dtype policy of the attention + temporal module;
            ``None`` follows the global policy. ``"float32"`` keeps it in
            float32 under mixed precision, which is faster on CPUs, where
            small-batch bfloat16 recurrences are slower than float32 ones.
    """

    num_frames: int = 8
    image_size: tuple[int, int] = (224, 224)
    input_mode: str = "frames"
    backbone: str = "resnet50"
    backbone_weights: str | None = "imagenet"
    trainable_backbone: bool = False
    feature_shape: tuple[int, int, int] | None = None
    attention: bool = True
    temporal: str = "hslstm"
    hidden_size: int = 2048
    attention_size: int = 32
    w_res_init: float | None = None
    tiers: int = 2
    node_size: int = 4
    hs_tier1: str = "frame"
    hs_context: str = "input"
    multitask: bool = True
    category_prior: bool = True
    dropout: float = 0.0
    temporal_dtype: str | None = None

    def __post_init__(self) -> None:
        s = "model"
        if self.temporal_dtype is not None:
            _check_choice(
                s, "temporal_dtype", self.temporal_dtype,
                PRECISION_POLICIES,
            )
        self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        if self.feature_shape is not None:
            shape = tuple(int(v) for v in self.feature_shape)
            if len(shape) != 3 or min(shape) <= 0:
                _fail(s, "feature_shape", shape, "must be three positive ints (h, w, D)")
            self.feature_shape = shape  # type: ignore[assignment]  # length checked above
        _check_choice(s, "input_mode", self.input_mode, ("frames", "features"))
        _check_choice(s, "temporal", self.temporal, ("lstm", "hslstm"))
        _check_choice(s, "hs_tier1", self.hs_tier1, HS_TIER1_READINGS)
        _check_choice(s, "hs_context", self.hs_context, HS_CONTEXT_READINGS)
        for name in ("num_frames", "hidden_size", "attention_size", "tiers", "node_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                _fail(s, name, value, "must be a positive int")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            _fail(s, "image_size", self.image_size, "must be two positive ints (height, width)")
        if not isinstance(self.backbone, str) or not self.backbone:
            _fail(s, "backbone", self.backbone, "must be a backbone name")
        if self.backbone_weights is not None and not isinstance(self.backbone_weights, str):
            _fail(s, "backbone_weights", self.backbone_weights, f"must be {BACKBONE_WEIGHTS_HELP}")
        if self.temporal == "hslstm":
            if self.tiers < 2:
                _fail(s, "tiers", self.tiers, "HS-LSTM needs at least 2 tiers; use temporal='lstm'")
            if self.num_frames % self.node_size:
                _fail(
                    s,
                    "node_size",
                    self.node_size,
                    f"num_frames={self.num_frames} must be divisible by node_size",
                )
        if self.w_res_init is not None and not isinstance(self.w_res_init, (int, float)):
            _fail(s, "w_res_init", self.w_res_init, "must be a number or None")
        if not 0.0 <= self.dropout < 1.0:
            _fail(s, "dropout", self.dropout, "must be in [0, 1)")

    @property
    def row_name(self) -> str:
        """The paper's name for this ablation row (Tables 1 and 2)."""
        front = "Soft-Att" if self.attention else "Backbone"
        back = "HS-LSTM" if self.temporal == "hslstm" else "LSTM"
        return ("MTL " if self.multitask else "") + f"{front} + {back}"


@dataclass
class LossConfig:
    """Loss weights and forms: ``L = L_RG + w_C L_C + w_RANK L_RANK + w_kp L_kp``.

    docs/model.md, "Losses and metrics".

    The default weights are the ones the tuning run on the synthetic benchmark
    supports (docs/tuning.md, ``python benchmarks/tune_synthetic.py
    --check-seeds 2``): its best trial (w_c 0.73, w_rank 0.019, w_kp 0.84) did
    not beat these defaults when both were retrained on four seeds, so the
    rounder values stay.

    Args:
        w_c: Weight of the category cross-entropy.
        w_rank: Weight of the smooth pairwise ranking surrogate.
        w_kp: Weight of the masked keypoint loss (Eq. 7).
        rank_surrogate: ``"logistic"`` or ``"hinge"``.
        rank_temperature: Scale of the score difference in the surrogate
            (logistic: ``softplus(-(y^_k - y^_l) / temperature)``; hinge:
            ``relu(temperature - (y^_k - y^_l))``).
        nmse_epsilon: Added to the per-GIF target variance.
        sigma_weights: Weight each emotion's squared error in ``L_RG`` by the
            confidence of its TrueSkill score (needs the manifest's
            ``<emotion>_sigma`` columns):
            ``u_k = 1 / (sigma_k^2 + sigma_floor^2)``, ``w_k = E u_k / sum_j u_j``
            (normalised per GIF, so the weights of a GIF average 1), and
            ``L_RG = mean_k w_k (y^_k - y_k)^2 / (var_k(y) + epsilon)``.
            See :func:`kavan_tf.losses.sigma_weights`.
        sigma_floor: ``s0`` above, in TrueSkill score points (the scale of
            the sigma columns, 25/3 before any vote); it keeps an emotion
            with a tiny sigma from taking all the weight.
        w_vote: Weight of the vote likelihood ``L_VOTE`` when training on
            pairwise votes (``kavan train --votes``; docs/model.md,
            "Learning from the votes"); 0 = off. Training on votes needs it
            positive.
        w_rg: Weight of the score regression (``L_RG + w_rank L_RANK`` on
            both GIFs of a vote) when training on votes; 0 trains on the
            votes alone. Training from a manifest alone always regresses.
        vote_model: ``"thurstone"`` (normal noise, as TrueSkill) or
            ``"bradley_terry"`` (logistic noise of the same variance).
        vote_scale: Standard deviation of the judge's noise on
            ``f(a) - f(b)``, in intensity units: GIFGIF's TrueSkill
            ``sqrt(2) beta`` (beta = 25/6 points) over the 25 points per
            intensity unit of ``score = 25 (intensity + 1)``, rounded.
        vote_draw_margin: ``epsilon`` of a draw (``neither``), in intensity
            units: GIFGIF's TrueSkill draw margin (2.156 points,
            ``p_draw = 0.13``) over 25, rounded.
        vote_anchor: Weight of ``L_ANCHOR`` on vote batches: the squared
            mean of the pair's two intensities, for each emotion voted on.
            The votes fix only differences within an emotion; this keeps
            each emotion's pairs around 0, where TrueSkill's prior puts
            every score (25 points). 0 = off.
    """

    w_c: float = 1.0
    w_rank: float = 0.1
    w_kp: float = 1.0
    rank_surrogate: str = "logistic"
    rank_temperature: float = 0.1
    nmse_epsilon: float = 1e-3
    sigma_weights: bool = False
    sigma_floor: float = 1.0
    w_vote: float = 0.0
    w_rg: float = 1.0
    vote_model: str = "thurstone"
    vote_scale: float = 0.2357
    vote_draw_margin: float = 0.0863
    vote_anchor: float = 1.0

    def __post_init__(self) -> None:
        _check_non_negative("loss", w_c=self.w_c, w_rank=self.w_rank, w_kp=self.w_kp,
                            w_vote=self.w_vote, w_rg=self.w_rg,
                            vote_draw_margin=self.vote_draw_margin,
                            vote_anchor=self.vote_anchor)
        _check_choice("loss", "rank_surrogate", self.rank_surrogate, ("logistic", "hinge"))
        _check_choice("loss", "vote_model", self.vote_model, ("thurstone", "bradley_terry"))
        _check_positive(
            "loss", rank_temperature=self.rank_temperature, nmse_epsilon=self.nmse_epsilon,
            sigma_floor=self.sigma_floor, vote_scale=self.vote_scale,
        )
        if not isinstance(self.sigma_weights, bool):
            _fail("loss", "sigma_weights", self.sigma_weights, "must be true or false")
        if self.sigma_weights and self.w_vote > 0:
            _fail("loss", "sigma_weights", self.sigma_weights,
                  "cannot be combined with w_vote > 0 (both ride on the intensities target)")
        if self.w_rg == 0 and self.w_vote == 0:
            _fail("loss", "w_rg", self.w_rg, "may be 0 only with w_vote > 0 (the votes alone)")


@dataclass
class TrainConfig:
    """Optimisation and run settings.

    Args:
        epochs: Training epochs.
        learning_rate: Adam learning rate.
        seed: Seed for weights, sampling and splits.
        mixed_precision: ``None``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.
        output_dir: Checkpoints, logs and history go here.
        distribute: ``"auto"`` (MirroredStrategy over all GPUs, or
            MultiWorkerMirroredStrategy under ``TF_CONFIG``, see
            ``docs/training.md``), ``"none"`` or ``"mirrored"``.
        jit_compile: Compile the train step with XLA (``model.compile``'s
            ``jit_compile``): ``None`` lets Keras choose (XLA on a single
            GPU, never on CPUs or under a distribution strategy), ``True``
            or ``False`` forces it.
    """

    epochs: int = 30
    learning_rate: float = 1e-4
    seed: int = 0
    mixed_precision: str | None = None
    output_dir: str = "runs/kavan"
    distribute: str = "auto"
    jit_compile: bool | None = None

    def __post_init__(self) -> None:
        _check_positive("train", epochs=self.epochs, learning_rate=self.learning_rate)
        if self.mixed_precision is not None:
            _check_choice(
                "train",
                "mixed_precision",
                self.mixed_precision,
                ("mixed_float16", "mixed_bfloat16"),
            )
        _check_choice("train", "distribute", self.distribute, ("auto", "none", "mirrored"))


@dataclass
class PredictConfig:
    """What ``kavan predict`` and :func:`kavan_tf.predict.predict_paths` do by default.

    Args:
        top_k: Emotions listed per file (``--top-k``).
        batch_size: Files (or timeline windows) per model call (``--batch-size``).
        timeline_window_s: Seconds of video per timeline window (``--window``):
            the length of a short reaction GIF, what the model was trained on
            (docs/serving.md, "Timelines").
        timeline_stride_s: Seconds between timeline windows (``--stride``).
    """

    top_k: int = 3
    batch_size: int = 8
    timeline_window_s: float = 3.0
    timeline_stride_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("top_k", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                _fail("predict", name, value, "must be a positive int")
        for name in ("timeline_window_s", "timeline_stride_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                _fail("predict", name, value, "must be a positive number of seconds")


@dataclass
class KavanConfig:
    """All settings of an experiment."""

    labels: LabelConfig = field(default_factory=LabelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> KavanConfig:
        """Builds a config; unknown sections or keys raise ``ValueError``."""
        return _from_dict(cls, values, "config")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KavanConfig:
        """Reads a ``.toml`` or ``.json`` file."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Config file not found: {path}")
        try:
            if path.endswith(".toml"):
                with open(path, "rb") as f:
                    values = tomllib.load(f)
            elif path.endswith(".json"):
                with open(path, encoding="utf-8") as f:
                    values = json.load(f)
            else:
                raise ValueError(f"Config file {path}: expected a .toml or .json file")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"Config file {path} could not be parsed: {e}") from e
        try:
            return cls.from_dict(values)
        except ValueError as e:
            raise ValueError(f"Config file {path}: {e}") from e

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the config as JSON."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)


_Config = TypeVar("_Config")


def as_config(cls: type[_Config], value: _Config | dict[str, Any] | None,
              argument: str) -> _Config:
    """``value`` as the config dataclass ``cls``: itself, ``None`` (the
    defaults), or a dict checked as config files are (:meth:`KavanConfig.from_dict`)."""
    return cls() if value is None else _from_dict(cls, value, argument)


def _from_dict(cls: type, values: Any, where: str) -> Any:
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ValueError(f"`{where}` must be a table/dict. Received: {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise ValueError(f"Unknown key `{where}.{key}`.{hint} Known keys: {sorted(fields)}")
        hint_type = hints[key]
        if isinstance(hint_type, type) and dataclasses.is_dataclass(hint_type):
            kwargs[key] = _from_dict(hint_type, value, f"{where}.{key}")
        else:
            _check_type(value, hint_type, f"{where}.{key}")
            kwargs[key] = value
    return cls(**kwargs)


def _check_type(value: Any, hint: Any, where: str) -> None:
    """Coarse type check so that mistyped values fail before training starts."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                _check_type(value, arg, where)
                return
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"`{where}` has the wrong type: expected {hint}. Received: {value!r}")
    if hint is type(None):
        ok = value is None
    elif origin is tuple:
        ok = isinstance(value, (list, tuple))
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint in (str, bool):
        ok = isinstance(value, hint)
    else:
        ok = True
    if not ok:
        raise ValueError(f"`{where}` has the wrong type: expected {hint}. Received: {value!r}")


def with_overrides(config: KavanConfig, **sections: dict[str, Any]) -> KavanConfig:
    """A copy of ``config`` with some fields of some sections replaced.

    Example: ``with_overrides(config, model={"attention": False}, train={"epochs": 2})``.
    """
    values = config.to_dict()
    for section, changes in sections.items():
        # An unknown section is refused by from_dict, naming the known ones.
        values[section] = {**values.get(section, {}), **changes}
    return KavanConfig.from_dict(values)
