"""Subtitle formats as classes in one registry, and ASS styled like the burned-in captions:
the file is parsed back (styles, events, times, line breaks) and, where the ffmpeg that
imageio-ffmpeg ships has libass, burned onto a frame and compared with the captions."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rendering.captions import SIZES, CaptionPainter, CaptionStyle, find_font
from rendering.subtitle_formats import FORMATS, Ass, Picture, SubtitleFormat
from rendering.subtitles import Cue, srt, vtt, word_starts
from tests.support.subtitles import parse_ass, seconds

CUES = [
    Cue(0.0, 1.25, ("今天我们来介绍一下这个新产品的主要功能和特点",)),
    Cue(1.5, 3.004, ("Hello {world}", "back\\slash")),
    Cue(3661.5, 3662.0, ("一小时以后",)),
]


def test_every_format_is_a_class_in_the_registry() -> None:
    assert list(FORMATS) == ["srt", "vtt", "ass"]
    assert FORMATS["srt"]().write(CUES, Picture()) == srt(CUES)
    assert FORMATS["vtt"]().write(CUES, Picture()) == vtt(CUES)
    assert {f.content_type for f in FORMATS.values()} == {
        "application/x-subrip",
        "text/vtt",
        "text/x-ssa",
    }


def test_a_new_format_is_one_class() -> None:
    try:

        class Plain(SubtitleFormat):
            suffix = "txt"
            content_type = "text/plain"
            label = "Text"
            title = "plain text (.txt)"

            def write(self, cues: list[Cue], picture: Picture) -> str:  # type: ignore[override]
                return "\n".join(c.text for c in cues)

        assert FORMATS["txt"] is Plain
        assert FORMATS["txt"]().write(CUES[:1], Picture()).startswith("今天")
    finally:
        FORMATS.pop("txt", None)


@pytest.mark.parametrize(
    ("width", "height", "position", "size", "alignment"),
    [
        (1080, 1920, "bottom", "medium", "2"),
        (1280, 720, "top", "large", "8"),
        (640, 360, "middle", "small", "5"),
    ],
)
def test_ass_is_styled_like_the_burned_in_captions(
    width: int, height: int, position: str, size: str, alignment: str
) -> None:
    text = Ass().write(CUES, Picture(width, height, position, size))
    info, styles, events = parse_ass(text)
    painter = CaptionPainter(CUES, width, height, CaptionStyle(position, size))
    em = round(min(width, height) * SIZES[size])

    assert info["ScriptType"] == "v4.00+" and info["WrapStyle"] == "2"
    assert (info["PlayResX"], info["PlayResY"]) == (str(width), str(height))
    style = styles["Default"]
    assert style["Fontname"] == "Noto Sans CJK SC" == painter.family()
    # ASS sizes a font by its line height: the captions' em times the font's ascent+descent.
    assert int(style["Fontsize"]) == round(em * painter.line_ratio())
    assert 1.3 < painter.line_ratio() < 1.6
    assert style["PrimaryColour"] == "&H00FFFFFF" and style["OutlineColour"] == "&H00000000"
    assert style["Bold"] == "-1" and style["BorderStyle"] == "1" and style["Shadow"] == "0"
    assert int(style["Outline"]) == painter.stroke
    assert style["Alignment"] == alignment
    assert int(style["MarginV"]) == painter.margin == round(height * 0.06)
    assert int(style["MarginL"]) == int(style["MarginR"]) == round(width * 0.05)

    assert len(events) == len(CUES)
    for k, (event, cue) in enumerate(zip(events, CUES, strict=True)):
        assert abs(seconds(event["Start"]) - cue.start) <= 0.005
        assert abs(seconds(event["End"]) - cue.end) <= 0.005
        body = event["Text"]
        if body.startswith("{\\fs"):  # a cue the captions draw smaller to fit their band
            body = body[body.index("}") + 1 :]
        lines = body.split("\\N")
        expected = [
            line.translate({123: 0xFF5B, 125: 0xFF5D, 92: 0xFF3C}) for line in painter.layout(k)[1]
        ]
        assert lines == expected
    assert events[2]["Start"] == "1:01:01.50"  # hours: one digit, centiseconds
    # "{", "}" and "\\" would start override tags: shown full-width
    assert "Hello \uff5bworld\uff5d" in events[1]["Text"]
    assert "back\uff3cslash" in events[1]["Text"]


def test_ass_breaks_chinese_between_words_as_the_subtitles_do() -> None:
    """A line too wide for a portrait frame is broken where a word begins (jieba), never
    inside a word and never before a lone particle, like the SRT/WebVTT cue lines."""
    text = Ass().write(CUES[:1], Picture(1080, 1920))
    (event,) = parse_ass(text)[2]
    lines = event["Text"].split("\\N")
    assert len(lines) == 2 and "".join(lines) == CUES[0].lines[0]
    units = list(CUES[0].lines[0])
    assert word_starts(units)[len(lines[0])]  # the second line begins a word
    assert lines[1][0] not in "的地得了着过吗呢吧啊呀嘛么哦"


@pytest.fixture
def ffmpeg_with_libass() -> Iterator[str]:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True)
    if " ass " not in filters.stdout:
        pytest.skip("the ffmpeg imageio-ffmpeg ships has no libass here")
    yield exe


def _text_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns (top, bottom, left, right) of the white text on black."""
    bright = image.max(axis=2) > 160
    rows, cols = np.nonzero(bright.any(axis=1))[0], np.nonzero(bright.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def test_ffmpeg_burns_the_ass_file_where_and_as_big_as_the_captions(
    ffmpeg_with_libass: str, tmp_path: Path
) -> None:
    width, height = 640, 360
    cues = [Cue(0.0, 2.0, ("字幕样式一致",))]
    script = tmp_path / "subtitles.ass"
    script.write_text(Ass().write(cues, Picture(width, height)), encoding="utf-8")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / find_font().path.name).symlink_to(find_font().path)
    burned = tmp_path / "burned.rgb"
    subprocess.run(
        [
            ffmpeg_with_libass,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"color=black:s={width}x{height}:r=25:d=1",
            "-vf",
            f"ass={script.name}:fontsdir={fonts.name}",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            str(burned),
        ],
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    ass_frame = np.frombuffer(burned.read_bytes(), np.uint8).reshape(height, width, 3)
    painter = CaptionPainter(cues, width, height)
    caption_frame = painter(np.zeros((height, width, 3), np.uint8), 0.5)

    ass_box, caption_box = _text_box(ass_frame), _text_box(caption_frame)
    text_height = caption_box[1] - caption_box[0]
    text_width = caption_box[3] - caption_box[2]
    # Same glyph size (height and width of the line within 10 %), centred alike, and the
    # line's baseline region in the same place (within a fifth of the text's height).
    assert abs((ass_box[1] - ass_box[0]) - text_height) <= 0.1 * text_height
    assert abs((ass_box[3] - ass_box[2]) - text_width) <= 0.1 * text_width
    assert abs((ass_box[2] + ass_box[3]) - (caption_box[2] + caption_box[3])) <= 6
    assert abs(ass_box[1] - caption_box[1]) <= 0.2 * text_height + 2
