"""GIF decoding: the public test corpora, hand-built GIFs with known pixels, LZW."""

from __future__ import annotations

import io
import logging
import pathlib
import threading
import time

import numpy as np
import pytest
from built_gifs import built_gifs
from helpers import mutated_gif, pack_codes, sub_blocks
from PIL import Image

from kavan_tf.config import DataConfig
from kavan_tf.data.gif import DecodedGif, decode_gif, decode_gif_with_config
from kavan_tf.data.lzw import lzw_decode, max_long_segments
from kavan_tf.errors import DecompressionBombError, GifDecodeError

LOGGER = "kavan_tf.data.gif"
BG = (1, 2, 3)
PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
RED, GREEN, BLUE = PALETTE[1], PALETTE[2], PALETTE[3]
TIME_LIMIT_S = 5.0

# Corpus files that must be rejected, and the error class. Every other file
# of the three corpora must decode.
REJECTED = {
    # 87a header, then a byte that starts no block: no image at all.
    "image-rs/regression/gif/zero-loop-count.gif": GifDecodeError,
    # A 65535x1321 image descriptor in a 32x32 GIF.
    "pillow/decompression_bomb.gif": DecompressionBombError,
    # Zero-width screen and image, file ends before the image data.
    "pillow/zero_width.gif": GifDecodeError,
}


# --------------------------------------------------------------------------- helpers


def _lzw_literals(indices: list[int], min_code_size: int) -> bytes:
    """LZW data made of literal codes only, with a clear code often enough
    that every code is ``min_code_size + 1`` bits wide."""
    clear = 1 << min_code_size
    codes = []
    per_segment = clear - 2
    for i in range(0, len(indices), per_segment):
        codes.append(clear)
        codes.extend(indices[i : i + per_segment])
    codes.append(clear + 1)
    return pack_codes([(c, min_code_size + 1) for c in codes])


def _palette_bytes(colors: list[tuple[int, int, int]]) -> tuple[bytes, int]:
    """Palette padded to a power of two; returns the bytes and the size field."""
    field = max(0, (len(colors) - 1).bit_length() - 1)
    padded = list(colors) + [(0, 0, 0)] * ((2 << field) - len(colors))
    return b"".join(bytes(c) for c in padded), field


def make_gif(
    width: int,
    height: int,
    frames: list[dict],
    *,
    palette: list[tuple[int, int, int]] | None = PALETTE,
    loop: int | None = None,
    trailer: bool = True,
) -> bytes:
    """Writes a GIF byte by byte.

    Each frame is a dict: ``pixels`` (2-D indices), and optionally ``left``,
    ``top``, ``palette`` (local), ``transparent``, ``disposal``, ``delay``
    (centiseconds; a Graphic Control Extension is written when any of the
    last three is given), ``interlace``, ``min_code_size``, ``data`` (raw LZW
    bytes replacing the encoded pixels).
    """
    out = bytearray(b"GIF89a")
    flags = 0
    table = b""
    if palette is not None:
        table, field = _palette_bytes(palette)
        flags = 0x80 | field
    out += width.to_bytes(2, "little") + height.to_bytes(2, "little") + bytes([flags, 0, 0])
    out += table
    if loop is not None:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + loop.to_bytes(2, "little") + b"\0"
    for frame in frames:
        pixels = np.asarray(frame["pixels"], dtype=np.int64)
        h, w = pixels.shape
        if any(k in frame for k in ("transparent", "disposal", "delay")):
            transparent = frame.get("transparent")
            packed = (frame.get("disposal", 0) << 2) | (transparent is not None)
            out += b"\x21\xf9\x04" + bytes([packed]) + frame.get("delay", 0).to_bytes(2, "little")
            out += bytes([transparent or 0, 0])
        local = frame.get("palette")
        flags = 0x40 if frame.get("interlace") else 0
        local_table = b""
        if local is not None:
            local_table, field = _palette_bytes(local)
            flags |= 0x80 | field
        out += b"\x2c" + b"".join(
            v.to_bytes(2, "little") for v in (frame.get("left", 0), frame.get("top", 0), w, h)
        )
        out += bytes([flags]) + local_table
        rows = pixels
        if frame.get("interlace"):
            order = [*range(0, h, 8), *range(4, h, 8), *range(2, h, 4), *range(1, h, 2)]
            rows = pixels[order]
        mcs = frame.get("min_code_size", 2)
        data = frame.get("data", _lzw_literals(rows.ravel().tolist(), mcs))
        out += bytes([mcs]) + sub_blocks(data)
    if trailer:
        out += b"\x3b"
    return bytes(out)


