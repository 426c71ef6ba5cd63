"""Rendering a synthetic example: background, face, motion, GIF encoding and keypoint documents."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from PIL import Image, ImageDraw

from kavan_tf.keypoints.io import FILE_FORMAT as KEYPOINT_FORMAT
from kavan_tf.keypoints.layout import NUM_KEYPOINTS
from kavan_tf.synthetic.config import (
    ENCODINGS,
    SEGMENT_POSITIONS,
    STREAM_EXAMPLE,
    STREAM_KEYPOINTS,
    SyntheticConfig,
    SyntheticExample,
)
from kavan_tf.synthetic.faces import (
    _HEAD_RY,
    _darker,
    _ellipse_polygon,
    _face_local,
    _hsv,
    _Pose,
    _random_colour,
    _to_canvas,
)
from kavan_tf.synthetic.labels import _path, _sample_label, _segment_path

BASE_DELAYS_MS = (40, 50, 60, 70, 80, 100, 120)
"""Frame delays a GIF is drawn from."""
PUPIL_COLOUR = (20, 20, 28)
EYE_COLOUR = (246, 246, 240)
MOUTH_INSIDE_COLOUR = (70, 16, 24)


def _background(
    rng: np.random.Generator, config: SyntheticConfig, factor: int
) -> tuple[Image.Image, list[dict[str, Any]], dict[str, Any] | None]:
    """Static layer (gradient, clutter, decoy), moving blobs and a striped band."""
    width, height = config.frame_size
    cw, ch = width * factor, height * factor
    first, second = np.array(_random_colour(rng)), np.array(_random_colour(rng))
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    ramp = xx * math.cos(theta) + yy * math.sin(theta)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    pixels = first + (second - first) * ramp[..., None]
    canvas = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    side = min(cw, ch)
    for _ in range(int(rng.integers(config.clutter_shapes[0], config.clutter_shapes[1] + 1))):
        kind = int(rng.integers(4))
        colour = _random_colour(rng)
        x, y = rng.uniform(0, cw), rng.uniform(0, ch)
        w, h = rng.uniform(0.05, 0.35, size=2) * side
        box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        elif kind == 2:
            corners = rng.uniform(-0.5, 0.5, size=(3, 2)) * [w, h] + [x, y]
            draw.polygon([tuple(c) for c in corners.tolist()], fill=colour)
        else:
            draw.line(box, fill=colour, width=max(1, int(rng.integers(1, 4)) * factor))
    if rng.uniform() < config.decoy_rate:
        skin = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.25, 0.6), rng.uniform(0.7, 1.0))
        half = rng.uniform(*config.face_scale) * side * rng.uniform(0.5, 0.9)
        x, y = rng.uniform(0, cw), rng.uniform(0, ch)
        draw.ellipse([x - half, y - 1.2 * half, x + half, y + 1.2 * half], fill=skin)
    blobs = []
    for _ in range(
        int(rng.integers(config.moving_distractors[0], config.moving_distractors[1] + 1))
    ):
        speed, heading = rng.uniform(1.0, 3.0) * factor, rng.uniform(0, 2 * np.pi)
        blobs.append(
            {
                "ellipse": bool(rng.uniform() < 0.5),
                "colour": _random_colour(rng),
                "size": (rng.uniform(0.08, 0.2, size=2) * side).tolist(),
                "position": (rng.uniform(0, 1, size=2) * [cw, ch]).tolist(),
                "velocity": [speed * math.cos(heading), speed * math.sin(heading)],
            }
        )
    stripes = None
    if rng.uniform() < config.stripe_rate:
        vertical = bool(rng.uniform() < 0.5)
        extent = cw if vertical else ch
        thickness = rng.uniform(0.15, 0.3) * extent
        stripes = {
            "vertical": vertical,
            "start": rng.uniform(0, extent - thickness),
            "thickness": thickness,
            "period": int(rng.integers(4, 11)) * factor,
            "colours": (_random_colour(rng), _random_colour(rng)),
            "speed": rng.uniform(1.0, 2.0) * factor * (1 if rng.uniform() < 0.5 else -1),
        }
    return canvas, blobs, stripes


def _draw_stripes(
    draw: ImageDraw.ImageDraw, stripes: dict[str, Any], t: int, size: tuple[int, int]
) -> None:
    cw, ch = size
    lo, hi = stripes["start"], stripes["start"] + stripes["thickness"]
    period = stripes["period"]
    shift = (stripes["speed"] * t) % period
    along = ch if stripes["vertical"] else cw
    draw.rectangle(
        [lo, 0, hi, ch] if stripes["vertical"] else [0, lo, cw, hi], fill=stripes["colours"][0]
    )
    pos = -period + shift
    while pos < along:
        a, b = pos, pos + period / 2
        draw.rectangle(
            [lo, a, hi, b] if stripes["vertical"] else [a, lo, b, hi], fill=stripes["colours"][1]
        )
        pos += period


def _draw_blob(
    draw: ImageDraw.ImageDraw, blob: dict[str, Any], t: int, size: tuple[int, int]
) -> None:
    # The centre wraps inside the frame, so a quarter of the blob is always seen.
    x = (blob["position"][0] + blob["velocity"][0] * t) % size[0]
    y = (blob["position"][1] + blob["velocity"][1] * t) % size[1]
    w, h = blob["size"]
    box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2]
    if blob["ellipse"]:
        draw.ellipse(box, fill=blob["colour"])
    else:
        draw.rectangle(box, fill=blob["colour"])


def _draw_face(
    draw: ImageDraw.ImageDraw,
    pose: _Pose,
    shapes: dict[str, Any],
    look: dict[str, Any],
    factor: int,
) -> None:
    head = _to_canvas(pose(_ellipse_polygon(64)), factor)
    draw.polygon(head, fill=look["skin"], outline=look["outline"], width=max(1, factor))
    if look["hair"] is not None:
        draw.polygon(_to_canvas(pose(look["hair_shape"]), factor), fill=look["hair"])
    draw.polygon(_to_canvas(pose(shapes["nose"]), factor), fill=look["nose"])
    for outline, pupil, radius in shapes["eyes"]:
        draw.polygon(_to_canvas(pose(outline), factor), fill=EYE_COLOUR, outline=look["outline"])
        (x, y), r = _to_canvas(pose(pupil[None]), factor), radius * pose.scale * factor
        draw.ellipse([x - r, y - r, x + r, y + r], fill=PUPIL_COLOUR)
    brow_width = max(1, int(round(0.12 * pose.scale * factor)))
    for brow in shapes["brows"]:
        draw.line(
            _to_canvas(pose(brow), factor), fill=look["brow"], width=brow_width, joint="curve"
        )
    draw.polygon(_to_canvas(pose(shapes["mouth_outer"]), factor), fill=look["lips"])
    if shapes["mouth_inner"] is not None:
        draw.polygon(_to_canvas(pose(shapes["mouth_inner"]), factor), fill=MOUTH_INSIDE_COLOUR)


def _face_look(rng: np.random.Generator) -> dict[str, Any]:
    """Colours and hair, independent of the label."""
    if rng.uniform() < 0.75:  # Human-like skin tones, otherwise any cartoon hue.
        skin = _hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.45, 1.0))
    else:
        skin = _hsv(rng.uniform(), rng.uniform(0.3, 0.8), rng.uniform(0.6, 1.0))
    hair = _hsv(rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.05, 0.6))
    has_hair = rng.uniform() < 0.7
    return {
        "skin": skin,
        "nose": _darker(skin, 0.82),
        "outline": _darker(skin, 0.45),
        "brow": _hsv(rng.uniform(), rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.3)),
        "lips": _hsv(rng.uniform(-0.04, 0.04), rng.uniform(0.55, 0.8), rng.uniform(0.55, 0.8)),
        "hair": hair if has_hair else None,
        "hair_shape": _ellipse_polygon(64, top_only=-rng.uniform(0.75, 0.95)),
    }


def _motion(rng: np.random.Generator, config: SyntheticConfig, count: int) -> list[_Pose]:
    """Per-frame pose: a drift plus a bob, a slow zoom and roll; the head stays inside."""
    width, height = config.frame_size
    side = min(width, height)
    scale = rng.uniform(*config.face_scale) * side
    zoom = rng.uniform(-0.1, 0.1)
    roll, turn = rng.uniform(-10, 10), rng.uniform(-6, 6)
    drift = rng.uniform(0.0, 0.06) * side
    heading = rng.uniform(0, 2 * np.pi)
    bob, cycles, phase = (
        rng.uniform(0.0, 0.02) * side,
        rng.uniform(0.5, 2.0),
        rng.uniform(0, 2 * np.pi),
    )
    reach = (abs(drift) + bob) + scale * (1 + abs(zoom)) * _HEAD_RY + 1.0
    low, high = np.array([reach, reach]), np.array([width - 1 - reach, height - 1 - reach])
    centre0 = low + rng.uniform(0, 1, size=2) * np.maximum(high - low, 0.0)
    centre0 = np.where(high > low, centre0, np.array([width - 1, height - 1]) / 2)
    tau = np.linspace(0.0, 1.0, count)
    poses = []
    for t in tau:
        offset = drift * (2 * t - 1) * np.array([math.cos(heading), math.sin(heading)])
        offset = offset + bob * np.array([0.3, 1.0]) * math.sin(2 * np.pi * cycles * t + phase)
        poses.append(_Pose(centre0 + offset, scale * (1 + zoom * t), roll + turn * t))
    return poses


def render_example(
    config: SyntheticConfig, index: int
) -> tuple[SyntheticExample, list[Image.Image]]:
    """Draws example ``index``; returns it and its palette frames for the GIF."""
    rng = np.random.default_rng([config.seed, STREAM_EXAMPLE, index])
    angles = config.angles()
    count = int(rng.integers(config.num_frames[0], config.num_frames[1] + 1))
    category, angle, _, start, end, intensities = _sample_label(rng, config, angles)
    position = None
    if config.label_mode == "segment":
        position = SEGMENT_POSITIONS[int(rng.integers(len(SEGMENT_POSITIONS)))]
        path = _segment_path(end, count, position, config.segment_fraction)
    else:
        path = _path(rng, start, end, count)
    factor = config.supersample
    width, height = config.frame_size
    canvas_size = (width * factor, height * factor)
    static, blobs, stripes = _background(rng, config, factor)
    static_pixels = np.asarray(static)
    flicker = 1.0 + rng.uniform(-0.08, 0.08, size=count)
    look = _face_look(rng)
    poses = _motion(rng, config, count)
    gaze = np.clip(np.cumsum(rng.normal(0.0, 0.4, size=count)), -1.0, 1.0)
    encoding = (
        str(rng.choice(ENCODINGS, p=[0.5, 0.25, 0.25])) if config.encoding_variety else "delta"
    )
    delay = int(rng.choice(BASE_DELAYS_MS))
    durations = [delay] * count
    durations[-1] = delay * int(rng.integers(1, 4))  # Reaction GIFs often hold the end.
    if rng.uniform() < config.zero_delay_rate:
        durations = [0] * count

    keypoints = np.zeros((count, NUM_KEYPOINTS, 3), np.float32)
    boxes = np.zeros((count, 4), np.float32)
    ellipses = np.zeros((count, 5), np.float32)
    palette_frames: list[Image.Image] = []
    frames: list[np.ndarray] = []
    for t in range(count):
        gain = np.minimum(np.arange(256) * flicker[t], 255).astype(np.uint8)
        canvas = Image.fromarray(gain[static_pixels])
        draw = ImageDraw.Draw(canvas)
        if stripes is not None:
            _draw_stripes(draw, stripes, t, canvas_size)
        for blob in blobs:
            _draw_blob(draw, blob, t, canvas_size)
        shapes, local = _face_local(float(path[t, 0]), float(path[t, 1]), float(gaze[t]))
        _draw_face(draw, poses[t], shapes, look, factor)
        keypoints[t, :, :2] = poses[t](local)
        keypoints[t, :, 2] = 1.0
        boxes[t] = poses[t].box()
        ellipses[t] = poses[t].ellipse()
        if factor > 1:
            canvas = canvas.reduce(factor)
        paletted = _quantize(canvas, config.palette_colors)
        frame = np.asarray(paletted.convert("RGB"))
        if frames and np.array_equal(frame, frames[-1]):
            # GIF encoders merge a frame equal to the one before it; keep the
            # frame count by flipping one corner pixel (almost never needed).
            corner = cast(tuple[int, int, int], canvas.getpixel((0, 0)))  # an RGB image
            canvas.putpixel((0, 0), tuple(255 - c for c in corner))
            paletted = _quantize(canvas, config.palette_colors)
            frame = np.asarray(paletted.convert("RGB"))
        palette_frames.append(paletted)
        frames.append(frame)

    example = SyntheticExample(
        gif_id=gif_id(index),
        index=index,
        frames=np.stack(frames),
        durations_ms=tuple(durations),
        keypoints=keypoints,
        observed_keypoints=_observe_keypoints(config, index, keypoints),
        face_boxes=boxes,
        head_ellipses=ellipses,
        valence_arousal=path.astype(np.float32),
        angle=angle,
        intensities=intensities.astype(np.float32),
        category=category,
        encoding=encoding,
        position=position,
    )
    return example, palette_frames


def _quantize(image: Image.Image, colors: int) -> Image.Image:
    return image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def _observe_keypoints(
    config: SyntheticConfig, index: int, exact: np.ndarray
) -> list[np.ndarray | None]:
    """What a keypoint estimator reports: jitter, drops, low confidence, misses.

    All random numbers are drawn whatever the rates, so a higher rate only
    adds to what a lower one removed (drops and misses are nested).
    """
    rng = np.random.default_rng([config.seed, STREAM_KEYPOINTS, index])
    count = int(exact.shape[0])
    gif_missing = rng.uniform() < config.keypoint_missing_gif_rate
    frame_missing = rng.uniform(size=count) < config.keypoint_missing_frame_rate
    low = rng.uniform(size=count) < config.keypoint_low_confidence_rate
    low_scale = rng.uniform(0.05, 0.3, size=count)
    noise = rng.normal(0.0, 1.0, size=(count, NUM_KEYPOINTS, 2))
    dropped = rng.uniform(size=(count, NUM_KEYPOINTS)) < config.keypoint_drop_rate
    observed: list[np.ndarray | None] = []
    for t in range(count):
        if gif_missing or frame_missing[t]:
            observed.append(None)
            continue
        points = exact[t].astype(np.float64).copy()
        points[:, :2] += config.keypoint_jitter * noise[t]
        if low[t]:
            points[:, 2] *= low_scale[t]
        points[dropped[t]] = 0.0
        observed.append(points.astype(np.float32))
    return observed


def gif_id(index: int) -> str:
    """The id of example ``index``: ``syn`` and five digits."""
    return f"syn{index:05d}"


def generate_example(config: SyntheticConfig | None = None, index: int = 0) -> SyntheticExample:
    """Regenerates one example in memory, identical to the file of that index.

    Args:
        config: The dataset's config (read it back with :func:`read_config`).
        index: Example index in ``[0, num_gifs)`` (any non-negative index
            works; examples do not depend on ``num_gifs``).

    Returns:
        A :class:`SyntheticExample` with frames, keypoints, face boxes and
        intensities.
    """
    config = config if config is not None else SyntheticConfig()
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"`index` must be a non-negative int. Received: index={index!r}")
    return render_example(config, int(index))[0]


def encode_gif(example: SyntheticExample, palette_frames: Sequence[Image.Image]) -> bytes:
    """Encodes palette frames as an animated GIF in the example's encoding."""
    options: dict[str, Any] = {
        "format": "GIF",
        "save_all": True,
        "append_images": list(palette_frames[1:]),
        "duration": list(example.durations_ms),
        "loop": 0,
    }
    if example.encoding == "restore":
        options["disposal"] = 2
    elif example.encoding == "keep":
        options["disposal"] = 1
        options["optimize"] = False
    buffer = io.BytesIO()
    palette_frames[0].save(buffer, **options)
    return buffer.getvalue()


def keypoint_document(example: SyntheticExample, frame_size: tuple[int, int]) -> dict[str, Any]:
    """The ``kavan-keypoints-v1`` JSON document of an example's observed keypoints."""
    frames: list[dict[str, Any]] = []
    for points in example.observed_keypoints:
        if points is None:
            frames.append({"people": []})
        else:
            values = [round(float(v), 2) for v in points.reshape(-1)]
            frames.append({"people": [{"face_keypoints_2d": values}]})
    return {
        "format": KEYPOINT_FORMAT,
        "source": "synthetic",
        "frame_size": [int(frame_size[0]), int(frame_size[1])],
        "frames": frames,
    }
