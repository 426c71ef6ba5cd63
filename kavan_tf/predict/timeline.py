"""Emotion timelines: one prediction per time window of a long video or animation.

``kavan predict FILE --timeline out.csv`` cuts the file into windows of
``window_s`` seconds every ``stride_s`` seconds and predicts each window as
evaluation predicts a GIF: ``T`` frames, one from the middle of each of ``T``
equal stretches of display time inside the window (docs/decisions.md,
"GIF decoding and sampling").

Video (MP4, WebM; PyAV) is decoded as it plays, each frame resized to the
model's input as it arrives, and a frame is dropped once no later window
can show it, so memory does not grow with the video's length. Windows are
batched for the model. A video that is cut or damaged keeps the windows
before the damage, with a warning naming the time it stopped. GIF, WebP and
APNG files are decoded whole (their size limits apply) and then windowed the
same way.

Windows start at ``0, stride_s, 2 stride_s, ...`` and every window is
``window_s`` long; a file shorter than one window gives one window, over the
whole file. The tail after the last full window is not predicted on its own.

Example:

```python
from kavan_tf.predict import load_predictor
from kavan_tf.predict.timeline import predict_timeline

predictor = load_predictor("runs/demo/model.keras")
for row in predict_timeline(predictor, "talk.mp4", window_s=3.0, stride_s=1.0):
    print(row["start"], row["end"], row["category"])
```
"""

from __future__ import annotations

import collections
import csv
import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from kavan_tf.config import DataConfig, PredictConfig
from kavan_tf.data import sampling
from kavan_tf.data.media import decode_media, media_format
from kavan_tf.errors import MediaDecodeError

logger = logging.getLogger(__name__)

#: Formats PyAV decodes as they play.
_STREAMED = ("MP4", "WebM")