def full(h: int, w: int, index: int) -> list[list[int]]:
    return [[index] * w for _ in range(h)]


def decode(data: bytes, **kwargs) -> DecodedGif:
    return decode_gif(data, background=BG, **kwargs)


def colors(frame: np.ndarray) -> np.ndarray:
    return frame.reshape(-1, 3)


def expected_image(h: int, w: int, fill, patches=()) -> np.ndarray:
    """An ``[h, w, 3]`` image of ``fill`` with ``(top, left, bottom, right, color)`` patches."""
    image = np.empty((h, w, 3), dtype=np.uint8)
    image[...] = fill
    for top, left, bottom, right, color in patches:
        image[top:bottom, left:right] = color
    return image


def within_time_limit(fn, *args, **kwargs):
    """Runs ``fn`` in a thread; fails the test if it runs past ``TIME_LIMIT_S``."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 -- re-raised in the test thread
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(TIME_LIMIT_S)
    label = kwargs.get("name", args[0])
    assert not thread.is_alive(), f"{label} took more than {TIME_LIMIT_S} s"
    elapsed = time.perf_counter() - start
    if "error" in result:
        raise result["error"]
    return result["value"], elapsed


def corpus_files(testdata_dir: pathlib.Path) -> list[pathlib.Path]:
    root = testdata_dir / "gifs"
    files = sorted(root.glob("**/*.gif"))
    assert {p.relative_to(root).parts[0] for p in files} == {"gif-test-suite", "pillow", "image-rs"}
    return files


# --------------------------------------------------------------------------- corpora


def test_gif_test_suite_matches_expected_frames(testdata_dir):
    """Every frame of every gif-test-suite GIF matches its expected PNG (frames/,
    ``<name>-<i>.png``, or ``<name>.png`` for single images) on every pixel the
    PNG shows opaque; pixels it shows transparent are exactly the uncovered ones."""
    root = testdata_dir / "gifs" / "gif-test-suite"
    summary = []
    total_opaque = total_bad = 0
    for path in sorted(root.glob("*.gif")):
        expected = sorted(
            (root / "frames").glob(f"{path.stem}-*.png"),
            key=lambda p: int(p.stem.rsplit("-", 1)[1]),
        ) or [root / "frames" / f"{path.stem}.png"]
        gif = decode_gif(path, background=(255, 0, 255))
        assert gif.num_frames == len(expected), path.name
        bad = opaque_count = 0
        for i, png in enumerate(expected):
            rgba = np.asarray(Image.open(png).convert("RGBA"))
            assert gif.frames[i].shape == rgba.shape[:2] + (3,), (path.name, i)
            opaque = rgba[..., 3] > 0
            differ = (gif.frames[i] != rgba[..., :3]).any(-1) & opaque
            bad += int(differ.sum())
            opaque_count += int(opaque.sum())
            np.testing.assert_array_equal(gif.coverage[i], opaque, err_msg=f"{path.name} {i}")
            # Uncovered pixels show the background colour.
            assert (gif.frames[i][~opaque] == (255, 0, 255)).all()
        summary.append(
            f"{path.name}: {len(expected)} frames, {opaque_count} opaque px, {bad} differ"
        )
        total_opaque += opaque_count
        total_bad += bad
    print("\ngif-test-suite:\n  " + "\n  ".join(summary))
    print(f"  total: {total_opaque - total_bad}/{total_opaque} opaque pixels match")
    assert len(summary) == 13
    assert total_bad == 0


def test_gif_test_suite_delays_and_loops(testdata_dir):
    root = testdata_dir / "gifs" / "gif-test-suite"
    gif = decode_gif(root / "animated_loop_variable_delay.gif")
    np.testing.assert_array_equal(gif.delays_ms, [1000, 1000, 100, 1000])
    assert gif.duration_ms == 3100
    assert gif.loop_count == 0
    gif = decode_gif(root / "animated_noloop.gif")
    np.testing.assert_array_equal(gif.delays_ms, [1000] * 4)
    assert gif.loop_count is None
    # Written with delay 0: plays as 100 ms.
    np.testing.assert_array_equal(decode_gif(root / "static_nontransparent.gif").delays_ms, [100])


def test_every_corpus_file_decodes_or_raises_typed_error(testdata_dir):
    root = testdata_dir / "gifs"
    outcomes = []
    for path in corpus_files(testdata_dir):
        name = path.relative_to(root).as_posix()
        try:
            gif, elapsed = within_time_limit(decode_gif, path)
        except GifDecodeError as e:
            expected = REJECTED.get(name)
            assert expected is not None, f"{name} was rejected: {e}"
            assert type(e) is expected, f"{name}: {type(e).__name__}: {e}"
            assert e.path == str(path) and str(path) in str(e) and e.cause
            outcomes.append(f"rejected {name}: {type(e).__name__}: {e.cause}")
            continue
        assert name not in REJECTED, f"{name} decoded but should be rejected"
        assert gif.frames.dtype == np.uint8 and gif.frames.ndim == 4
        assert gif.frames.shape[-1] == 3 and gif.num_frames >= 1
        assert gif.delays_ms.shape == (gif.num_frames,) and (gif.delays_ms > 0).all()
        assert gif.coverage.shape == gif.frames.shape[:3]
        screen = np.frombuffer(path.read_bytes()[6:10], dtype="<u2")
        assert (gif.width, gif.height) == tuple(int(v) for v in screen), name
        outcomes.append(f"decoded {name}: {gif.num_frames} frames {gif.width}x{gif.height} "
                        f"in {elapsed * 1000:.0f} ms" + (" (warned)" if gif.warnings else ""))
    print("\n  " + "\n  ".join(outcomes))
    assert sum(o.startswith("rejected") for o in outcomes) == len(REJECTED)


def test_corpus_file_with_trailing_garbage_warns(testdata_dir, caplog):
    path = testdata_dir / "gifs" / "pillow" / "test_extents_transparency.gif"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode_gif(path)
    assert gif.num_frames == 1
    assert any(str(path) in r.getMessage() and "0x47" in r.getMessage() for r in caplog.records)


def test_corpus_bombs_and_configurable_limits(testdata_dir):
    pillow = testdata_dir / "gifs" / "pillow"
    with pytest.raises(DecompressionBombError, match="max_frame_pixels"):
        decode_gif(pillow / "decompression_bomb.gif")
    # With the limit raised it is no longer a bomb, but it holds no image data.
    with pytest.raises(GifDecodeError) as info:
        decode_gif(pillow / "decompression_bomb.gif", max_frame_pixels=2**31)
    assert type(info.value) is GifDecodeError
    assert "no image" in info.value.cause
    # The extents bomb puts a frame at (65535, 65535): clipped, not a bomb...
    extents = pillow / "decompression_bomb_extents.gif"
    assert decode_gif(extents).frames.shape == (2, 100, 100, 3)
    # ...unless the total limit is below its 2 x 100 x 100 pixels.
    with pytest.raises(DecompressionBombError, match="max_total_pixels"):
        decode_gif(extents, max_total_pixels=19_999)
    assert decode_gif(extents, max_total_pixels=20_000).num_frames == 2
    loop = testdata_dir / "gifs" / "gif-test-suite" / "animated_loop.gif"
    with pytest.raises(DecompressionBombError, match="max_frames"):
        decode_gif(loop, max_frames=3)
    assert decode_gif(loop, max_frames=4).num_frames == 4
    with pytest.raises(DecompressionBombError, match="logical screen 100x100"):
        decode_gif(loop, max_frame_pixels=9_999)
    config = DataConfig(max_frames=3)
    with pytest.raises(DecompressionBombError):
        decode_gif_with_config(loop, config)


def test_truncated_corpus_file_keeps_frames_and_warns(testdata_dir, caplog):
    data = (testdata_dir / "gifs" / "pillow" / "chi.gif").read_bytes()
    whole = decode_gif(data)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        cut = decode_gif(data[: len(data) // 2], name="chi-cut.gif")
    assert 1 <= cut.num_frames < whole.num_frames
    complete = cut.num_frames - 1  # the last frame may be cut short
    np.testing.assert_array_equal(cut.frames[:complete], whole.frames[:complete])
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages and all(m.startswith("chi-cut.gif: ") for m in messages)
    assert any("truncated" in m for m in messages)
    assert cut.warnings and not whole.warnings


# --------------------------------------------------------------------------- hand-built GIFs


def test_disposal_none_and_unspecified_keep_the_frame():
    for disposal in (0, 1):
        gif = decode(make_gif(4, 4, [
            {"pixels": full(4, 4, 1)},
            {"pixels": full(2, 2, 2), "left": 1, "top": 1, "disposal": disposal},
            {"pixels": full(1, 1, 3)},
        ]))
        first = expected_image(4, 4, RED, [(1, 1, 3, 3, GREEN)])
        np.testing.assert_array_equal(gif.frames[1], first)
        np.testing.assert_array_equal(
            gif.frames[2], expected_image(4, 4, RED, [(1, 1, 3, 3, GREEN), (0, 0, 1, 1, BLUE)])
        )
        assert gif.coverage.all()


def test_disposal_restore_background_clears_to_background_colour():
    gif = decode(make_gif(4, 4, [
        {"pixels": full(4, 4, 1)},
        {"pixels": full(2, 2, 2), "left": 1, "top": 1, "disposal": 2},
        {"pixels": full(1, 1, 3)},
    ]))
    np.testing.assert_array_equal(gif.frames[1], expected_image(4, 4, RED, [(1, 1, 3, 3, GREEN)]))
    np.testing.assert_array_equal(
        gif.frames[2], expected_image(4, 4, RED, [(1, 1, 3, 3, BG), (0, 0, 1, 1, BLUE)])
    )
    coverage = np.ones((4, 4), dtype=bool)
    coverage[1:3, 1:3] = False
    np.testing.assert_array_equal(gif.coverage[2], coverage)


def test_disposal_restore_previous():
    gif = decode(make_gif(4, 4, [
        {"pixels": full(4, 4, 1)},
        {"pixels": full(2, 2, 2), "left": 1, "top": 1, "disposal": 3},
        {"pixels": full(1, 1, 3), "left": 3, "top": 3, "disposal": 3},
        {"pixels": full(1, 1, 2)},
    ]))
    np.testing.assert_array_equal(gif.frames[1], expected_image(4, 4, RED, [(1, 1, 3, 3, GREEN)]))
    np.testing.assert_array_equal(gif.frames[2], expected_image(4, 4, RED, [(3, 3, 4, 4, BLUE)]))
    np.testing.assert_array_equal(gif.frames[3], expected_image(4, 4, RED, [(0, 0, 1, 1, GREEN)]))
    assert gif.coverage.all()


def test_restore_previous_on_first_frame_restores_the_empty_canvas():
    gif = decode(make_gif(4, 4, [
        {"pixels": full(2, 2, 1), "disposal": 3},
        {"pixels": full(2, 2, 2), "left": 2, "top": 2},
    ]))
    np.testing.assert_array_equal(gif.frames[0], expected_image(4, 4, BG, [(0, 0, 2, 2, RED)]))
    np.testing.assert_array_equal(gif.frames[1], expected_image(4, 4, BG, [(2, 2, 4, 4, GREEN)]))
    coverage = np.zeros((4, 4), dtype=bool)
    coverage[2:, 2:] = True
    np.testing.assert_array_equal(gif.coverage[1], coverage)


def test_transparent_pixels_show_what_is_below():
    gif = decode(make_gif(2, 2, [
        {"pixels": [[1, 0], [0, 1]], "transparent": 0},
        {"pixels": [[3, 3], [2, 3]], "transparent": 3},
    ]))
    np.testing.assert_array_equal(gif.frames[0], [[RED, BG], [BG, RED]])
    np.testing.assert_array_equal(gif.coverage[0], [[True, False], [False, True]])
    np.testing.assert_array_equal(gif.frames[1], [[RED, BG], [GREEN, RED]])
    np.testing.assert_array_equal(gif.coverage[1], [[True, False], [True, True]])


def test_background_colour_is_configurable():
    data = make_gif(2, 1, [{"pixels": [[1, 0]], "transparent": 0}])
    np.testing.assert_array_equal(decode_gif(data).frames[0], [[RED, (255, 255, 255)]])
    gif = decode_gif(data, background=(9, 8, 7))
    np.testing.assert_array_equal(gif.frames[0], [[RED, (9, 8, 7)]])
    gif = decode_gif_with_config(data, DataConfig(background=(4, 5, 6)))
    np.testing.assert_array_equal(gif.frames[0], [[RED, (4, 5, 6)]])


def test_local_palette_overrides_global_for_its_frame_only():
    local = [(10, 20, 30), (40, 50, 60)]
    gif = decode(make_gif(2, 1, [
        {"pixels": [[0, 1]], "palette": local},
        {"pixels": [[1, 0]]},
    ]))
    np.testing.assert_array_equal(gif.frames[0], [[(10, 20, 30), (40, 50, 60)]])
    np.testing.assert_array_equal(gif.frames[1], [[RED, (0, 0, 0)]])


def test_missing_global_palette():
    local = [(10, 20, 30), (40, 50, 60)]
    gif = decode(make_gif(2, 1, [
        {"pixels": [[0, 1]], "palette": local},
        {"pixels": [[3, 2]]},  # no palette at all: grey ramp
    ], palette=None))
    np.testing.assert_array_equal(gif.frames[0], [[(10, 20, 30), (40, 50, 60)]])
    np.testing.assert_array_equal(gif.frames[1], [[(3, 3, 3), (2, 2, 2)]])


def test_index_past_the_palette_is_opaque_black():
    gif = decode(make_gif(2, 1, [{"pixels": [[1, 3]], "palette": [(7, 7, 7), (9, 9, 9)]}]))
    np.testing.assert_array_equal(gif.frames[0], [[(9, 9, 9), (0, 0, 0)]])
    assert gif.coverage.all()


@pytest.mark.parametrize("height", [1, 2, 3, 5, 8, 9, 10, 17])
def test_interlaced_rows_land_in_place(height):
    palette = [(i * 10, 255 - i * 10, i) for i in range(16)]
    pixels = [[r % 16, (r + 1) % 16, (r + 2) % 16] for r in range(height)]
    plain = decode(make_gif(3, height, [{"pixels": pixels, "min_code_size": 4}], palette=palette))
    laced = decode(make_gif(3, height, [{"pixels": pixels, "min_code_size": 4, "interlace": True}],
                            palette=palette))
    expected = np.array(palette, dtype=np.uint8)[np.array(pixels)]
    np.testing.assert_array_equal(plain.frames[0], expected)
    np.testing.assert_array_equal(laced.frames[0], expected)


def test_frames_outside_the_screen_are_clipped():
    gif = decode(make_gif(4, 4, [
        {"pixels": full(4, 4, 1), "left": 2, "top": 3},
        {"pixels": full(2, 2, 2), "left": 10, "top": 0},
    ]))
    assert gif.frames.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(gif.frames[0], expected_image(4, 4, BG, [(3, 2, 4, 4, RED)]))
    np.testing.assert_array_equal(gif.frames[1], gif.frames[0])


def test_zero_size_screen_takes_the_first_frame_extent():
    gif = decode(make_gif(0, 0, [{"pixels": full(2, 3, 1), "left": 1}]))
    np.testing.assert_array_equal(gif.frames[0], expected_image(2, 4, RED, [(0, 0, 2, 1, BG)]))


def test_delays_and_loop_count():
    gif = decode(make_gif(1, 1, [
        {"pixels": [[1]], "delay": 0},
        {"pixels": [[1]], "delay": 1},
        {"pixels": [[1]], "delay": 2},
        {"pixels": [[1]], "delay": 7},
        {"pixels": [[1]]},
    ], loop=3))
    np.testing.assert_array_equal(gif.delays_ms, [100, 100, 20, 70, 100])
    assert gif.delays_ms.dtype == np.int32
    assert gif.loop_count == 3


def test_frame_cut_short_is_partly_drawn_with_a_warning(caplog):
    pixels = [[1, 2, 3, 1], [2, 3, 1, 2], [3, 1, 2, 3], [1, 2, 3, 1]]
    data = _lzw_literals(sum(pixels, []), 2)
    cut = data[: len(data) // 2]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode(make_gif(4, 4, [{"pixels": pixels, "data": cut}]), name="cut.gif")
    drawn = gif.coverage[0].ravel()
    count = int(drawn.sum())
    assert 0 < count < 16 and drawn[:count].all()
    expected = np.array(PALETTE, dtype=np.uint8)[np.array(pixels)].reshape(-1, 3)
    np.testing.assert_array_equal(colors(gif.frames[0])[:count], expected[:count])
    assert (colors(gif.frames[0])[count:] == BG).all()
    assert any("cut.gif" in r.getMessage() and "frame 0" in r.getMessage() for r in caplog.records)
    assert gif.warnings


def test_file_cut_inside_second_frame_keeps_both_with_a_warning(caplog):
    data = make_gif(2, 2, [{"pixels": full(2, 2, 1)}, {"pixels": full(2, 2, 2)}])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode(data[:-4])
    assert gif.num_frames == 2
    np.testing.assert_array_equal(gif.frames[0], expected_image(2, 2, RED))
    assert any("truncated" in r.getMessage() for r in caplog.records)
    # Without the trailer only: every frame complete, still a warning.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode(data[:-1])
    np.testing.assert_array_equal(gif.frames[1], expected_image(2, 2, GREEN))
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_invalid_lzw_code_ends_the_frame_with_a_warning(caplog):
    # clear, 1, 2 (makes 6 = 1 2), 6 (makes 7 = 2 1; codes widen to 4 bits),
    # 7 (makes 8 = 1 2 2), 1 (makes 9 = 2 1 1), then 11: no such entry.
    data = pack_codes([(4, 3), (1, 3), (2, 3), (6, 3), (7, 4), (1, 4), (11, 4), (1, 4)])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode(make_gif(8, 1, [{"pixels": [[0] * 8], "data": data}]))
    expected = [RED, GREEN, RED, GREEN, GREEN, RED, RED, BG]
    np.testing.assert_array_equal(gif.frames[0], [expected])
    assert any("invalid LZW code 11 after 7 of 8 pixels" in r.getMessage()
               for r in caplog.records)


def test_complete_frame_without_end_code_is_silent(caplog):
    data = pack_codes([(4, 3), (1, 3), (2, 3)])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        gif = decode(make_gif(2, 1, [{"pixels": [[0, 0]], "data": data}]))
    np.testing.assert_array_equal(gif.frames[0], [[RED, GREEN]])
    assert not caplog.records and not gif.warnings


@pytest.mark.parametrize(
    "data, cause",
    [
        (b"", "not a GIF"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a GIF"),
        (b"GIF90a" + b"\0" * 10, "unknown GIF version"),
        (b"GIF89a\x01\x00", "logical screen descriptor"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00", "global palette"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x3b", "no image"),
    ],
)
def test_undecodable_bytes_raise_gif_decode_error(data, cause):
    with pytest.raises(GifDecodeError, match=cause) as info:
        decode_gif(data, name="bad.gif")
    assert info.value.path == "bad.gif" and str(info.value).startswith("bad.gif: ")


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(GifDecodeError, match="broken.gif"):
        decode_gif(path)
    with pytest.raises(GifDecodeError, match="cannot read") as info:
        decode_gif(tmp_path / "missing.gif")
    assert info.value.path.endswith("missing.gif")
    with pytest.raises(GifDecodeError, match="<bytes>"):
        decode_gif(b"nope")
    with pytest.raises(TypeError, match="source"):
        decode_gif(123)  # type: ignore[arg-type]


def test_limits_are_checked_before_decoding():
    data = make_gif(4, 4, [{"pixels": full(4, 4, 1)}] * 3)
    with pytest.raises(DecompressionBombError, match="max_frame_pixels=15"):
        decode_gif(data, max_frame_pixels=15)
    with pytest.raises(DecompressionBombError, match="max_frames=2"):
        decode_gif(data, max_frames=2)
    with pytest.raises(DecompressionBombError, match="max_total_pixels=47"):
        decode_gif(data, max_total_pixels=47)
    assert decode_gif(data, max_frame_pixels=16, max_frames=3, max_total_pixels=48).num_frames == 3
    # A huge descriptor whose data never comes is refused from its header.
    header = make_gif(4, 4, [{"pixels": full(4, 4, 1)}], trailer=False)
    huge = header + b"\x2c\0\0\0\0\xff\xff\xff\xff\x00"
    with pytest.raises(DecompressionBombError, match="65535x65535"):
        decode_gif(huge)
    with pytest.raises(ValueError, match="max_frames"):
        decode_gif(data, max_frames=0)


def test_matches_pillow_on_images_it_writes():
    rng = np.random.default_rng(0)
    for height, width, colors_used, interlace in [
        (1, 1, 2, False), (7, 5, 3, True), (64, 48, 16, False), (50, 120, 256, True),
        (200, 150, 256, False),
    ]:
        blocks = rng.integers(0, colors_used, (height // 4 + 1, width // 4 + 1))
        noise = rng.integers(0, colors_used, (height, width))
        indices = np.where(rng.random((height, width)) < 0.3, noise,
                           blocks.repeat(4, 0).repeat(4, 1)[:height, :width])
        image = Image.fromarray(indices.astype(np.uint8), "P")
        image.putpalette(rng.integers(0, 256, 3 * colors_used).astype(np.uint8).tobytes())
        buffer = io.BytesIO()
        image.save(buffer, "GIF", interlace=interlace)
        expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        gif = decode_gif(buffer.getvalue())
        np.testing.assert_array_equal(gif.frames[0], expected)
        assert not gif.warnings


# --------------------------------------------------------------------------- LZW


def reference_lzw(data: bytes, min_code_size: int, max_pixels: int) -> tuple[list[int], bool]:
    """Textbook GIF LZW decoder: (indices, whether max_pixels were produced).

    Like the package's decoder, it reads no further after
    ``max_long_segments(max_pixels)`` segments of more than ``clear - 2`` codes."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    segment_codes, long_segments = 0, 0
    stream, nbits, pos = int.from_bytes(data, "little"), len(data) * 8, 0
    width, next_code, previous = min_code_size + 1, clear + 2, None
    table: dict[int, list[int]] = {i: [i] for i in range(clear)}
    out: list[int] = []
    while pos + width <= nbits and len(out) < max_pixels:
        code = (stream >> pos) & ((1 << width) - 1)
        pos += width
        if code == clear:
            long_segments += segment_codes > clear - 2
            if long_segments > max_long_segments(max_pixels):
                break
            segment_codes = 0
            width, next_code, previous = min_code_size + 1, clear + 2, None
            table = {i: [i] for i in range(clear)}
            continue
        if code == end:
            break
        if previous is None:
            if code >= clear:
                break
            string = table[code]
        else:
            if code in table:
                string = table[code]
                new = table[previous] + [string[0]]
            elif code == next_code and next_code < 4096:
                string = new = table[previous] + [table[previous][0]]
            else:
                break
            if next_code < 4096:
                table[next_code] = new
                next_code += 1
        out.extend(string)
        segment_codes += 1
        previous = code
        if next_code >= (1 << width) and width < 12:
            width += 1
    return out[:max_pixels], len(out) >= max_pixels


