"""Burned-in captions: the per-frame painter, its band, the font, and the pass over a video."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from rendering.captions import CaptionPainter, CaptionStyle, _load_font, burn_captions, find_font
from rendering.subtitles import Cue
from tests.rendering.plain_av import decode, has_audio, write_video

CUES = [
    Cue(0.0, 1.0, ("大家好，今天天气很好",)),
    Cue(1.0, 2.0, ("The quick brown fox", "jumps over the lazy dog")),
]


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(30, 220, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("position", ["bottom", "middle", "top"])
@pytest.mark.parametrize(("width", "height"), [(640, 360), (360, 640), (257, 255)])
def test_it_changes_pixels_only_in_the_caption_band(position: str, width: int, height: int) -> None:
    painter = CaptionPainter(CUES, width, height, CaptionStyle(position=position))
    frame = textured(height, width)

    for t in (0.5, 1.5):
        out = painter(frame, t)
        changed = np.any(out != frame, axis=2)
        rows = np.flatnonzero(changed.any(axis=1))
        y0, y1 = painter.band
        assert rows.size > 0
        assert rows.min() >= y0 and rows.max() < y1
        assert changed.sum() > 0.01 * width * (y1 - y0)  # real text, not a speck
    assert painter.band[1] - painter.band[0] < height / 2


def test_the_band_sits_where_the_style_says() -> None:
    bottom = CaptionPainter(CUES, 640, 360, CaptionStyle("bottom")).band
    top = CaptionPainter(CUES, 640, 360, CaptionStyle("top")).band

    assert bottom[1] > 300 and top[0] < 60
    small = CaptionPainter(CUES, 640, 360, CaptionStyle(size="small"))
    large = CaptionPainter(CUES, 640, 360, CaptionStyle(size="large"))
    assert small.font_size < large.font_size


def test_a_frame_without_a_cue_is_returned_untouched() -> None:
    painter = CaptionPainter(CUES, 64, 64)
    frame = textured(64, 64)

    assert painter(frame, 2.5) is frame
    assert painter(frame, -0.1) is frame


def test_the_font_draws_chinese_glyphs_not_boxes() -> None:
    from PIL import ImageFont

    font_file = find_font()
    font = ImageFont.truetype(str(font_file.path), 40, index=font_file.index)

    def mask(text: str) -> bytes:
        return bytes(font.getmask(text))

    missing = mask("\ue000")  # a private-use code point: the "no glyph" box
    for char in "你好中文":
        assert mask(char) != missing
        assert any(mask(char))
    assert mask("你") != mask("好")
    assert font.getname()[0].endswith("SC")


def test_an_invalid_style_is_refused() -> None:
    with pytest.raises(ValueError, match="position"):
        CaptionStyle(position="left")
    with pytest.raises(ValueError, match="size"):
        CaptionStyle(size="huge")


def test_a_cue_too_wide_for_a_narrow_frame_wraps_and_stays_inside(tmp_path: Path) -> None:
    long = [Cue(0.0, 1.0, ("今天我们来介绍一款新的相机它拍照非常清楚价格也很便宜",))]
    painter = CaptionPainter(long, 180, 320, CaptionStyle(size="large"))
    frame = textured(320, 180)

    out = painter(frame, 0.5)

    changed = np.any(out != frame, axis=2)
    cols = np.flatnonzero(changed.any(axis=0))
    assert cols.min() > 0 and cols.max() < 179
    rows = np.flatnonzero(changed.any(axis=1))
    assert painter.band[0] <= rows.min() and rows.max() < painter.band[1]


def test_a_cue_whose_own_line_overflows_is_flowed_again_into_even_lines() -> None:
    """The cue's two lines were made for a wider frame: re-breaking only the first left an
    orphan ("除恶的") alone between two full lines; the whole cue flows again instead."""
    cue = Cue(0.0, 1.0, ("这两天央视播出了不少有关扫黑除恶的", "专题大片，披露了不少案件的细节"))
    painter = CaptionPainter([cue], 590, 590, CaptionStyle())  # a real render's size
    font_limit = 590 * 0.9 - 2 * painter.stroke

    size, lines = painter.layout(0)

    assert "".join(lines) == "".join(cue.lines)  # nothing lost, nothing added
    widths = [len(line) for line in lines]
    assert len(lines) >= 2
    assert min(widths) >= 0.6 * max(widths), lines  # even lines, no orphan
    font = _load_font(painter.font_file, size)
    assert all(font.getlength(line) <= font_limit for line in lines)


def test_a_cue_whose_lines_fit_keeps_its_own_breaks() -> None:
    cue = Cue(0.0, 1.0, ("The quick brown fox", "jumps over the lazy dog"))
    painter = CaptionPainter([cue], 1280, 720, CaptionStyle())

    assert painter.layout(0)[1] == ["The quick brown fox", "jumps over the lazy dog"]


def smooth(height: int, width: int, k: int) -> np.ndarray:
    """A moving colour gradient: something H.264 keeps well, unlike noise."""
    y, x = np.mgrid[0:height, 0:width]
    r = 128 + 90 * np.sin((x + 3 * k) / 17.0)
    g = 128 + 90 * np.cos((y - 2 * k) / 23.0)
    b = 128 + 60 * np.sin((x + y) / 31.0)
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def test_burning_captions_into_a_video_keeps_the_rest_of_the_picture(tmp_path: Path) -> None:
    frames = [smooth(128, 160, k) for k in range(50)]  # 2 s at 25 fps
    video = write_video(tmp_path / "in.mp4", frames)
    speech = tmp_path / "stereo48k.wav"
    tone = (0.2 * np.sin(np.arange(96000) / 8.0) * 32767).astype(np.int16)
    with wave.open(str(speech), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(48000)
        wav.writeframes(np.stack([tone, tone // 2], axis=1).tobytes())

    count = burn_captions(video, tmp_path / "out.mp4", CUES, audio_path=speech)

    assert count == 50
    before, after = decode(video), decode(tmp_path / "out.mp4")
    assert len(after) == 50
    assert has_audio(tmp_path / "out.mp4")
    with av.open(
        str(tmp_path / "out.mp4")
    ) as container:  # the upload's own sound, as engines keep it
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (48000, 2)
    painter = CaptionPainter(CUES, 160, 128)
    y0, y1 = painter.band
    for k in (5, 30):
        a, b = before[k].astype(int), after[k].astype(int)
        outside = np.concatenate([np.abs(a[:y0] - b[:y0]).ravel(), np.abs(a[y1:] - b[y1:]).ravel()])
        inside = np.abs(a[y0:y1] - b[y0:y1])
        assert outside.mean() < 6  # a second H.264 generation of noise, no drawing
        assert inside.mean() > 3 * outside.mean() + 5


def test_an_engine_draws_captions_in_its_one_encode_and_only_in_the_band(
    tmp_path: Path, face_mp4: Path, speech_wav: Path
) -> None:
    from rendering import faces
    from rendering.audio import analyse
    from rendering.engines import get_engine

    features = analyse(speech_wav, cache_dir=tmp_path / "cache")
    track = faces.track(face_mp4, cache_dir=tmp_path / "cache")
    engine = get_engine("classic", cache_dir=tmp_path / "cache")
    painter = CaptionPainter(CUES, track.width, track.height)
    plain, captioned = tmp_path / "plain.mp4", tmp_path / "captioned.mp4"
    for out, overlay in ((plain, None), (captioned, painter.frame_function(track.fps))):
        engine.render(
            template=face_mp4,
            track=track,
            audio=features,
            audio_path=speech_wav,
            out_path=out,
            overlay=overlay,
        )

    before, after = decode(plain), decode(captioned)
    assert len(after) == len(before)
    assert has_audio(captioned)
    y0, y1 = painter.band
    for k in (5, 30):  # the Chinese cue, then the English one
        a, b = before[k].astype(int), after[k].astype(int)
        outside = np.concatenate([np.abs(a[:y0] - b[:y0]).ravel(), np.abs(a[y1:] - b[y1:]).ravel()])
        inside = np.abs(a[y0:y1] - b[y0:y1])
        assert outside.mean() < 1.5  # the same engine output; only the encoder's choices differ
        assert inside.mean() > 3 * outside.mean() + 5
    late = int(2.5 * track.fps)  # after the last cue: nothing drawn
    assert np.abs(before[late].astype(int) - after[late].astype(int)).mean() < 1.5