@dataclass(frozen=True)
class TimedFrame:
    """A frame at the model's input size, on screen from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    frame: np.ndarray  # uint8 [height, width, 3]


@dataclass(frozen=True)
class Window:
    """``T`` frames sampled from ``[start, end)`` (seconds)."""

    start: float
    end: float
    frames: np.ndarray  # uint8 [T, height, width, 3]


def check_windows(window_s: float, stride_s: float) -> None:
    """Raises ``ValueError`` naming the bad argument."""
    for name, value in (("window_s", window_s), ("stride_s", stride_s)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"`{name}` must be a positive number of seconds. "
                             f"Received: {name}={value!r}")


def timed_frames(
    path: str,
    image_size: tuple[int, int],
    data_config: DataConfig | None = None,
    *,
    on_stop: Callable[[str], None] | None = None,
) -> Iterator[TimedFrame]:
    """The frames of ``path`` in display order, resized to ``image_size``.

    Video is streamed (PyAV); other formats are decoded whole by
    :func:`kavan_tf.data.media.decode_media`.

    Args:
        path: The file.
        image_size: ``(height, width)`` of the model's input.
        data_config: Resize mode, background and size limits.
        on_stop: Called with a message when a video stops early (cut or
            damaged) after at least one frame; the frames before are kept.

    Raises:
        MediaDecodeError: The file cannot be decoded at all.
    """
    data_config = data_config if data_config is not None else DataConfig()
    with open(path, "rb") as f:
        head = f.read(64)
    fmt = media_format(head, path)
    if fmt in _STREAMED:
        yield from _video_frames(path, fmt, image_size, data_config, on_stop)
        return
    with open(path, "rb") as f:
        media = decode_media(f.read(), data_config, name=path)
    frames, _ = sampling.resize_frames(media.frames, image_size, mode=data_config.resize,
                                       background=data_config.background)
    start = 0.0
    for frame, delay in zip(frames, media.delays_ms, strict=True):
        end = start + float(delay) / 1000.0
        yield TimedFrame(start, end, frame)
        start = end


def _video_frames(path: str, fmt: str, image_size: tuple[int, int], config: DataConfig,
                  on_stop: Callable[[str], None] | None) -> Iterator[TimedFrame]:
    try:
        import av  # optional extra: PyAV (video)
    except ImportError as e:
        raise MediaDecodeError(
            path, "video needs PyAV, the optional extra: pip install 'kavan_tf[video]'", fmt
        ) from e
    try:
        container = av.open(path, mode="r")
    except Exception as e:  # noqa: BLE001  (PyAV wraps FFmpeg's many errors)
        raise MediaDecodeError(path, str(e) or type(e).__name__, fmt) from e
    with container:
        if not container.streams.video:
            raise MediaDecodeError(path, "the file holds no video stream", fmt)
        stream = container.streams.video[0]
        rate = float(stream.average_rate) if stream.average_rate else 10.0
        pending: TimedFrame | None = None  # a frame ends where the next one starts
        origin: float | None = None
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.width * frame.height > config.max_frame_pixels:
                    raise MediaDecodeError(
                        path, f"frame {count} is {frame.width}x{frame.height}, over "
                        f"max_frame_pixels={config.max_frame_pixels}", fmt)
                time = float(frame.time) if frame.time is not None else count / rate
                origin = time if origin is None else origin
                resized, _ = sampling.resize_frames(
                    frame.to_ndarray(format="rgb24")[None], image_size, mode=config.resize,
                    background=config.background)
                start = time - origin
                if pending is not None:
                    yield TimedFrame(pending.start, max(start, pending.start + 1e-3),
                                     pending.frame)
                pending = TimedFrame(start, start + 1.0 / rate, resized[0])
                count += 1
        except MediaDecodeError:
            raise
        except Exception as e:  # noqa: BLE001
            if pending is None:
                raise MediaDecodeError(path, str(e) or type(e).__name__, fmt) from e
            if on_stop is not None:
                on_stop(f"{path}: decoding stopped at {pending.end:.2f} s "
                        f"({str(e) or type(e).__name__}); the windows before it are kept")
                on_stop = None  # one warning per file
        if pending is None:
            raise MediaDecodeError(path, "the video stream holds no frame", fmt)
        yield pending
        # A file cut short often just ends: compare with the length its header states.
        stated = _stated_seconds(container, stream)
        if stated is not None and pending.end < stated - 2.0 / rate and on_stop is not None:
            on_stop(f"{path}: decoding stopped at {pending.end:.2f} s of the {stated:.2f} s "
                    "the file states (cut or damaged); the windows before it are kept")


def _stated_seconds(container: Any, stream: Any) -> float | None:
    """The duration a video's headers state, in seconds, if they state one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def windows(frames: Iterable[TimedFrame], num_frames: int, window_s: float,
            stride_s: float) -> Iterator[Window]:
    """Cuts a stream of frames into windows of ``num_frames`` sampled frames.

    The sample instants of a window ``[s, s + window_s)`` are the middles of
    its ``num_frames`` equal stretches; each takes the frame on screen then.
    Frames no later window can show are dropped as the stream goes on.
    """
    check_windows(window_s, stride_s)
    offsets = (np.arange(num_frames) + 0.5) * (window_s / num_frames)
    buffer: collections.deque[TimedFrame] = collections.deque()
    index, end = 0, 0.0
    for frame in frames:
        buffer.append(frame)
        end = frame.end
        while index * stride_s + window_s <= end:
            start = index * stride_s
            yield Window(start, start + window_s, _frames_at(buffer, start + offsets))
            index += 1
            while len(buffer) > 1 and buffer[1].start <= index * stride_s:
                buffer.popleft()  # not on screen at or after the next window's start
    if index == 0 and buffer:  # shorter than one window: one window over all of it
        start = buffer[0].start
        instants = start + (np.arange(num_frames) + 0.5) * ((end - start) / num_frames)
        yield Window(start, end, _frames_at(buffer, instants))