def random_lzw_stream(
    rng: np.random.Generator, min_code_size: int, count: int, clear_rate: float
) -> bytes:
    """A valid code stream with random literals, entries (KwKwK included),
    clear codes, and long runs past a full table (deferred clear)."""
    clear = 1 << min_code_size
    width, next_code, first = min_code_size + 1, clear + 2, True
    codes = [(clear, width)]
    for _ in range(count):
        if not first and rng.random() < clear_rate:
            codes.append((clear, width))
            width, next_code, first = min_code_size + 1, clear + 2, True
            continue
        top = min(next_code, 4095)
        if first or top < clear + 2 or rng.random() < 0.3:
            code = int(rng.integers(clear))
        else:
            code = int(rng.integers(max(clear + 2, top - 64), top + 1))
        codes.append((code, width))
        if not first and next_code < 4096:
            next_code += 1
        first = False
        if next_code >= (1 << width) and width < 12:
            width += 1
    codes.append((clear + 1, width))
    return pack_codes(codes)


def segmented_lzw_stream(rng, min_code_size, segment_lengths, invalid_at=None) -> bytes:
    """A stream whose segments (codes between clear codes) have the given
    lengths; ``invalid_at`` (segment, code) names an entry not made yet there."""
    clear = 1 << min_code_size
    codes = []
    for s, length in enumerate(segment_lengths):
        width, next_code = min_code_size + 1, clear + 2
        codes.append((clear, width))
        for j in range(length):
            top = min(next_code, 4095)
            if j == 0 or rng.random() < 0.3:
                code = int(rng.integers(clear))
            else:
                code = int(rng.integers(max(clear + 2, top - 64), top + 1))
            if (s, j) == invalid_at:
                code = min(next_code + 1, (1 << width) - 1)
            codes.append((code, width))
            if j and next_code < 4096:
                next_code += 1
            if next_code >= (1 << width) and width < 12:
                width += 1
    codes.append((clear + 1, width))
    return pack_codes(codes)


