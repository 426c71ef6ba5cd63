"""The in-graph GIF decoder (serving_default) against the reference decoder, pixel for pixel."""

from __future__ import annotations

import functools
import re
import struct

import numpy as np
import pytest
import tensorflow as tf
from built_gifs import built_gifs, pillow_gif
from helpers import mutated_gif, sub_blocks
from PIL import Image

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.gif import decode_gif
from kavan_tf.errors import GifDecodeError
from kavan_tf.export.gif_graph import decode_gif_sampled, sampled_frames

T = 8
LIMITS = DataConfig()


def _graph(config: DataConfig = LIMITS, num_samples: int = T):
    """The decoder with its samples as ``frames`` (``[T, H, W, 3]``); traced
    once per ``num_samples`` for the default limits."""
    if config is LIMITS:
        return _graph_of(num_samples)
    return _new_graph(config, num_samples)


def _new_graph(config: DataConfig, num_samples: int):
    def decode(data):
        decoded = decode_gif_sampled(
            data, num_samples, background=tuple(config.background),
            max_frame_pixels=config.max_frame_pixels, max_total_pixels=config.max_total_pixels,
            max_frames=config.max_frames,
        )
        return {**decoded, "frames": sampled_frames(decoded)}

    return tf.function(decode, input_signature=[tf.TensorSpec([], tf.string)])


@functools.cache
def _graph_of(num_samples: int):
    return _new_graph(LIMITS, num_samples)


GRAPH = _graph()


def _reference(data: bytes, config: DataConfig = LIMITS, num_samples: int = T):
    gif = decode_gif(data, name="x.gif", max_frame_pixels=config.max_frame_pixels,
                     max_total_pixels=config.max_total_pixels, max_frames=config.max_frames)
    indices = sampling.sample_indices(gif.num_frames, num_samples, training=False)
    return gif.frames[indices]


def _served(data: bytes, graph=GRAPH) -> np.ndarray:
    decoded = graph(tf.constant(data))
    assert decoded["error"].numpy() == b"", decoded["error"].numpy()
    return decoded["frames"].numpy()


def _graph_error(data: bytes, graph=GRAPH) -> str:
    """The graph's refusal of ``data`` (it must refuse it)."""
    decoded = graph(tf.constant(data))
    error = decoded["error"].numpy().decode("utf-8")
    assert error, "the graph decoded a file it should refuse"
    assert decoded["frames"].numpy().shape == (T, 1, 1, 3)
    return error


def _corpus(testdata_dir):
    return sorted((testdata_dir / "gifs").rglob("*.gif"))


def test_every_corpus_gif_gives_the_reference_frames(testdata_dir):
    compared = refused = 0
    for path in _corpus(testdata_dir):
        data = path.read_bytes()
        try:
            expected = _reference(data)
        except GifDecodeError as e:
            # Refused by both, in the reference decoder's words.
            assert _graph_error(data) == e.cause, path
            refused += 1
            continue
        np.testing.assert_array_equal(_served(data), expected, err_msg=str(path))
        compared += 1
    assert compared >= 55 and refused >= 2


def test_every_built_gif_gives_the_reference_frames():
    for name, data in built_gifs().items():
        np.testing.assert_array_equal(_served(data), _reference(data), err_msg=name)


def _moving_square_frames(count, size=(40, 30), seed=0, palette_mode=True):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        image = np.zeros((size[1], size[0]), np.uint8)  # index 0: the transparent one
        if i % 2 == 0:
            image[2:9, 3:20] = 1 + i % 5
        x, y = int(rng.integers(0, size[0] - 10)), int(rng.integers(0, size[1] - 10))
        image[y : y + 10, x : x + 10] = 6 + i % 7
        frame = Image.fromarray(image, mode="P")
        frame.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        frames.append(frame)
    return frames


def test_a_short_gif_gives_each_sampled_frame_once():
    """Three frames, eight samples: the decoder gives the three frames once and
    which of them each sample is; repeated, they are the reference's samples."""
    data = pillow_gif(_moving_square_frames(3, seed=4), duration=50, loop=0)
    decoded = decode_gif_sampled(
        tf.constant(data), T, background=tuple(LIMITS.background),
        max_frame_pixels=LIMITS.max_frame_pixels, max_total_pixels=LIMITS.max_total_pixels,
        max_frames=LIMITS.max_frames)
    frames, slots = decoded["frames"].numpy(), decoded["slots"].numpy()
    assert frames.shape[0] == 3
    assert list(slots) == list(np.unique(decoded["indices"].numpy(), return_inverse=True)[1])
    np.testing.assert_array_equal(frames[slots], _reference(data))


