"""Attention overlays at the file's own resolution (paper Figs. 1, 5, 6).

Each overlay is an animated GIF of the ``T`` sampled frames, at the size the
prediction kept them (the file's size, at most
:data:`~kavan_tf.predict.inputs.DISPLAY_MAX` on the long side; smaller
files are scaled up to :data:`MIN_SIDE` so the drawing can be read):

- the attention mask of each frame, cropped to where the picture lies in the
  model's input (letterboxing) and upsampled bilinearly, colour-mapped (jet)
  on one scale per GIF and blended over its frame;
- optionally, beside it, the supervision heatmap of Eq. 8 from the GIF's
  keypoints, on the same grid and scale (what the attention was trained
  towards);
- a panel on the right with the category and the top emotions as bars
  coloured by category, and a bar along the bottom edge showing the frame's
  position in the sequence.

Example:

```python
from kavan_tf.predict import load_predictor, predict_paths, write_overlays

results = predict_paths(load_predictor("savedmodels/kavan"), ["cat.gif"], keep_frames=True)
write_overlays(results, "overlays/")              # overlays/cat.attention.gif
```
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.heatmaps import keypoint_heatmaps
from kavan_tf.errors import KeypointFileError
from kavan_tf.keypoints import load_keypoints, pad_people
from kavan_tf.predict.results import GifResult

logger = logging.getLogger(__name__)

#: Frames smaller than this on the long side are scaled up for drawing.
MIN_SIDE = 240
PANEL_WIDTH = 230
#: Colours of the coarse categories, in category order (repeats past eight).
CATEGORY_COLOURS = (
    (228, 87, 86), (89, 161, 79), (78, 121, 167), (242, 142, 43),
    (176, 122, 161), (118, 183, 178), (237, 201, 72), (156, 117, 95),
)
_NEUTRAL = (150, 150, 150)
_PANEL_BACKGROUND = (24, 24, 28)


def category_colour(category_id: int | None) -> tuple[int, int, int]:
    """The drawing colour of a category id (grey for ``None``)."""
    if category_id is None or category_id < 0:
        return _NEUTRAL
    return CATEGORY_COLOURS[category_id % len(CATEGORY_COLOURS)]


def _jet(values: np.ndarray) -> np.ndarray:
    """Jet colour map: ``[...]`` values in [0, 1] -> ``[..., 3]`` floats in [0, 1]."""
    v = np.clip(np.asarray(values, np.float32), 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], np.float32)
    return np.clip(1.5 - np.abs(4.0 * v - 4.0 * centres), 0.0, 1.0)


def upsample_masks(
    masks: np.ndarray,
    size: tuple[int, int],
    content_box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
) -> np.ndarray:
    """Masks over the model's input -> masks over the displayed frames.

    Args:
        masks: ``[T, h, w]`` on the model's feature grid.
        size: ``(H, W)`` of the displayed frames.
        content_box: Where the picture lies in the model's input, as fractions.

    Returns:
        float32 ``[T, H, W]``: bilinear (pixel-centre aligned), so a 2 x 2 grid
        gives a smooth gradient, not blocks.
    """
    masks = np.asarray(masks, np.float32)
    height, width = size
    left, top, box_w, box_h = content_box
    # The display frame covers [left, left + box_w] of the grid's [0, 1] extent.
    xs = (left + (np.arange(width) + 0.5) / width * box_w) * masks.shape[2] - 0.5
    ys = (top + (np.arange(height) + 0.5) / height * box_h) * masks.shape[1] - 0.5

    def taps(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coords = np.clip(coords, 0.0, n - 1)
        low = np.floor(coords).astype(np.int64)
        high = np.minimum(low + 1, n - 1)
        return low, high, (coords - low).astype(np.float32)

    x0, x1, fx = taps(xs, masks.shape[2])
    y0, y1, fy = taps(ys, masks.shape[1])
    # Separable: along x on the small grid first, then along y.
    cols = masks[:, :, x0] * (1 - fx) + masks[:, :, x1] * fx          # [T, h, W]
    return cols[:, y0] * (1 - fy)[None, :, None] + cols[:, y1] * fy[None, :, None]


def overlay_frames(
    frames: np.ndarray,
    attention: np.ndarray,
    alpha: float = 0.5,
    *,
    content_box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
    scale: float | None = None,
) -> np.ndarray:
    """Blends colour-mapped masks over frames.

    Each ``[h, w]`` mask is upsampled to the frame size (:func:`upsample_masks`),
    divided by ``scale`` (default: the GIF's largest value, so the masks of one
    GIF share a scale), mapped through a jet colour map and blended over its frame.

    Args:
        frames: uint8 ``[T, H, W, 3]``.
        attention: ``[T, h, w]`` masks.
        alpha: Weight of the colour map.
        content_box: Where the picture lies in the model's input.
        scale: The mask value drawn as the top of the colour map.

    Returns:
        uint8 ``[T, H, W, 3]``.
    """
    frames = np.asarray(frames)
    attention = np.asarray(attention, dtype=np.float32)
    if frames.ndim != 4 or attention.ndim != 3 or frames.shape[0] != attention.shape[0]:
        raise ValueError(
            "Expected frames [T, H, W, 3] and attention [T, h, w] with the same T. "
            f"Received: frames.shape={frames.shape}, attention.shape={attention.shape}"
        )
    masks = upsample_masks(attention, frames.shape[1:3], content_box)
    top = float(scale) if scale is not None else float(attention.max())
    masks = masks / np.float32(max(top, 1e-12))
    blended = np.float32(1.0 - alpha) * frames.astype(np.float32)
    blended += np.float32(alpha * 255.0) * _jet(masks)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _panel(result: GifResult, height: int, colours: Mapping[str, tuple[int, int, int]]
           ) -> np.ndarray:
    """The category and top emotions, drawn once per GIF."""
    lines = 2 + len(result.top_emotions)
    height = max(height, 18 * lines + 50)
    image = Image.new("RGB", (PANEL_WIDTH, height), _PANEL_BACKGROUND)
    draw = ImageDraw.Draw(image)
    big, small = _font(20), _font(14)
    colour = category_colour(result.category_id)
    draw.rectangle((10, 14, 24, 28), fill=colour)
    draw.text((32, 10), result.category_name or "?", fill=(255, 255, 255), font=big)
    probability = result.category_probabilities.get(result.category_name or "", float("nan"))
    draw.text((12, 38), f"category p = {probability:.2f}", fill=(190, 190, 190), font=small)
    y = 64
    for name, value in result.top_emotions:
        draw.text((12, y), name, fill=(235, 235, 235), font=small)
        draw.text((PANEL_WIDTH - 60, y), f"{value:+.2f}", fill=(235, 235, 235), font=small)
        y += 18
        # Intensity in [-1, 1] as a bar from the centre line.
        centre, half = PANEL_WIDTH // 2, PANEL_WIDTH // 2 - 14
        end = centre + int(round(np.clip(value, -1, 1) * half))
        draw.rectangle((14, y, PANEL_WIDTH - 14, y + 7), fill=(55, 55, 62))
        draw.rectangle((min(centre, end), y, max(centre, end), y + 7),
                       fill=colours.get(name, colour))
        y += 16
    return np.asarray(image)


def render_overlay(
    result: GifResult,
    *,
    alpha: float = 0.5,
    heatmaps: np.ndarray | None = None,
    emotion_colours: Mapping[str, tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """The overlay frames of one result: ``[T, H', W', 3]`` uint8.

    Args:
        result: A result with ``frames`` and ``attention``.
        alpha: Weight of the colour map.
        heatmaps: ``[T, h, w]`` supervision heatmaps to show beside the
            attention, on the attention's scale.
        emotion_colours: Bar colour of each emotion (its category's); the
            predicted category's colour when ``None``.
    """
    if result.frames is None or result.attention is None:
        raise ValueError(f"{result.path}: the result has no frames (predict with keep_frames)")
    frames = np.asarray(result.frames, np.uint8)
    count, height, width = frames.shape[:3]
    if max(height, width) < MIN_SIDE:
        factor = MIN_SIDE / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR))
                           for f in frames])
        height, width = frames.shape[1:3]
    scale = float(result.attention.max())
    views = [overlay_frames(frames, result.attention, alpha, content_box=result.content_box,
                            scale=scale)]
    if heatmaps is not None:
        views.append(overlay_frames(frames, heatmaps, alpha, content_box=result.content_box,
                                    scale=max(scale, float(np.max(heatmaps)))))
    if heatmaps is not None:  # name the two views
        font = _font(13)
        for view, label in zip(views, ("attention", "keypoint supervision"), strict=True):
            for t in range(count):
                image = Image.fromarray(view[t])
                draw = ImageDraw.Draw(image)
                box = draw.textbbox((6, 4), label, font=font)
                draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2),
                               fill=_PANEL_BACKGROUND)
                draw.text((6, 4), label, fill=(255, 255, 255), font=font)
                view[t] = np.asarray(image)
    gap = np.full((count, height, 4, 3), _PANEL_BACKGROUND, np.uint8)
    parts: list[np.ndarray] = []
    for view in views:
        parts += [view, gap]
    body = np.concatenate(parts[:-1], axis=2)
    if emotion_colours is None:
        emotion_colours = {e: category_colour(c) for e, c in result.emotion_categories.items()}
    panel = _panel(result, height, emotion_colours)
    if panel.shape[0] > height:  # a short frame: pad it to the panel's height
        pad = np.full((count, panel.shape[0] - height, body.shape[2], 3), _PANEL_BACKGROUND,
                      np.uint8)
        body = np.concatenate([body, pad], axis=1)
    bar = max(2, height // 40)
    for t in range(count):  # the frame's position in the sequence
        body[t, height - bar : height, : (t + 1) * width // count] = 255
    return np.concatenate([body, np.broadcast_to(panel, (count,) + panel.shape)], axis=2)


class KeypointFiles:
    """Finds the keypoint file of each result, one result at a time.

    Args:
        keypoints: A ``kavan-keypoints-v1`` file (for a single input), a
            folder of them named after the inputs (``<stem>.json.gz`` or
            ``<stem>.json``, as ``kavan keypoints`` writes them), or a manifest
            CSV with ``path`` and ``keypoints`` columns.

    Raises:
        FileNotFoundError: ``keypoints`` does not exist.
    """

    def __init__(self, keypoints: str | os.PathLike[str]) -> None:
        self.keypoints = os.fspath(keypoints)
        if not os.path.exists(self.keypoints):
            raise FileNotFoundError(f"{self.keypoints}: no such keypoint file or folder")
        self._by_path: dict[str, str] | None = None
        self._asked = False
        if os.path.isfile(self.keypoints) and self.keypoints.endswith(".csv"):
            rows = pd.read_csv(self.keypoints, dtype=str, keep_default_na=False)
            base = os.path.dirname(os.path.abspath(self.keypoints))
            self._by_path = {
                os.path.abspath(os.path.join(base, path)): os.path.join(base, points)
                for path, points in zip(rows.get("path", []), rows.get("keypoints", []),
                                        strict=False)
                if points
            }

    def find(self, path: str) -> str | None:
        """The keypoint file of the input ``path``, or ``None``.

        A single keypoint file belongs to the first input asked about.
        """
        if os.path.isdir(self.keypoints):
            stem = os.path.splitext(os.path.basename(path))[0]
            for name in (f"{stem}.json.gz", f"{stem}.json"):
                if os.path.isfile(os.path.join(self.keypoints, name)):
                    return os.path.join(self.keypoints, name)
            return None
        if self._by_path is not None:
            return self._by_path.get(os.path.abspath(path))
        first, self._asked = not self._asked, True
        return self.keypoints if first else None


def supervision_heatmaps(result: GifResult, keypoint_file: str, data_config=None) -> np.ndarray:
    """The Eq. 8 heatmaps of a result's sampled frames, on its attention grid.

    The keypoints are mapped into the model's input frame as training maps
    them (stretch or letterbox, from ``result.content_box``) and drawn with the
    data config's heatmap settings.

    Raises:
        KeypointFileError: The file is malformed or covers another frame count.
        ValueError: The result lacks the sizes or indices it needs.
    """
    if (result.attention is None or result.frame_indices is None or result.source_size is None
            or result.model_size is None):
        raise ValueError(f"{result.path}: the result has no frames kept (keep_frames=True)")
    document = load_keypoints(keypoint_file)
    indices = np.asarray(result.frame_indices)
    if document.num_frames <= int(indices.max()):
        raise KeypointFileError(
            f"{keypoint_file}: keypoints for {document.num_frames} frames, but frame "
            f"{int(indices.max())} of {result.path} was sampled"
        )
    mode = "stretch" if tuple(result.content_box) == (0.0, 0.0, 1.0, 1.0) else "letterbox"
    transform, _ = sampling.resize_transform(result.source_size, result.model_size, mode)
    points = sampling.transform_keypoints(
        pad_people([document.frames[i] for i in indices]), transform)
    heatmaps, _ = keypoint_heatmaps(points, result.model_size,
                                    tuple(result.attention.shape[1:]),
                                    config=data_config if data_config is not None
                                    else DataConfig())
    return heatmaps


def encode_gif(frames: np.ndarray, duration_ms: int = 250) -> bytes:
    """Frames -> an animated GIF's bytes (looping, one palette per frame).

    Each frame gets its own 256-colour octree palette, without dithering:
    about 50 times faster than Pillow's default median cut, and the colour
    maps and text stay sharp.
    """
    pil = [
        Image.fromarray(np.ascontiguousarray(f), "RGB").quantize(
            256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        for f in frames
    ]
    buffer = io.BytesIO()
    pil[0].save(buffer, format="GIF", save_all=True, append_images=pil[1:],
                duration=duration_ms, loop=0, disposal=1)
    return buffer.getvalue()


class OverlayNames:
    """File names of overlays, given one result at a time: ``<stem>.attention.gif``,
    numbered on clashes (``<stem>-2.attention.gif``)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def name(self, path: str) -> str:
        """The overlay name of the input ``path`` (each call reserves a new name)."""
        stem = os.path.splitext(os.path.basename(path))[0] or "gif"
        name, n = f"{stem}.attention.gif", 1
        while name in self._used:
            n += 1
            name = f"{stem}-{n}.attention.gif"
        self._used.add(name)
        return name


def overlay_names(results: Sequence[GifResult]) -> dict[str, str]:
    """File name of each result's overlay (:class:`OverlayNames`)."""
    names = OverlayNames()
    return {r.path: names.name(r.path) for r in results}


def write_overlays(
    results: Sequence[GifResult],
    out_dir: str | os.PathLike[str],
    *,
    alpha: float = 0.5,
    duration_ms: int = 250,
    heatmaps: Mapping[str, np.ndarray] | None = None,
    emotion_colours: Mapping[str, tuple[int, int, int]] | None = None,
) -> list[str]:
    """Writes one animated overlay GIF per result (see :func:`render_overlay`).

    Results need ``frames`` and ``attention`` (``predict_paths(...,
    keep_frames=True)``); others are skipped.

    Args:
        results: Prediction results.
        out_dir: Created if needed; files are named ``<stem>.attention.gif``.
        alpha: Weight of the colour map.
        duration_ms: Display time of each frame.
        heatmaps: Supervision heatmaps ``[T, h, w]`` by result path
            (:func:`supervision_heatmaps`).
        emotion_colours: Bar colour of each emotion.

    Returns:
        The written paths.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    names = overlay_names(results)
    written: list[str] = []
    for r in results:
        if r.frames is None or r.attention is None:
            if r.ok:
                logger.warning("%s: no frames kept; no overlay written", r.path)
            continue
        frames = render_overlay(r, alpha=alpha, heatmaps=(heatmaps or {}).get(r.path),
                                emotion_colours=emotion_colours)
        path = os.path.join(out_dir, names[r.path])
        with open(path, "wb") as f:
            f.write(encode_gif(frames, duration_ms))
        written.append(path)
    return written


__all__ = [
    "CATEGORY_COLOURS",
    "category_colour",
    "encode_gif",
    "KeypointFiles",
    "OverlayNames",
    "overlay_frames",
    "overlay_names",
    "render_overlay",
    "supervision_heatmaps",
    "upsample_masks",
    "write_overlays",
]
