"""What a prediction gives for one file: :class:`GifResult`, built once by :func:`build_result`.

A result is immutable: every field, the drawing fields included, is set when
it is built. :meth:`GifResult.without_frames` is the small copy that
``kavan predict`` keeps for the report page once a file's overlay is drawn
(docs/serving.md, "Predicting on files").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: ``(left, top, width, height)`` of a picture that fills the model's input.
FULL_BOX = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class Labels:
    """The names of a model's outputs, read once when the model is loaded.

    Attributes:
        emotions: Emotion names, in the order of ``intensities``.
        category_names: Category names, in the order of ``category``.
        emotion_categories: Each emotion's category id, in emotion order.
    """

    emotions: tuple[str, ...]
    category_names: tuple[str, ...]
    emotion_categories: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.emotion_categories) != len(self.emotions):
            raise ValueError(
                "`emotion_categories` needs one category id per emotion. Received: "
                f"{len(self.emotion_categories)} ids for {len(self.emotions)} emotions"
            )
        bad = [c for c in self.emotion_categories if not 0 <= c < len(self.category_names)]
        if bad:
            raise ValueError(
                f"`emotion_categories` must be ids of the {len(self.category_names)} "
                f"categories. Received: {bad}"
            )

    @classmethod
    def of(cls, label_config: Any) -> Labels:
        """The labels of a :class:`kavan_tf.config.LabelConfig`."""
        return cls(
            emotions=tuple(label_config.emotions),
            category_names=tuple(label_config.category_names),
            emotion_categories=tuple(int(c) for c in label_config.emotion_to_category()),
        )

    def category_of(self) -> dict[str, int]:
        """Emotion -> the id of its category."""
        return dict(zip(self.emotions, self.emotion_categories, strict=True))


@dataclass(frozen=True)
class GifResult:
    """The prediction for one file, or why there is none.

    Attributes:
        path: The file.
        intensities: Emotion -> intensity in [-1, 1] (model order; a
            TrueSkill-scale score is ``25 * (intensity + 1)``).
        top_emotions: The ``top_k`` highest ``(emotion, intensity)`` pairs.
        category_name: Predicted coarse category.
        category_id: Its index.
        category_probabilities: Category name -> probability.
        valence: Expected valence in [-1, 1] from the category probabilities
            (the model's ``valence`` output, docs/model.md#valence-and-arousal).
        arousal: Expected arousal in [-1, 1], likewise.
        error: Why the file has no prediction (``<path>: cannot decode GIF:
            <cause>``, ``<path>: cannot read the file (...)``), else ``None``.
        frames: uint8 ``[T, H, W, 3]``: the sampled frames the model saw, at
            the file's own size, scaled down to at most ``DISPLAY_MAX`` on the
            long side (only when asked for).
        attention: float32 ``[T, h, w]`` attention masks over the model's
            input frames (with ``frames``).
        frame_indices: int ``[T]``: which frames of the file were sampled
            (where the decoder says).
        content_box: ``(left, top, width, height)``, as fractions of the
            model's input frame, where the picture lies in it: ``(0, 0, 1,
            1)`` when frames are stretched, smaller when letterboxed. The
            attention is cropped to it before it is drawn over ``frames``.
        media_format: ``"GIF"``, ``"WebP"``, ``"PNG"``, ``"MP4"`` or ``"WebM"``.
        source_size: ``(height, width)`` of the file's frames (where the
            decoder says).
        model_size: ``(height, width)`` of the model's input frames.
        emotion_categories: Emotion -> the id of its coarse category.
    """

    path: str
    intensities: dict[str, float] = field(default_factory=dict)
    top_emotions: list[tuple[str, float]] = field(default_factory=list)
    category_name: str | None = None
    category_id: int | None = None
    category_probabilities: dict[str, float] = field(default_factory=dict)
    valence: float | None = None
    arousal: float | None = None
    error: str | None = None
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)
    attention: np.ndarray | None = field(default=None, repr=False, compare=False)
    frame_indices: np.ndarray | None = field(default=None, repr=False, compare=False)
    content_box: tuple[float, float, float, float] = FULL_BOX
    media_format: str | None = None
    source_size: tuple[int, int] | None = None
    model_size: tuple[int, int] | None = None
    emotion_categories: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def without_frames(self) -> GifResult:
        """This result without ``frames`` and ``attention`` (a few KB instead of MBs)."""
        if self.frames is None and self.attention is None:
            return self
        return dataclasses.replace(self, frames=None, attention=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without frames and attention)."""
        return {
            "path": self.path,
            "category": self.category_name,
            "category_id": self.category_id,
            "top_emotions": [
                {"emotion": name, "intensity": value} for name, value in self.top_emotions
            ],
            "intensities": dict(self.intensities),
            "category_probabilities": dict(self.category_probabilities),
            "valence": self.valence,
            "arousal": self.arousal,
            "error": self.error,
        }


def build_result(
    path: str,
    outputs: Mapping[str, np.ndarray],
    labels: Labels,
    *,
    top_k: int,
    media_format: str,
    model_size: tuple[int, int] | None,
    frames: np.ndarray | None = None,
    frame_indices: np.ndarray | None = None,
    source_size: tuple[int, int] | None = None,
    content_box: tuple[float, float, float, float] = FULL_BOX,
) -> GifResult:
    """The result of one file from its row of the model's outputs.

    Args:
        path: The file.
        outputs: One row of the model's outputs: ``intensities [E]``,
            ``category [C]``, ``valence``, ``arousal`` and ``attention
            [T, h, w]``.
        labels: The model's labels.
        top_k: Emotions listed in ``top_emotions``.
        media_format: The file's container.
        model_size: ``(height, width)`` of the model's input.
        frames: The sampled frames at display size; with them the result
            keeps the attention as well.
        frame_indices: Which frames of the file were sampled.
        source_size: ``(height, width)`` of the file's frames.
        content_box: Where the picture lies in the model's input.
    """
    intensities = np.asarray(outputs["intensities"], np.float32)
    category = np.asarray(outputs["category"], np.float32)
    category_id = int(np.argmax(category))
    order = np.argsort(-intensities, kind="stable")
    return GifResult(
        path=path,
        intensities=_named(labels.emotions, intensities),
        top_emotions=[(labels.emotions[k], float(intensities[k])) for k in order[:top_k]],
        category_name=labels.category_names[category_id],
        category_id=category_id,
        category_probabilities=_named(labels.category_names, category),
        valence=float(outputs["valence"]),
        arousal=float(outputs["arousal"]),
        frames=None if frames is None else np.asarray(frames, np.uint8),
        attention=None if frames is None else np.asarray(outputs["attention"], np.float32),
        frame_indices=None if frame_indices is None else np.asarray(frame_indices),
        content_box=tuple(float(v) for v in content_box),  # type: ignore[arg-type]
        media_format=media_format,
        source_size=None if source_size is None else (int(source_size[0]), int(source_size[1])),
        model_size=model_size,
        emotion_categories=labels.category_of(),
    )


def _named(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(names, values, strict=True)}


__all__ = ["FULL_BOX", "GifResult", "Labels", "build_result"]