@pytest.mark.parametrize("disposal", [0, 1, 2, 3, [1, 2, 3, 0, 2, 3, 1, 3, 2]])
@pytest.mark.parametrize("transparency", [None, 0])
def test_pillow_gifs_each_disposal_with_and_without_transparency(disposal, transparency):
    frames = _moving_square_frames(9, seed=len(str(disposal)))
    save = {"disposal": disposal, "duration": 50, "loop": 0}
    if transparency is not None:
        save["transparency"] = transparency
    data = pillow_gif(frames, **save)
    np.testing.assert_array_equal(_served(data), _reference(data))


def encode_lzw(indices: np.ndarray, min_code_size: int, lengths=(255,)) -> bytes:
    """The code-size byte and sub-blocks (of the ``lengths`` in turn) of LZW
    data made of literal codes, with a clear code often enough that every
    code keeps its first width."""
    clear, width = 1 << min_code_size, min_code_size + 1
    value, bits = 0, 0
    codes = []
    for i in range(0, len(indices), clear - 2):
        codes += [clear] + [int(v) for v in indices[i : i + clear - 2]]
    for code in codes + [clear + 1]:
        value |= code << bits
        bits += width
    packed = value.to_bytes((bits + 7) // 8, "little")
    return bytes([min_code_size]) + sub_blocks(packed, lengths)


def _control(disposal: int, transparent: int | None) -> bytes:
    """A graphic control extension."""
    packed = (disposal << 2) | (1 if transparent is not None else 0)
    return struct.pack("<BBBBHBB", 0x21, 0xF9, 4, packed, 5, transparent or 0, 0)


def _gif_bytes(screen, frames, global_palette=True) -> bytes:
    """A GIF written by hand: ``frames`` are dicts with left, top, image (index
    array), disposal, transparent, interlaced, local (palette bytes or None),
    lengths (of the data's sub-blocks, in turn), comment (bytes: a comment
    extension before the frame, in sub-blocks of the same lengths),
    extensions (bytes before the frame's graphic control), control (False:
    no graphic control of its own) and sent (the pixels its LZW data holds,
    when fewer than the frame's)."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *screen, 0xF7 if global_palette else 0,
                                            0, 0))
    if global_palette:
        out += bytes((i * 7) % 256 for i in range(768))
    for frame in frames:
        image = frame["image"]
        lengths = frame.get("lengths", (255,))
        if frame.get("comment") is not None:
            out += b"\x21\xfe" + sub_blocks(frame["comment"], lengths)
        out += frame.get("extensions", b"")
        if frame.get("control", True):
            out += _control(frame.get("disposal", 0), frame.get("transparent"))
        local = frame.get("local")
        flags = (0x80 | 7 if local is not None else 0) | (0x40 if frame.get("interlaced") else 0)
        out += struct.pack("<BHHHHB", 0x2C, frame["left"], frame["top"], image.shape[1],
                           image.shape[0], flags)
        if local is not None:
            out += local
        rows = image
        if frame.get("interlaced"):
            h = image.shape[0]
            order = np.concatenate([np.arange(0, h, 8), np.arange(4, h, 8), np.arange(2, h, 4),
                                    np.arange(1, h, 2)])
            rows = image[order]
        out += encode_lzw(rows.reshape(-1)[: frame.get("sent")], 8, lengths)
    return bytes(out + b";")


def test_partial_frames_outside_the_screen_local_palettes_interlacing():
    rng = np.random.default_rng(5)

    def image(h, w):
        return rng.integers(0, 256, (h, w), dtype=np.uint8)

    local = rng.integers(0, 256, 768, dtype=np.uint8).tobytes()
    frames = [
        {"left": 2, "top": 3, "image": image(10, 12), "disposal": 1, "transparent": 5},
        {"left": 20, "top": 15, "image": image(20, 30), "disposal": 2, "transparent": 9,
         "local": local},  # partly outside the 32 x 24 screen
        {"left": 40, "top": 40, "image": image(4, 4), "disposal": 3},  # wholly outside
        {"left": 0, "top": 0, "image": image(24, 32), "interlaced": True, "disposal": 3,
         "transparent": 7},
        {"left": 5, "top": 5, "image": image(13, 9), "interlaced": True, "local": local,
         "disposal": 2},
        {"left": 1, "top": 1, "image": image(3, 3), "disposal": 0},
    ]
    data = _gif_bytes((32, 24), frames)
    for num_samples in (T, 6, 3):
        served = _served(data, _graph(num_samples=num_samples))
        np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples))
    # No palette at all: the grey ramp.
    data = _gif_bytes((32, 24), frames[:1] + frames[3:4], global_palette=False)
    np.testing.assert_array_equal(_served(data), _reference(data))


@pytest.mark.parametrize("short", [0, 2])
def test_a_frame_whose_data_ends_early_in_a_plain_gif(short):
    # Full frames, disposal 0, sound streams: a GIF giflib decodes in one
    # call, but frame `short` sends 20 of its 64 pixels. The rest of it shows
    # what was there before (the background for the first frame), as the
    # reference decoder draws it; later frames are whole again.
    frames = [{"left": 0, "top": 0, "image": np.full((8, 8), 10 + 3 * k, np.uint8),
               "transparent": 13 if k else None} for k in range(4)]
    frames[short]["sent"] = 20
    data = _gif_bytes((8, 8), frames)
    np.testing.assert_array_equal(_served(data), _reference(data))


def test_sub_blocks_of_any_lengths():
    """Data and extensions in sub-blocks of varying lengths (what the parser
    cannot jump over as one run) give the reference frames."""
    rng = np.random.default_rng(8)
    frames = [
        {"left": 0, "top": 0, "image": rng.integers(0, 256, (24, 32), dtype=np.uint8),
         "lengths": lengths, "comment": comment, "disposal": d, "transparent": t}
        for lengths, comment, d, t in (
            ((1, 2, 3, 250), b"made by hand " * 40, 1, None),
            ((255, 254), None, 2, 3),
            ((7,), b"x" * 100, 3, 4),
            ((200, 1, 255, 255, 17), b"", 0, None),
        )
    ]
    data = _gif_bytes((32, 24), frames)
    np.testing.assert_array_equal(_served(data), _reference(data))
    # Cut inside the data of a frame of short sub-blocks: the part it has is drawn.
    cut = data[: data.index(b"\x07" + b"x" * 7) + 600]
    assert "file is truncated inside the data of frame 2" in decode_gif(cut).warnings
    np.testing.assert_array_equal(_served(cut), _reference(cut))


def test_long_runs_of_extensions():
    """Runs of many extensions (which the parser skips at once) keep the last
    graphic control of the run, and a run cut short ends the parse as in the
    reference."""
    rng = np.random.default_rng(9)

    def comment(n):
        return b"\x21\xfe" + sub_blocks(bytes(rng.integers(1, 256, n, dtype=np.uint8)),
                                          (1, 5, 255))

    def image():
        return rng.integers(0, 256, (24, 32), dtype=np.uint8)

    application = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frames = [
        {"left": 0, "top": 0, "image": image(), "control": False,
         "extensions": b"".join(comment(n) for n in range(30)) + _control(2, 3)
         + application + b"".join(comment(n) for n in range(10))},
        {"left": 4, "top": 2, "image": image()[:10, :12], "control": False,
         "extensions": b"".join(_control(d % 4, d) for d in range(13)) + b"\x21\xfe\x00" * 40},
        {"left": 0, "top": 0, "image": image(), "disposal": 1, "transparent": 7},
        {"left": 3, "top": 3, "image": image()[:5, :5], "control": False,
         "extensions": b"\x21\xfe\x00" * 50},
    ]
    data = _gif_bytes((32, 24), frames)
    for num_samples in (T, 4):
        served = _served(data, _graph(num_samples=num_samples))
        np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples))
    # Cut inside a long run of extensions: the frames before it are kept.
    cut = data[: data.rindex(b"\x21\xfe\x00" * 20) + 31]
    np.testing.assert_array_equal(_served(cut), _reference(cut))


def test_frames_that_repaint_the_whole_screen_and_the_frames_before_them():
    """The compositor skips the frames no sampled frame depends on; every kind
    of whole-screen frame (opaque, transparent, disposed with 2 or 3, larger
    than the screen, without data) among partial ones, at several T."""
    rng = np.random.default_rng(11)

    def image(h, w):
        return rng.integers(0, 256, (h, w), dtype=np.uint8)

    full, partial = (lambda **f: {"left": 0, "top": 0, "image": image(24, 32), **f},
                     lambda **f: {"left": 3, "top": 4, "image": image(9, 11), **f})
    frames = [
        partial(disposal=1), full(disposal=0), partial(disposal=1, transparent=3),
        partial(disposal=3), full(disposal=3), partial(disposal=2), full(disposal=1),
        full(disposal=2, transparent=0), partial(disposal=1), partial(disposal=3),
        full(disposal=0, transparent=200), partial(disposal=0),
        {"left": 0, "top": 0, "image": image(30, 40), "disposal": 1},  # beyond the screen
        partial(disposal=2, interlaced=True), full(disposal=3, interlaced=True),
        partial(disposal=1), full(disposal=1), full(disposal=3), partial(disposal=0),
        partial(disposal=1),
    ]
    data = _gif_bytes((32, 24), frames)
    # One sample, fewer samples than frames, as many, and more.
    for num_samples in (1, T, 20, 27):
        served = _served(data, _graph(num_samples=num_samples))
        np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples),
                                      err_msg=f"T = {num_samples}")
    # Disposed with 0 or 1 only: runs of partial frames after the whole-screen
    # frames the samples start from.
    plain = [full(disposal=k % 2) if k % 6 == 0 else partial(disposal=k % 2, transparent=3)
             for k in range(23)]
    data = _gif_bytes((32, 24), plain)
    for num_samples in (1, 4, T):
        served = _served(data, _graph(num_samples=num_samples))
        np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples))
    # Full, opaque frames only: each sampled frame is drawn from its own pixels.
    data = _gif_bytes((32, 24), [full(disposal=d % 4) for d in range(17)])
    for num_samples in (T, 17):
        served = _served(data, _graph(num_samples=num_samples))
        np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples))
    # Full frames with a transparent index (as Pillow writes them), unused,
    # then used by one frame, then by every frame after the first.
    unused = [full(disposal=d % 3, transparent=255, image=image(24, 32) % 255)
              for d in range(17)]
    once = list(unused)
    once[9] = full(disposal=1, transparent=255, image=np.where(image(24, 32) < 128, 255, 7))
    every = [unused[0]] + [full(disposal=1, transparent=255, image=np.where(
        image(24, 32) < 128, 255, image(24, 32) % 255)) for _ in range(16)]
    for frames in (unused, once, every):
        data = _gif_bytes((32, 24), frames)
        for num_samples in (1, T, 17):
            served = _served(data, _graph(num_samples=num_samples))
            np.testing.assert_array_equal(served, _reference(data, num_samples=num_samples))


def _damage_sources(source: str, request, max_size: int) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of the GIFs to damage: those ``built_gifs`` builds, or
    the corpus files up to ``max_size`` bytes (skipped without the corpora)."""
    if source == "built":
        return list(built_gifs().items())
    testdata_dir = request.getfixturevalue("testdata_dir")
    return [(str(p), p.read_bytes()) for p in _corpus(testdata_dir)
            if p.stat().st_size <= max_size]


@pytest.mark.parametrize("source", ["built", "corpus"])
def test_damage_between_frames_keeps_the_frames_before_it(source, request):
    if source == "built":
        data = built_gifs()["restore_previous"]
    else:
        data = (request.getfixturevalue("testdata_dir") / "gifs" / "pillow" /
                "dispose_prev.gif").read_bytes()
    ends = [i for i in range(len(data)) if data[i] == 0x00 and data[i + 1 : i + 2] == b"!"]
    assert ends, "no frame boundary found"
    cut = ends[len(ends) // 2] + 1
    for damaged in (data[:cut], data[:cut] + b"\x99garbage", data[:cut] + b"!\xf9"):
        np.testing.assert_array_equal(_served(damaged), _reference(damaged))


# Cuts per file, and the least number of cut files served (and of those with a
# truncation warning): the corpus has about 60 small files, built_gifs 7.
CUTS = {"built": (8, 30, 25), "corpus": (3, 20, 10)}


@pytest.mark.parametrize("source", ["built", "corpus"])
def test_truncated_or_corrupted_files_match_or_are_refused_with_the_reference_message(
    source, request,
):
    rng = np.random.default_rng(0)
    cuts, least_checked, least_truncated = CUTS[source]
    checked = truncated = 0
    for name, data in _damage_sources(source, request, 20_000):
        for cut in rng.integers(6, len(data), cuts):
            damaged = data[:cut]
            try:
                expected = _reference(damaged)
                warned = decode_gif(damaged).warnings
            except GifDecodeError as e:
                assert _graph_error(damaged) == e.cause, (name, cut)
                continue
            np.testing.assert_array_equal(_served(damaged), expected,
                                          err_msg=f"{name} cut at {cut}")
            checked += 1
            truncated += bool(warned)
    assert checked > least_checked and truncated > least_truncated, (checked, truncated)


def test_the_parse_stops_with_the_reference_warning():
    """Every kind of damage between frames (no trailer, an extension cut
    before or after its label, a byte that starts no block, a descriptor,
    palette or frame's data cut short) ends the graph's parse with the
    reference parser's warning, word for word."""
    from kavan_tf.data.gif_format import parse_gif as reference_parse
    from kavan_tf.export.gif_parse import parse_gif, stop_reason

    limits = {"max_frame_pixels": LIMITS.max_frame_pixels, "max_frames": LIMITS.max_frames}
    graph = tf.function(lambda data: stop_reason(parse_gif(data, **limits)),
                        input_signature=[tf.TensorSpec([], tf.string)])
    descriptor = struct.pack("<BHHHHB", 0x2C, 0, 0, 1, 1, 0)
    warnings = set()
    for data in built_gifs().values():
        ends = [i + 1 for i in range(len(data) - 1) if data[i] == 0 and data[i + 1] == 0x21]
        for cut in ends[1::4]:
            for damaged in (data[:cut], data[:cut] + b"!", data[:cut] + b"!\xfe\x05ab",
                            data[:cut] + b"\x99", data[: cut + 9], data[: cut + 22],
                            data[:cut] + descriptor, data[:cut] + descriptor + b"\x02\x05"):
                try:
                    expected = reference_parse(damaged, "x.gif", LIMITS).warnings
                except GifDecodeError as e:  # no frame: the warning is in the error
                    expected = [e.cause.removeprefix("the file holds no image (")[:-1]]
                assert graph(tf.constant(damaged)).numpy().decode() == expected[0]
                warnings.add(re.split(r"\d", expected[0])[0])
    assert len(warnings) == 8, warnings


def test_structure_bombs_refused_before_decoding():
    small_screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    # A frame descriptor far larger than its 1 x 1 screen.
    huge_frame = small_screen + struct.pack("<BHHHHB", 0x2C, 0, 0, 65535, 65535, 0) + \
        b"\x08\x02\x00\x01\x00;"
    many_frames = small_screen + (struct.pack("<BHHHHB", 0x2C, 0, 0, 1, 1, 0) +
                                  b"\x02\x02\x4c\x01\x00") * 200 + b";"
    config = DataConfig(max_frames=100)
    graph = _graph(config)
    for data, reason in ((huge_frame, "frame 0 is 65535x65535, exceeding max_frame_pixels"),
                         (many_frames, "more than max_frames=100 frames")):
        with pytest.raises(GifDecodeError, match=reason) as refused:
            _reference(data, config)
        assert _graph_error(data, graph) == refused.value.cause
    tall = _graph(DataConfig(max_total_pixels=1000))
    wide = b"GIF89a" + struct.pack("<HHBBB", 100, 100, 0, 0, 0) + (
        struct.pack("<BHHHHB", 0x2C, 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00") + b";"
    with pytest.raises(GifDecodeError, match="exceed max_total_pixels=1000") as refused:
        _reference(wide, DataConfig(max_total_pixels=1000))
    assert _graph_error(wide, tall) == refused.value.cause


@pytest.mark.parametrize("source", ["built", "corpus"])
def test_randomly_damaged_files_give_the_reference_frames(source, request):
    """Files with random damage (bad LZW codes, cut data, broken blocks): the
    graph serves the reference decoder's frames, or refuses with its message;
    never different frames, never TensorFlow's own error."""
    rng = np.random.default_rng(12)
    files = _damage_sources(source, request, 30_000)
    compared = warned = refused = 0
    for _ in range(120):
        name, data = files[rng.integers(len(files))]
        damaged = mutated_gif(data, rng)
        try:
            expected = _reference(damaged)
        except GifDecodeError as e:
            assert _graph_error(damaged) == e.cause, name
            refused += 1
            continue
        np.testing.assert_array_equal(_served(damaged), expected, err_msg=name)
        compared += 1
        warned += bool(decode_gif(damaged).warnings)
    assert compared >= 60 and warned >= 30 and refused >= 10, (compared, warned, refused)


def test_graph_code_schedule_is_the_reference_code_widths():
    """The graph computes the code-width schedule of one code size in tensor
    ops; widths and bit offsets are the reference decoder's."""
    from kavan_tf.data.lzw import SCHEDULE, code_widths
    from kavan_tf.export.lzw_codes import code_schedule

    for size in range(1, 12):
        offsets, widths = code_schedule(tf.constant(size), SCHEDULE + 1)
        expected = code_widths(size, SCHEDULE + 1)
        np.testing.assert_array_equal(widths, expected)
        np.testing.assert_array_equal(offsets, np.cumsum(expected) - expected)


def test_graph_lzw_gives_the_reference_indices_on_random_streams():
    """The graph's LZW decoder against the reference decoder's on valid and
    cut code streams of every code size, with clear codes from none (a full
    dictionary kept) to every few codes (segments read many to a step)."""
    from test_gif_decode import random_lzw_stream

    from kavan_tf.data.lzw import lzw_decode
    from kavan_tf.export.lzw_graph import lzw_decode as graph_lzw_decode

    decode = tf.function(graph_lzw_decode, input_signature=[
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32)])
    rng = np.random.default_rng(5)
    for trial in range(40):
        code_size = int(rng.integers(1, 12))
        rate = [0.0, 0.002, 0.05, 0.3][trial % 4]
        data = random_lzw_stream(rng, code_size, int(rng.integers(1, 6000)), clear_rate=rate)
        if trial % 3 == 0:
            data = data[: int(rng.integers(1, len(data) + 1))]
        for pixels in (10**6, int(rng.integers(1, 20000))):
            expected, _ = lzw_decode(data, code_size, pixels)
            indices, count = decode(np.frombuffer(data, np.uint8).astype(np.int32),
                                    code_size, pixels)
            assert int(count) == expected.size, (trial, code_size, pixels)
            np.testing.assert_array_equal(indices.numpy()[: int(count)], expected)
            assert not indices.numpy()[int(count):].any()


def test_probe_reads_encoder_layouts_as_the_loop_does_and_flags_the_rest():
    """The loop-free reader (streams laid out as encoders write them: equal
    segments, a shorter last one ended by the end code) must say what the
    general reader says whenever it calls a stream regular, and must call
    regular the streams of that layout, sound or not."""
    from test_gif_decode import segmented_lzw_stream

    from kavan_tf.export.lzw_codes import is_sound, read_codes
    from kavan_tf.export.lzw_probe import probe_codes

    spec = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32)]

    @tf.function(input_signature=spec)
    def both(data, code_size, pixels):
        codes, j, full, end_bit, end_width, _ = read_codes(data, code_size, pixels)
        loop = (full, is_sound(codes, j, code_size), end_bit, end_width, tf.size(codes))
        return loop, probe_codes(data, code_size, pixels)[:5]

    rng = np.random.default_rng(23)
    regular_seen = 0
    for trial in range(48):
        code_size = int(rng.integers(1, 12))
        clear = 1 << code_size
        n = int(rng.choice([1, 5, max(1, clear - 2), 4096 - clear - 1, 4096 - clear]))
        segments = int(rng.integers(1, 6))
        lengths = [n] * segments + [int(rng.integers(0, n + 1))]
        kind = trial % 4
        if kind == 1:  # not that layout: one segment of another length
            lengths[int(rng.integers(0, segments))] = max(0, n - 1 - int(rng.integers(0, 3)))
        invalid = None
        if kind == 2 and lengths[-1] > 1:  # a code naming an entry not made yet
            invalid = (len(lengths) - 1, lengths[-1] - 1)
        data = segmented_lzw_stream(rng, code_size, lengths, invalid_at=invalid)
        if kind == 3:  # the data cut short: no end code
            data = data[: max(1, len(data) - 3)]
        array = np.frombuffer(data, np.uint8).astype(np.int32)
        for pixels in (10**6, max(1, sum(lengths) // 2)):
            loop, probe = both(array, code_size, pixels)
            full, sound, end_bit, end_width, read = (v.numpy() for v in loop)
            regular, p_sound, p_full, p_end_bit, p_end_width = (v.numpy() for v in probe)
            # Where the general reader reads the stream as built (segments
            # of that layout, then the end code), so must the probe.
            expected_regular = (kind in (0, 2) and pixels == 10**6 and end_bit >= 0
                                and read == sum(lengths))
            if expected_regular:
                assert regular, (trial, code_size, lengths)
            if not regular:
                continue
            regular_seen += 1
            assert bool(p_full) == full, (trial, pixels)
            if not full:
                assert (bool(p_sound), int(p_end_bit), int(p_end_width)) == (
                    sound, end_bit, end_width), (trial, code_size, lengths, pixels)
            elif bool(p_sound):
                assert sound, (trial, pixels)
    assert regular_seen >= 15