def test_lzw_long_and_short_segments_in_any_order_match_reference_decoder():
    """Long segments (read with the code-width schedule) and short ones (read
    many at a time) in turn, with invalid codes in later segments."""
    rng = np.random.default_rng(11)
    for trial in range(30):
        min_code_size = int(rng.integers(2, 9))
        short, full = (1 << min_code_size) - 2, 4096 - (1 << min_code_size)
        choices = [1, 2, short, short + 1, 3 * short, full - 1, full, full + 300]
        lengths = [int(rng.choice(choices)) for _ in range(int(rng.integers(2, 9)))]
        invalid = None
        if trial % 3 == 0:
            seg = int(rng.integers(1, len(lengths)))
            invalid = (seg, int(rng.integers(1, lengths[seg]))) if lengths[seg] > 1 else None
        data = segmented_lzw_stream(rng, min_code_size, lengths, invalid)
        if trial % 4 == 1:
            data = data[: int(rng.integers(1, len(data) + 1))]
        for max_pixels in (10**7, int(rng.integers(1, 20000))):
            _assert_lzw_matches_oracle(data, min_code_size, max_pixels,
                                       f"trial {trial}: {lengths}, invalid {invalid}")


def _assert_lzw_matches_oracle(data, min_code_size, max_pixels, what):
    expected, complete = reference_lzw(data, min_code_size, max_pixels)
    indices, problem = lzw_decode(data, min_code_size, max_pixels)
    np.testing.assert_array_equal(indices, expected, err_msg=what)
    assert (problem is None) == complete, (what, problem)