def _frames_at(buffer: collections.deque[TimedFrame], instants: np.ndarray) -> np.ndarray:
    starts = np.array([f.start for f in buffer])
    picks = np.clip(np.searchsorted(starts, instants, side="right") - 1, 0, len(buffer) - 1)
    return np.stack([buffer[int(i)].frame for i in picks])


def predict_timeline(
    predictor: Any,
    path: str,
    *,
    window_s: float = PredictConfig.timeline_window_s,
    stride_s: float = PredictConfig.timeline_stride_s,
    batch_size: int = PredictConfig.batch_size,
    data_config: DataConfig | None = None,
    on_frames: Callable[[float], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Predicts every window of ``path``: one row per window, as they are ready.

    Args:
        predictor: A frames predictor (:func:`kavan_tf.predict.load_predictor`).
        path: A video, GIF, WebP or APNG file.
        window_s: Window length in seconds.
        stride_s: Seconds between window starts.
        batch_size: Windows per model call.
        data_config: Decoder settings; the predictor's when ``None``.
        on_frames: Called with the display time (seconds) of each frame read,
            e.g. to drive a progress bar.

    Yields:
        ``{"file", "start", "end", "category", "p_<category>"..., <emotion>...,
        "valence", "arousal"}`` (the last two where the model gives them).
    """
    check_windows(window_s, stride_s)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int. Received: {batch_size!r}")
    data_config = data_config or getattr(predictor, "data_config", None) or DataConfig()

    def stopped(message: str) -> None:
        logger.warning(message)

    def watched(stream: Iterable[TimedFrame]) -> Iterator[TimedFrame]:
        for frame in stream:
            if on_frames is not None:
                on_frames(frame.end)
            yield frame

    stream = timed_frames(path, predictor.image_size, data_config, on_stop=stopped)
    batch: list[Window] = []
    for window in windows(watched(stream), predictor.num_frames, window_s, stride_s):
        batch.append(window)
        if len(batch) == batch_size:
            yield from _rows(predictor, path, batch)
            batch = []
    if batch:
        yield from _rows(predictor, path, batch)


def _rows(predictor: Any, path: str, batch: list[Window]) -> Iterator[dict[str, Any]]:
    frames = np.stack([w.frames for w in batch]).astype(np.float32)
    outputs = predictor.run_frames(frames)
    emotions, categories = predictor.labels.emotions, predictor.labels.category_names
    for row, window in enumerate(batch):
        probabilities = outputs["category"][row]
        record: dict[str, Any] = {
            "file": path,
            "start": round(window.start, 3),
            "end": round(window.end, 3),
            "category": categories[int(np.argmax(probabilities))],
        }
        record.update({f"p_{name}": float(p)
                       for name, p in zip(categories, probabilities, strict=True)})
        record.update({name: float(v)
                       for name, v in zip(emotions, outputs["intensities"][row], strict=True)})
        for name in ("valence", "arousal"):
            if name in outputs:
                record[name] = float(np.reshape(outputs[name], (len(batch), -1))[row, 0])
        yield record


class TimelineWriter:
    """Writes timeline rows as CSV, or as JSONL when the file name ends in ``.jsonl``.

    Rows are written as they come, so a long video's rows are not held in memory.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.jsonl = path.lower().endswith((".jsonl", ".json"))
        self._file: IO[str] | None = None
        self._csv: Any = None

    def __enter__(self) -> TimelineWriter:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        return self

    def write(self, row: dict[str, Any]) -> None:
        assert self._file is not None, "use TimelineWriter in a with block"
        if self.jsonl:
            self._file.write(json.dumps(row) + "\n")
            return
        if self._csv is None:
            self._csv = csv.DictWriter(self._file, fieldnames=list(row))
            self._csv.writeheader()
        self._csv.writerow(row)

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def read_timeline(path: str) -> list[dict[str, Any]]:
    """The rows of a timeline file written by :class:`TimelineWriter`."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.lower().endswith((".jsonl", ".json")):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for key, value in row.items():
            if key not in ("file", "category"):
                row[key] = float(value)
    return rows
