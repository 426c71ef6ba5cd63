"""Animations beyond GIF: animated WebP and APNG (Pillow), MP4 and WebM (PyAV).

:func:`decode_media` is the one entry point the package decodes files with
(prediction, ``kavan prepare``, the on-the-fly pipeline, ``kavan
keypoints``). It looks at the first bytes, not the file name:

| first bytes | format | decoder |
|---|---|---|
| ``GIF87a`` / ``GIF89a`` | GIF | :mod:`kavan_tf.data.gif`, the reference decoder |
| ``RIFF....WEBP`` | WebP (still or animated) | Pillow |
| ``\\x89PNG`` | PNG / APNG | Pillow |
| ``....ftyp`` (or another ISO box) | MP4 (also MOV, M4V) | PyAV, the optional ``video`` extra |
| ``\\x1aE\\xdf\\xa3`` | WebM (also Matroska) | PyAV |

Anything else goes to the GIF decoder, which refuses it with the same
message as the served model (``not a GIF file ...``), unless the file's name
ends in another format's suffix: a ``.webp`` or ``.png`` is then refused as
not that format, and a video suffix (``.mp4``, ``.mov``, ``.webm``, ...) goes
to FFmpeg, which probes the container itself.

Every format is decoded into the same :class:`~kavan_tf.data.gif.DecodedGif`:
composited RGB frames (transparent pixels show ``DataConfig.background``),
per-frame display times in ``delays_ms`` and the ``format``. WebP and APNG
durations come from the files (Pillow composites their blend and dispose
operations); video delays are the differences of the frames' presentation
timestamps, the last frame lasting as long as the one before it. WebP and
APNG durations of 10 ms or less play as 100 ms, as GIF's do in browsers. Frames
other than GIF's are sampled by display time
(:func:`kavan_tf.data.sampling.sampling_mode`), since
their timestamps are what defines them.

The decompression-bomb limits of the :class:`~kavan_tf.config.DataConfig`
apply to every format, checked from the headers before any frame is decoded
where the container states them (WebP, APNG) and frame by frame otherwise
(video). A file cut short after its first frame keeps the frames decoded so
far, with a warning, as a truncated GIF does.

Example:

```python
from kavan_tf.config import DataConfig
from kavan_tf.data.media import decode_media

clip = decode_media("reaction.mp4", DataConfig())
clip.format, clip.frames.shape, clip.delays_ms[:3]   # ('MP4', (48, 270, 480, 3), [42, 41, 42])
```
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings

import numpy as np
from PIL import Image

from kavan_tf.config import DataConfig
from kavan_tf.data.gif import DecodedGif, GifSource, decode_gif_with_config, read_source
from kavan_tf.errors import DecompressionBombError, MediaDecodeError

logger = logging.getLogger(__name__)

#: File suffixes that folders are searched for (``kavan predict gifs/``).
MEDIA_SUFFIXES = (".gif", ".webp", ".png", ".apng", ".mp4", ".m4v", ".mov", ".webm", ".mkv")
_SUFFIX_FORMAT = {
    ".webp": "WebP", ".png": "PNG", ".apng": "PNG", ".mp4": "MP4", ".m4v": "MP4",
    ".mov": "MP4", ".webm": "WebM", ".mkv": "WebM",
}
_SHORTEST_MS = 10
# ISO base media (MP4, MOV, M4V) files start with one of these boxes.
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_DEFAULT_DELAY_MS = 100


def sniff_format(data: bytes) -> str | None:
    """``"GIF"``, ``"WebP"``, ``"PNG"``, ``"MP4"``, ``"WebM"`` from the first bytes, or ``None``."""
    if data[:4] == b"GIF8":
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[4:8] in _ISO_BOXES:
        return "MP4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM"
    return None


def media_format(data: bytes, name: str = "") -> str:
    """The format a file is decoded as: from its first bytes, else from its
    name's suffix, else ``"GIF"`` (whose decoder then refuses it)."""
    return sniff_format(data) or _SUFFIX_FORMAT.get(os.path.splitext(name)[1].lower(), "GIF")