def test_lzw_matches_reference_decoder_on_random_streams():
    rng = np.random.default_rng(1)
    for trial in range(40):
        min_code_size = int(rng.integers(1, 12))
        if trial % 4 == 0:  # long enough to fill the table: deferred clear
            data = random_lzw_stream(rng, min_code_size, 6000, clear_rate=0.0)
        else:
            count = int(rng.integers(1, 6000))
            data = random_lzw_stream(rng, min_code_size, count, clear_rate=[0.002, 0.05][trial % 2])
        if trial % 3 == 0:
            data = data[: int(rng.integers(1, len(data) + 1))]
        for max_pixels in (10**7, int(rng.integers(1, 20000))):
            _assert_lzw_matches_oracle(data, min_code_size, max_pixels, f"trial {trial}")


def test_lzw_matches_reference_decoder_on_garbage():
    rng = np.random.default_rng(2)
    for _ in range(200):
        min_code_size = int(rng.integers(1, 12))
        data = rng.integers(0, 256, int(rng.integers(0, 300))).astype(np.uint8).tobytes()
        expected, complete = reference_lzw(data, min_code_size, 5000)
        indices, problem = lzw_decode(data, min_code_size, 5000)
        np.testing.assert_array_equal(indices, expected)
        assert (problem is None) == complete
        assert indices.dtype == (np.uint8 if min_code_size <= 8 else np.uint16)


