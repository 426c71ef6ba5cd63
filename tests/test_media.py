"""Inputs beyond GIF: animated WebP and APNG (Pillow), MP4 and WebM (PyAV)."""

import io
import sys

import numpy as np
import pytest
from PIL import Image

from kavan_tf.config import DataConfig
from kavan_tf.data import sampling
from kavan_tf.data.media import decode_media, media_format, sniff_format
from kavan_tf.errors import DecompressionBombError, MediaDecodeError

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]
# One long frame, then three short ones: sampling by time and by index differ.
UNEVEN_MS = [1000, 50, 50, 50]


def solid_frames(size=(18, 26), colours=COLOURS, alpha=255):
    return [Image.new("RGBA", (size[1], size[0]), (*c, alpha)) for c in colours]


def animation(fmt, frames, durations, **kwargs):
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, **kwargs)
    return buffer.getvalue()


def video(container, codec, colours=COLOURS, times_ms=None, size=(24, 32), rate=25):
    """A tiny video; ``times_ms`` gives each frame's timestamp (variable frame rate)."""
    av = pytest.importorskip("av", reason="PyAV (the optional video extra) is not installed")
    from fractions import Fraction

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, colour in enumerate(colours):
            frame = av.VideoFrame.from_ndarray(np.full((*size, 3), colour, np.uint8),
                                               format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, expected", [("WEBP", "WebP"), ("PNG", "PNG")])
def test_animated_webp_and_apng_decode_to_frames_and_delays(fmt, expected):
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = animation(fmt, solid_frames(), UNEVEN_MS, **extra)
    decoded = decode_media(data, DataConfig(), name=f"clip.{fmt.lower()}")
    assert decoded.format == expected and sniff_format(data) == expected
    assert decoded.frames.shape == (4, 18, 26, 3) and decoded.frames.dtype == np.uint8
    np.testing.assert_array_equal(decoded.frames[:, 5, 7], COLOURS)
    np.testing.assert_array_equal(decoded.delays_ms, UNEVEN_MS)
    assert decoded.coverage.all()


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_transparency_shows_the_background_colour(fmt):
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = animation(fmt, solid_frames(alpha=0), [100] * 4, **extra)
    decoded = decode_media(data, DataConfig(background=(9, 99, 199)))
    assert (decoded.frames == np.array([9, 99, 199], np.uint8)).all()
    assert not decoded.coverage.any()


def test_short_durations_play_as_100_ms_as_browsers_do():
    data = animation("PNG", solid_frames(), [0, 10, 20, 60])
    np.testing.assert_array_equal(decode_media(data, DataConfig()).delays_ms, [100, 100, 20, 60])


def test_a_still_png_is_one_frame():
    buffer = io.BytesIO()
    solid_frames()[0].save(buffer, format="PNG")
    decoded = decode_media(buffer.getvalue(), DataConfig())
    assert decoded.frames.shape == (1, 18, 26, 3) and decoded.format == "PNG"


def test_limits_apply_to_every_format():
    data = animation("WEBP", solid_frames(colours=COLOURS * 3), [100] * 12, lossless=True)
    with pytest.raises(DecompressionBombError, match=r"big\.webp: cannot decode WebP: more than "
                                                     r"max_frames=5 frames"):
        decode_media(data, DataConfig(max_frames=5), name="big.webp")
    with pytest.raises(DecompressionBombError, match="exceed max_frame_pixels=100"):
        decode_media(data, DataConfig(max_frame_pixels=100), name="big.webp")
    with pytest.raises(DecompressionBombError, match="exceed max_total_pixels=2000"):
        decode_media(data, DataConfig(max_total_pixels=2000), name="big.webp")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data is a stub)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_headers_beyond_pillows_own_guard_are_refused_in_the_packages_words():
    # 60000 x 60000 is past twice Pillow's MAX_IMAGE_PIXELS: Pillow refuses it
    # on open, before the package's limits are checked; the message is the same kind.
    with pytest.raises(DecompressionBombError,
                       match=r"^huge\.png: cannot decode PNG: frames of 3600000000 pixels exceed "
                             r"max_frame_pixels="):
        decode_media(_png_header_only(60000, 60000), DataConfig(), name="huge.png")
    with pytest.raises(DecompressionBombError, match=r"frames of 5000x5000 exceed"):
        decode_media(_png_header_only(5000, 5000), DataConfig(), name="big.png")
    # A PNG signature on data Pillow cannot identify: no object address in the text.
    with pytest.raises(MediaDecodeError, match=r"^x\.png: cannot decode PNG: not a PNG file "
                                               r"Pillow can read \(unknown or damaged header\)$"):
        decode_media(b"\x89PNG\r\n\x1a\n" + bytes(100), DataConfig(), name="x.png")


def test_bad_files_get_one_line_errors_naming_file_and_format(tmp_path):
    with pytest.raises(MediaDecodeError, match=r"^x\.webp: cannot decode WebP: not a WebP file"):
        decode_media(b"definitely not an image", DataConfig(), name="x.webp")
    # No known suffix: the GIF decoder's refusal, the same text the served model gives.
    with pytest.raises(MediaDecodeError, match=r"^x\.bin: cannot decode GIF: not a GIF file"):
        decode_media(b"definitely not an image", DataConfig(), name="x.bin")
    assert media_format(b"\x00" * 16, "a.MP4") == "MP4" and media_format(b"", "a") == "GIF"
    # A video suffix goes to FFmpeg (or names the missing extra): still one line.
    with pytest.raises(MediaDecodeError, match=r"^x\.mp4: cannot decode MP4: "):
        decode_media(b"definitely not an image", DataConfig(), name="x.mp4")
    with pytest.raises(MediaDecodeError, match=r"missing\.webp: cannot decode WebP: cannot read"):
        decode_media(tmp_path / "missing.webp", DataConfig())
    # A damaged body after a sound header.
    data = animation("PNG", solid_frames(), [100] * 4)
    with pytest.raises(MediaDecodeError, match=r"^cut\.png: cannot decode PNG: "):
        decode_media(data[:60], DataConfig(), name="cut.png")