def decode_media(
    source: GifSource, config: DataConfig, *, name: str | None = None
) -> DecodedGif:
    """Decodes a GIF, WebP, APNG, MP4 or WebM file into frames and delays.

    Args:
        source: A file path, or the file's bytes.
        config: Background colour and decompression-bomb limits.
        name: Name used in errors and warnings.

    Returns:
        The decoded animation; ``format`` says which container it was.

    Raises:
        DecompressionBombError: The file exceeds one of the limits.
        MediaDecodeError: The file cannot be read or decoded (a
            :class:`~kavan_tf.errors.GifDecodeError` for GIFs), or a video
            arrives without PyAV installed.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else ""
    data, name = read_source(source, name, media_format(b"", name or path))
    found = media_format(data, name)
    if found in ("WebP", "PNG") and sniff_format(data) is None:
        raise MediaDecodeError(name, f"not a {found} file (its first bytes are "
                                     f"{data[:12]!r})", found)
    # A video named by its suffix goes to FFmpeg, which knows more containers
    # than the first bytes tell; it refuses what it cannot read.
    if found == "GIF":
        return decode_gif_with_config(data, config, name=name)
    if found in ("WebP", "PNG"):
        return _decode_pillow(data, name, found, config)
    return _decode_video(data, name, found, config)


def _check_limits(name: str, fmt: str, width: int, height: int, count: int | None,
                  config: DataConfig) -> None:
    if width * height > config.max_frame_pixels:
        raise DecompressionBombError(
            name, f"frames of {width}x{height} exceed max_frame_pixels={config.max_frame_pixels}",
            fmt)
    if count is not None and count > config.max_frames:
        raise DecompressionBombError(name, f"more than max_frames={config.max_frames} frames",
                                     fmt)
    if count is not None and width * height * count > config.max_total_pixels:
        raise DecompressionBombError(
            name, f"{count} frames of {width}x{height} ({width * height * count} pixels) "
            f"exceed max_total_pixels={config.max_total_pixels}", fmt)


def _delay(ms: float | None) -> int:
    if ms is None or not np.isfinite(ms) or ms <= _SHORTEST_MS:
        return _DEFAULT_DELAY_MS
    return int(round(ms))


def _composite(rgba: np.ndarray, background: tuple[int, int, int]) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """RGBA over the background colour -> (RGB uint8, coverage)."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16) * alpha + np.asarray(background, np.uint16) * (
        255 - alpha)
    return ((rgb + 127) // 255).astype(np.uint8), rgba[..., 3] > 0


def _why(error: Exception) -> str:
    """FFmpeg's and Pillow's error text, without the stream names they add."""
    text = getattr(error, "strerror", None) or str(error)
    return f"{type(error).__name__}: {text}"


def _finish(name: str, fmt: str, frames: list[np.ndarray], coverage: list[np.ndarray],
            delays: list[int], notes: list[str], loop: int | None) -> DecodedGif:
    for note in notes:
        logger.warning("%s: %s", name, note)
    return DecodedGif(
        frames=np.stack(frames), delays_ms=np.asarray(delays, np.int32), path=name,
        coverage=np.stack(coverage), loop_count=loop, warnings=tuple(notes), format=fmt,
    )


def _decode_pillow(data: bytes, name: str, fmt: str, config: DataConfig) -> DecodedGif:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as e:
        # Pillow's own guard (at twice its MAX_IMAGE_PIXELS) refused the header
        # before ours could: the same refusal, in the package's words.
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1))} pixels" if found else "more pixels than Pillow opens"
        raise DecompressionBombError(
            name, f"frames of {size} exceed max_frame_pixels={config.max_frame_pixels}",
            fmt) from e
    except Image.UnidentifiedImageError as e:
        raise MediaDecodeError(
            name, f"not a {fmt} file Pillow can read (unknown or damaged header)", fmt) from e
    except Exception as e:  # noqa: BLE001  (Pillow raises many types on bad files)
        raise MediaDecodeError(name, _why(e), fmt) from e
    with image:
        width, height = image.size
        count = int(getattr(image, "n_frames", 1))
        _check_limits(name, fmt, width, height, count, config)
        frames: list[np.ndarray] = []
        coverage: list[np.ndarray] = []
        delays: list[int] = []
        notes: list[str] = []
        for index in range(count):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    image.seek(index)
                    rgba = np.asarray(image.convert("RGBA"))
            except Exception as e:  # noqa: BLE001
                if not frames:
                    raise MediaDecodeError(name, _why(e), fmt) from e
                notes.append(f"decoding stopped at frame {index} of {count} "
                             f"({_why(e)}); kept {index} frame(s)")
                break
            rgb, covered = _composite(rgba, config.background)
            frames.append(rgb)
            coverage.append(covered)
            delays.append(_delay(image.info.get("duration")))
        loop = image.info.get("loop")
    return _finish(name, fmt, frames, coverage, delays, notes,
                   int(loop) if isinstance(loop, (int, np.integer)) else None)


