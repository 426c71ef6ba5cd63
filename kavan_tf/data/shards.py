"""TFRecord shards of decoded GIFs and of cached backbone features.

Two kinds of shards, both written by ``kavan prepare`` (see
:mod:`kavan_tf.data.prepare`):

- **frame shards**: per GIF, every frame decoded, composited and resized to the
  model's input size (JPEG- or PNG-encoded), the keypoints in resized-frame
  pixels, the delays and the targets. Reading samples T frames per GIF in the
  input pipeline (random per TSN segment for training), so no information is
  lost to a fixed sampling and no GIF is decoded twice.
- **feature shards**: per GIF, the frozen backbone's features of ``K``
  frames of each of the ``T`` TSN segments (``data.feature_frames_per_segment``,
  at the segment's quantiles ``(j + 1/2) / K``, see
  :func:`kavan_tf.data.sampling.segment_candidates`) as float16
  ``[T, K, h, w, D]``, with heatmap targets ``[T, K, h, w]`` (the
  feature-cache mode: train the attention + temporal head only). Training
  draws one of the ``K`` per segment, uniformly and anew each epoch, so it
  keeps TSN's random frame per segment (paper 3.1) in ``K`` strata;
  evaluation takes the middle one, the evaluation frame. Disk per GIF:
  ``T K h w D`` x 2 bytes (ResNet-50 at 224 x 224, T = 8, K = 3: 4.8 MB).
"""

from __future__ import annotations

import functools
import glob
import os
import struct
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from kavan_tf.config import KavanConfig
from kavan_tf.data import sampling
from kavan_tf.data.heatmaps import keypoint_heatmaps
from kavan_tf.data.pipeline import epoch_seed, replica_batches

FRAME_PATTERN = "frames-{index:05d}.tfrecord"
FEATURE_PATTERN = "features-{index:05d}.tfrecord"


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values).tolist()))


def _ints(values: np.ndarray | list[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(values).tolist()))