def _decode_damaged(name: str, data: bytes) -> None:
    """Decodes ``data`` within the time limit; a ``GifDecodeError`` is the one
    exception allowed."""
    try:
        within_time_limit(decode_gif, data, name=name)
    except GifDecodeError:
        pass


def _cut_or_overwritten(original: bytes, rng: np.random.Generator) -> bytes:
    """``original`` cut at a random byte, or with 4 random bytes written over it."""
    data = bytearray(original)
    at = int(rng.integers(len(data)))
    if rng.random() < 0.5:
        return bytes(data[:at])
    data[at : at + 4] = rng.integers(0, 256, 4).astype(np.uint8).tobytes()
    return bytes(data)


def test_decoding_never_raises_anything_but_gif_decode_error(testdata_dir):
    """Truncated and corrupted variants of small corpus files."""
    rng = np.random.default_rng(3)
    files = [p for p in corpus_files(testdata_dir) if p.stat().st_size < 20_000]
    logging.getLogger(LOGGER).disabled = True
    try:
        for path in files:
            original = path.read_bytes()
            for _ in range(6):
                _decode_damaged(path.name, _cut_or_overwritten(original, rng))
    finally:
        logging.getLogger(LOGGER).disabled = False


def test_damaged_built_gifs_raise_nothing_but_gif_decode_error():
    """Truncated, overwritten and mutated (bit flips, deletions, insertions)
    variants of GIFs built here: several frames, each disposal, transparency,
    local palettes, partial and interlaced frames."""
    rng = np.random.default_rng(4)
    logging.getLogger(LOGGER).disabled = True
    try:
        for name, original in built_gifs().items():
            decode_gif(original, name=name)  # the undamaged file decodes
            for trial in range(100):
                damage = _cut_or_overwritten if trial % 2 else mutated_gif
                _decode_damaged(name, damage(original, rng))
    finally:
        logging.getLogger(LOGGER).disabled = False