def _decode_video(data: bytes, name: str, fmt: str, config: DataConfig) -> DecodedGif:
    try:
        import av  # optional extra: PyAV (video)
    except ImportError as e:
        raise MediaDecodeError(
            name, "video needs PyAV, the optional extra: pip install 'kavan_tf[video]'", fmt
        ) from e
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except Exception as e:  # noqa: BLE001  (PyAV wraps FFmpeg's many errors)
        raise MediaDecodeError(name, _why(e), fmt) from e
    with container:
        if not container.streams.video:
            raise MediaDecodeError(name, "the file holds no video stream", fmt)
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width < 1 or height < 1:
            raise MediaDecodeError(name, "the video stream has no frame size", fmt)
        declared = int(stream.frames or 0)
        _check_limits(name, fmt, width, height, declared or None, config)
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        frames: list[np.ndarray] = []
        times: list[float | None] = []
        notes: list[str] = []
        try:
            for frame in container.decode(stream):
                if len(frames) >= config.max_frames:
                    raise DecompressionBombError(
                        name, f"more than max_frames={config.max_frames} frames", fmt)
                if frame.width * frame.height > config.max_frame_pixels:
                    _check_limits(name, fmt, frame.width, frame.height, None, config)
                image = frame.to_ndarray(format="rgb24")
                total = sum(f.shape[0] * f.shape[1] for f in frames) + frame.width * frame.height
                if total > config.max_total_pixels:
                    raise DecompressionBombError(
                        name, f"more than {len(frames)} frames ({total} pixels) exceed "
                        f"max_total_pixels={config.max_total_pixels}", fmt)
                frames.append(image)
                times.append(None if frame.time is None else float(frame.time))
        except MediaDecodeError:
            raise
        except Exception as e:  # noqa: BLE001
            if not frames:
                raise MediaDecodeError(name, _why(e), fmt) from e
            notes.append(f"decoding stopped after {len(frames)} frame(s) "
                         f"({_why(e)})")
    if not frames:
        raise MediaDecodeError(name, "the video stream holds no frame", fmt)
    if len({f.shape for f in frames}) > 1:  # a resolution change mid-stream
        frames = [f if f.shape == frames[0].shape else np.asarray(
            Image.fromarray(f).resize((width, height), Image.Resampling.BILINEAR))
            for f in frames]
    order = np.argsort([t if t is not None else i for i, t in enumerate(times)], kind="stable")
    frames = [frames[i] for i in order]
    delays = _video_delays([times[i] for i in order], rate)
    coverage = [np.ones(f.shape[:2], bool) for f in frames]
    return _finish(name, fmt, frames, coverage, delays, notes, 0)


def _video_delays(times: list[float | None], rate: float) -> list[int]:
    """Display time of each frame in ms: the gap to the next timestamp."""
    step = 1000.0 / rate if rate > 0 else float(_DEFAULT_DELAY_MS)
    known = [t for t in times if t is not None]
    if len(known) < len(times):
        gaps = [step] * len(times)
    else:
        gaps = [1000.0 * (b - a) for a, b in zip(known, known[1:], strict=False)]
        gaps.append(gaps[-1] if gaps else step)
    # Video plays as timed (no browser clamp); a frame lasts at least 1 ms.
    return [max(1, int(round(g))) for g in gaps]


__all__ = ["MEDIA_SUFFIXES", "decode_media", "media_format", "sniff_format"]