def frame_example(
    gif_id: str,
    frames: np.ndarray,
    delays_ms: np.ndarray,
    keypoints: np.ndarray,
    intensities: np.ndarray,
    category: int,
    encoding: str = "jpeg",
    media_format: str = "GIF",
) -> bytes:
    """Serialises one GIF for a frame shard.

    Args:
        gif_id: The GIF's id.
        frames: uint8 ``[N, H, W, 3]`` resized frames.
        delays_ms: ``[N]`` delays.
        keypoints: float32 ``[N, P, 70, 3]`` keypoints in resized-frame pixels.
        intensities: ``[E]`` targets.
        category: Category id.
        encoding: ``"jpeg"`` (quality 95) or ``"png"`` (lossless).
        media_format: The source's container (``DecodedGif.format``); frames
            not from a GIF are sampled by display time
            (:func:`kavan_tf.data.sampling.sampling_mode`).
    """
    if encoding == "jpeg":
        encoded = [tf.io.encode_jpeg(f, quality=95).numpy() for f in frames]
    elif encoding == "png":
        encoded = [tf.io.encode_png(f).numpy() for f in frames]
    else:
        raise ValueError(f"`encoding` must be 'jpeg' or 'png'. Received: encoding={encoding!r}")
    features = {
        "gif_id": _bytes([gif_id.encode("utf-8")]),
        "frames": _bytes(encoded),
        "delays_ms": _ints(delays_ms),
        "num_people": _ints([keypoints.shape[1]]),
        "keypoints": _bytes([np.ascontiguousarray(keypoints, np.float32).tobytes()]),
        "intensities": _floats(intensities),
        "category": _ints([int(category)]),
        "by_time": _ints([int(sampling.sampling_mode(media_format, "index") == "time")]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def feature_example(
    gif_id: str,
    features: np.ndarray,
    heatmaps: np.ndarray,
    intensities: np.ndarray,
    category: int,
) -> bytes:
    """Serialises one GIF's cached backbone features (float16) for a feature shard.

    Args:
        features: ``[T, K, h, w, D]`` (``K`` frames per segment) or ``[T, h, w, D]``.
        heatmaps: ``[T, K, h, w]`` or ``[T, h, w]``.
    """
    features = np.asarray(features)
    per_segment = features.shape[1] if features.ndim == 5 else 1
    values = {
        "gif_id": _bytes([gif_id.encode("utf-8")]),
        "features": _bytes([np.ascontiguousarray(features, np.float16).tobytes()]),
        "heatmaps": _bytes([np.ascontiguousarray(heatmaps, np.float32).tobytes()]),
        "frames_per_segment": _ints([per_segment]),
        "intensities": _floats(intensities),
        "category": _ints([int(category)]),
    }
    return tf.train.Example(features=tf.train.Features(feature=values)).SerializeToString()


def shard_files(directory: str, kind: str = "frames") -> list[str]:
    """Finished shards of a prepared folder (temporary files are never listed)."""
    pattern = (FRAME_PATTERN if kind == "frames" else FEATURE_PATTERN).replace(
        "{index:05d}", "[0-9]" * 5
    )
    files = sorted(glob.glob(os.path.join(directory, pattern)))
    if not files:
        raise FileNotFoundError(f"No {kind} shards in {directory} (run `kavan prepare` first)")
    return files


def record_index(files: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(file, offset, length)`` of every record of uncompressed TFRecord files.

    Reads each record's 12-byte header and seeks past its data, so indexing
    costs a few bytes per record; records are numbered in file order. Kept
    while the files keep their sizes and modification times (a run builds
    one dataset per epoch).
    """
    stamps = tuple((path, os.path.getsize(path), os.path.getmtime(path)) for path in files)
    return _record_index(stamps)


@functools.lru_cache(maxsize=8)
def _record_index(stamps: tuple[tuple[str, int, float], ...]):
    files = [path for path, _, _ in stamps]
    file_ids, offsets, lengths = [], [], []
    for i, path in enumerate(files):
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            position = 0
            while position < size:
                header = f.read(12)
                if len(header) < 12:
                    raise ValueError(f"{path}: truncated record header at byte {position}")
                (length,) = struct.unpack("<Q", header[:8])
                if position + 16 + length > size:
                    raise ValueError(f"{path}: truncated record at byte {position}")
                file_ids.append(i)
                offsets.append(position + 12)
                lengths.append(length)
                position += 16 + length
                f.seek(position)
    return (np.asarray(file_ids, np.int64), np.asarray(offsets, np.int64),
            np.asarray(lengths, np.int64))


def read_record(path: bytes, offset: np.int64, length: np.int64) -> bytes:
    """The data of one record (located by :func:`record_index`)."""
    with open(path, "rb") as f:
        return os.pread(f.fileno(), int(length), int(offset))


def _records(
    files: list[str], config: KavanConfig, *, training: bool, seed: int, epoch: int | None,
) -> tuple[tf.data.Dataset, int, Callable[[tf.Tensor], tf.Tensor], int]:
    """The plan of a shard dataset: ``(record number, example seed)`` pairs in
    single-device order (shuffled over all records when training), the
    number of records, the function that reads one record by number, and
    the seed of the sampling."""
    file_ids, offsets, lengths = record_index(files)
    names = tf.constant(files)
    reshuffle = training and epoch is None
    if epoch is not None:
        seed = epoch_seed(seed, epoch)
    plan = tf.data.Dataset.range(len(offsets))
    if training:
        plan = plan.shuffle(len(offsets), seed=seed, reshuffle_each_iteration=reshuffle)
    plan = tf.data.Dataset.zip(
        plan, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle)
    )

    def read(number):
        # Looked up at call time, so that a test can count the reads.
        return tf.numpy_function(
            lambda p, o, n: read_record(p, o, n),
            [tf.gather(names, tf.gather(file_ids, number)), tf.gather(offsets, number),
             tf.gather(lengths, number)],
            tf.string, stateful=False)

    return plan, len(offsets), read, seed


def _frame_spec() -> dict[str, tf.io.FixedLenFeature | tf.io.VarLenFeature]:
    return {
        "gif_id": tf.io.FixedLenFeature([], tf.string),
        "frames": tf.io.VarLenFeature(tf.string),
        "delays_ms": tf.io.VarLenFeature(tf.int64),
        "num_people": tf.io.FixedLenFeature([], tf.int64),
        "keypoints": tf.io.FixedLenFeature([], tf.string),
        "intensities": tf.io.VarLenFeature(tf.float32),
        "category": tf.io.FixedLenFeature([], tf.int64),
        # 1: sample by display time whatever data.sampling says (not a GIF).
        "by_time": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }


def build_frame_shard_dataset(
    directory: str,
    config: KavanConfig,
    *,
    training: bool,
    feature_grid: tuple[int, int],
    seed: int | None = None,
    batch_size: int | None = None,
    files: list[str] | None = None,
    frames_per_segment: int = 0,
    epoch: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """``(frames, targets)`` batches from frame shards, sampled as :func:`build_dataset`.

    Args:
        directory: A folder written by ``kavan prepare``.
        config: The experiment config.
        training: Shuffle and sample randomly per TSN segment, or not.
        feature_grid: ``(h, w)`` of the heatmap targets.
        seed: Shuffle/sampling seed (``config.train.seed`` when ``None``).
        batch_size: ``config.data.batch_size`` when ``None``.
        files: Read only these shards (default: all finished shards).
        frames_per_segment: When ``K > 0``, every GIF gives the ``T x K``
            frames of :func:`sampling.segment_candidates` (segment-major)
            instead of ``T`` sampled ones (the feature cache's input).
        epoch: This one epoch only, seeded by ``(seed, epoch)`` (as
            :func:`kavan_tf.data.pipeline.build_dataset`); ``None``:
            reshuffled and resampled on every iteration.
        input_context: Yield this input pipeline's per-replica batches only,
            reading only their records (see
            :func:`kavan_tf.data.pipeline.replica_batches`).

    Training shuffles all records of all shards (not a window of them): the
    records are read by offset (:func:`record_index`), so a worker reads only
    the records of its slices of the global batches.
    """
    seed = config.train.seed if seed is None else seed
    plan, _, read, seed = _records(files or shard_files(directory, "frames"), config,
                                   training=training, seed=seed, epoch=epoch)
    batch_size = config.data.batch_size if batch_size is None else batch_size
    T = config.model.num_frames
    height, width = config.model.image_size
    h, w = feature_grid
    num_emotions = config.labels.num_emotions

    def sample(num_frames, delays, people, keypoints, by_time, example_seed):
        rng = np.random.default_rng([seed, int(example_seed) & 0x7FFFFFFF])
        by = "time" if by_time else config.data.sampling
        if frames_per_segment:
            indices = sampling.segment_candidates(
                int(num_frames), T, frames_per_segment, delays_ms=delays, by=by,
            ).ravel()
        else:
            indices = sampling.sample_indices(
                int(num_frames),
                T,
                training=training,
                rng=rng,
                delays_ms=delays,
                by=by,
            )
        points = np.frombuffer(keypoints, np.float32).reshape(int(num_frames), int(people), 70, 3)
        heatmaps, _ = keypoint_heatmaps(
            points[indices], (height, width), feature_grid, config=config.data
        )
        return np.asarray(indices, np.int64), heatmaps

    def parse(number, example_seed):
        example = tf.io.parse_single_example(read(number), _frame_spec())
        encoded = tf.sparse.to_dense(example["frames"])
        delays = tf.sparse.to_dense(example["delays_ms"])
        indices, heatmaps = tf.numpy_function(
            sample,
            [
                tf.shape(encoded)[0],
                delays,
                example["num_people"],
                example["keypoints"],
                example["by_time"],
                example_seed,
            ],
            [tf.int64, tf.float32],
            stateful=False,
        )
        frames = tf.map_fn(
            lambda data: tf.io.decode_image(data, channels=3, expand_animations=False),
            tf.gather(encoded, indices),
            fn_output_signature=tf.TensorSpec((None, None, 3), tf.uint8),
        )
        frames = tf.ensure_shape(frames, (num_out, height, width, 3))
        targets = {
            "intensities": tf.ensure_shape(
                tf.sparse.to_dense(example["intensities"]), (num_emotions,)
            ),
            "category": example["category"],
            "attention": tf.ensure_shape(heatmaps, (num_out, h, w)),
        }
        return tf.cast(frames, tf.float32), targets, tf.constant(True)

    num_out = T * frames_per_segment if frames_per_segment else T
    return replica_batches(plan, parse, batch_size=batch_size, context=input_context,
                           num_parallel_calls=config.data.num_parallel_calls)


def build_feature_dataset(
    directory: str,
    config: KavanConfig,
    feature_shape: tuple[int, int, int],
    *,
    training: bool,
    seed: int | None = None,
    batch_size: int | None = None,
    epoch: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """``(features, targets)`` batches from feature shards (float16 on disk, float32 out).

    Shuffled, sharded and read by record as :func:`build_frame_shard_dataset`
    (``epoch`` and ``input_context`` as there).
    """
    seed = config.train.seed if seed is None else seed
    plan, _, read, seed = _records(shard_files(directory, "features"), config,
                                   training=training, seed=seed, epoch=epoch)
    batch_size = config.data.batch_size if batch_size is None else batch_size
    T = config.model.num_frames
    h, w, d = feature_shape
    spec = {
        "gif_id": tf.io.FixedLenFeature([], tf.string),
        "features": tf.io.FixedLenFeature([], tf.string),
        "heatmaps": tf.io.FixedLenFeature([], tf.string),
        # Caches written before K existed hold one frame per segment.
        "frames_per_segment": tf.io.FixedLenFeature([], tf.int64, default_value=1),
        "intensities": tf.io.FixedLenFeature([config.labels.num_emotions], tf.float32),
        "category": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(number, example_seed):
        example = tf.io.parse_single_example(read(number), spec)
        k = tf.cast(example["frames_per_segment"], tf.int32)
        features = tf.reshape(tf.io.decode_raw(example["features"], tf.float16),
                              (T, k, h, w, d))
        heatmaps = tf.reshape(tf.io.decode_raw(example["heatmaps"], tf.float32), (T, k, h, w))
        if training:
            # One of the K frames of each segment, drawn anew each epoch.
            choice = tf.random.stateless_uniform(
                (T,), seed=tf.stack([example_seed, tf.cast(seed, tf.int64)]),
                maxval=k, dtype=tf.int32)
        else:
            choice = tf.fill((T,), k // 2)
        features = tf.gather(features, choice, axis=1, batch_dims=1)
        heatmaps = tf.gather(heatmaps, choice, axis=1, batch_dims=1)
        targets = {
            "intensities": example["intensities"],
            "category": example["category"],
            "attention": tf.ensure_shape(heatmaps, (T, h, w)),
        }
        features = tf.cast(tf.ensure_shape(features, (T, h, w, d)), tf.float32)
        return features, targets, tf.constant(True)

    return replica_batches(plan, parse, batch_size=batch_size, context=input_context,
                           num_parallel_calls=config.data.num_parallel_calls)
