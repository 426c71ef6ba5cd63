"""The reference input pipeline of prediction: any file -> the model's sampled frames.

:func:`sample_for_model` decodes a file of any format
(:func:`kavan_tf.data.media.decode_media`), samples it as evaluation does and
resizes the frames to the model's input; it also keeps the sampled frames at
display size (:func:`display_frames`) for overlays. The decisions:
docs/serving.md, "Predicting on files".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.media import decode_media
from kavan_tf.export.serving_module import DISPLAY_MAX  # predict_with_frames' size, the same here


@dataclass(frozen=True)
class SampledInput:
    """One file through the reference input pipeline (:func:`sample_for_model`).

    Attributes:
        frames: uint8 ``[T, height, width, 3]``, the model's input.
        indices: ``[T]`` sampled frame indices.
        num_source_frames: Frames in the file.
        source_size: ``(height, width)`` of the file's frames.
        content_box: Where the picture lies in ``frames``, as fractions.
        media_format: The file's container.
        display: uint8 ``[T, H, W, 3]`` sampled frames at the file's size
            (at most :data:`DISPLAY_MAX` on the long side), when asked for.
    """

    frames: np.ndarray
    indices: np.ndarray
    num_source_frames: int
    source_size: tuple[int, int]
    content_box: tuple[float, float, float, float]
    media_format: str
    display: np.ndarray | None = None


def display_frames(frames: np.ndarray, longest: int = DISPLAY_MAX) -> np.ndarray:
    """Frames scaled down (bilinear, antialiased) to at most ``longest`` on the long side."""
    height, width = frames.shape[1:3]
    scale = longest / max(height, width)
    if scale >= 1.0:
        return np.asarray(frames, np.uint8)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return sampling.resize_frames(np.asarray(frames, np.uint8), size)[0]


def sample_for_model(
    data: bytes,
    path: str,
    num_frames: int,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
    *,
    keep_display: bool = False,
) -> SampledInput:
    """The reference input pipeline for one file: decode, TSN-evaluation sample, resize.

    Uses :func:`kavan_tf.data.media.decode_media` and
    :mod:`kavan_tf.data.sampling`, as evaluation does (non-GIF files are
    sampled by display time, :func:`kavan_tf.data.sampling.sampling_mode`).

    Args:
        data: The encoded file.
        path: Its name, for errors.
        num_frames: ``T``.
        image_size: ``(height, width)``.
        data_config: Background colour, size limits, sampling and resize mode.
        keep_display: Also keep the sampled frames at the file's own size.

    Raises:
        MediaDecodeError: The file cannot be decoded.
    """
    data_config = data_config if data_config is not None else DataConfig()
    media = decode_media(data, data_config, name=path)
    indices = sampling.sample_indices(
        media.num_frames, num_frames, training=False, delays_ms=media.delays_ms,
        by=sampling.sampling_mode(media.format, data_config.sampling),
    )
    sampled = media.frames[indices]
    model_h, model_w = image_size
    frames, _ = sampling.resize_frames(
        sampled, (model_h, model_w), mode=data_config.resize, background=data_config.background,
    )
    _, (left, top, width, height) = sampling.resize_transform(
        sampled.shape[1:3], (model_h, model_w), data_config.resize
    )
    return SampledInput(
        frames=np.asarray(frames, np.uint8),
        indices=np.asarray(indices),
        num_source_frames=media.num_frames,
        source_size=(media.height, media.width),
        content_box=(left / model_w, top / model_h, width / model_w, height / model_h),
        media_format=media.format,
        display=display_frames(sampled) if keep_display else None,
    )


def decode_for_model(
    data: bytes,
    path: str,
    num_frames: int,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
) -> np.ndarray:
    """The model's uint8 ``[T, height, width, 3]`` input for one file (:func:`sample_for_model`)."""
    return sample_for_model(data, path, num_frames, image_size, data_config).frames


__all__ = ["DISPLAY_MAX", "SampledInput", "decode_for_model", "display_frames", "sample_for_model"]