def test_a_cut_animation_keeps_its_first_frames_with_a_warning(caplog):
    data = animation("PNG", solid_frames(size=(64, 64)), [100] * 4)
    cut = data[: len(data) * 3 // 4]
    decoded = decode_media(cut, DataConfig(), name="cut.png")
    assert 1 <= decoded.num_frames < 4
    assert decoded.warnings and "kept" in decoded.warnings[0]
    assert "cut.png" in caplog.text


def test_non_gif_files_are_sampled_by_display_time():
    assert sampling.sampling_mode("GIF", "index") == "index"
    assert sampling.sampling_mode("GIF", "time") == "time"
    assert sampling.sampling_mode("WebP", "index") == "time"
    decoded = decode_media(animation("PNG", solid_frames(), UNEVEN_MS), DataConfig())
    by = sampling.sampling_mode(decoded.format, DataConfig().sampling)
    indices = sampling.sample_indices(4, 4, training=False, delays_ms=decoded.delays_ms, by=by)
    # Middles at 144, 431, 719 and 1006 ms of 1150: frame 0 is on screen for the first 1000.
    np.testing.assert_array_equal(indices, [0, 0, 0, 1])


@pytest.mark.parametrize("container, codec, expected", [("mp4", "libx264", "MP4"),
                                                        ("webm", "libvpx-vp9", "WebM")])
def test_video_decodes_with_timestamps(container, codec, expected):
    data = video(container, codec)
    decoded = decode_media(data, DataConfig(), name=f"clip.{container}")
    assert decoded.format == expected and decoded.num_frames == 4
    assert decoded.frames.shape == (4, 24, 32, 3)
    # Lossy codecs: the colours come back within a few grey levels.
    assert np.abs(decoded.frames[:, 12, 16].astype(int) - COLOURS).max() <= 12
    np.testing.assert_array_equal(decoded.delays_ms, [40, 40, 40, 40])  # 25 frames/s


def test_variable_frame_rate_video_delays_follow_timestamps():
    data = video("mp4", "libx264", times_ms=[0, 1000, 1050, 1100])
    decoded = decode_media(data, DataConfig(), name="vfr.mp4")
    np.testing.assert_array_equal(decoded.delays_ms, UNEVEN_MS)


def test_video_limits_and_missing_pyav(monkeypatch):
    data = video("mp4", "libx264", colours=COLOURS * 2)
    with pytest.raises(DecompressionBombError, match=r"v\.mp4: cannot decode MP4: more than "
                                                     r"max_frames=3"):
        decode_media(data, DataConfig(max_frames=3), name="v.mp4")
    monkeypatch.setitem(sys.modules, "av", None)  # as if the video extra were not installed
    with pytest.raises(MediaDecodeError, match=r"v\.mp4: cannot decode MP4: video needs PyAV.*"
                                               r"kavan_tf\[video\]"):
        decode_media(data, DataConfig(), name="v.mp4")


def test_prepare_and_the_pipeline_sample_webp_by_time(tmp_path):
    from kavan_tf.config import KavanConfig
    from kavan_tf.data.manifest import read_manifest
    from kavan_tf.data.pipeline import load_example
    from kavan_tf.data.prepare import prepare
    from kavan_tf.data.shards import build_frame_shard_dataset
    from kavan_tf.synthetic import SyntheticConfig, generate_dataset

    generate_dataset(tmp_path / "synth", SyntheticConfig(num_gifs=2, frame_size=(32, 32),
                                                         num_frames=(4, 5)))
    config = KavanConfig.from_dict({
        "model": {"backbone": "small", "backbone_weights": None, "image_size": [18, 26],
                  "num_frames": 4, "node_size": 2, "hidden_size": 8},
        "data": {"batch_size": 1},
    })
    path = tmp_path / "uneven.webp"
    path.write_bytes(animation("WEBP", solid_frames(), UNEVEN_MS, lossless=True))
    rows = read_manifest(tmp_path / "synth" / "manifest.csv", config.labels).iloc[:1].copy()
    rows["path"], rows["keypoints"] = str(path), ""
    expected = np.array(COLOURS)[[0, 0, 0, 1]]  # by display time, as in the test above

    example = load_example(str(path), None, config, training=False, feature_grid=(2, 2))
    np.testing.assert_array_equal(example.indices, [0, 0, 0, 1])
    np.testing.assert_array_equal(example.frames[:, 9, 13], expected)

    report = prepare(rows, str(tmp_path / "shards"), config, encoding="png", progress=False)
    assert not report.failures
    frames, _ = next(iter(build_frame_shard_dataset(str(tmp_path / "shards"), config,
                                                    training=False, feature_grid=(2, 2))))
    np.testing.assert_array_equal(frames.numpy()[0, :, 9, 13], expected)