def test_lzw_short_segments_and_clear_floods_match_reference_decoder():
    """Streams dominated by clear codes (floods, "uncompressed" encoders, one
    pixel per segment): the many-segments-at-once path against the oracle."""
    rng = np.random.default_rng(7)
    for trial in range(24):
        min_code_size = int(rng.integers(1, 12))
        data = random_lzw_stream(rng, min_code_size, int(rng.integers(1, 4000)),
                                 clear_rate=[0.3, 0.7, 0.95][trial % 3])
        if trial % 2:
            data = data[: int(rng.integers(1, len(data) + 1))]
        for max_pixels in (10**7, int(rng.integers(1, 3000))):
            _assert_lzw_matches_oracle(data, min_code_size, max_pixels, f"trial {trial}")
    # A flood of clear codes, then a few literals, then clears and literals
    # in turn: one pixel per segment.
    clear = 4
    codes = [(clear, 3)] * 100_000 + [(1, 3), (2, 3)] + [(clear, 3), (3, 3)] * 50_000 + [(5, 3)]
    data = pack_codes(codes)
    expected, complete = reference_lzw(data, 2, 10**6)
    indices, problem = lzw_decode(data, 2, 10**6)
    np.testing.assert_array_equal(indices, expected)
    assert indices.size == 50_002 and problem == "image data ends early"
