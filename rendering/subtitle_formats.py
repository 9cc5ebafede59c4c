"""Subtitle file formats, one class each, in one registry (:data:`FORMATS`).

A format says its suffix, its content type, the name people know it by, and how it writes
cues (:class:`rendering.subtitles.Cue`) as text. Defining a subclass of
:class:`SubtitleFormat` registers it: the batch page's download links, the API's
``/subtitles.<suffix>`` addresses and its schema, and the ZIP export all list
:data:`FORMATS`, so a new format is one class here.

:class:`Ass` (Advanced SubStation Alpha, what editors such as Premiere, DaVinci Resolve and
Aegisub import with its styling) is styled like the burned-in captions
(:mod:`rendering.captions`): the same font family (Noto Sans CJK), glyph size relative to
the video's shorter side, white text with a black outline of the same width, the same
margins and position, and the same line breaks (Chinese between words, never before a lone
particle), so a video captioned by an editor matches one captioned by the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rendering.errors import RenderingError
from rendering.subtitles import Cue, srt, vtt

__all__ = ["FORMATS", "Ass", "Picture", "SubRip", "SubtitleFormat", "WebVtt"]


@dataclass(frozen=True)
class Picture:
    """The video the subtitles go with, and where and how big its captions are."""

    width: int = 1920
    height: int = 1080
    position: str = "bottom"  # rendering.captions.POSITIONS
    size: str = "medium"  # rendering.captions.SIZES


FORMATS: dict[str, type[SubtitleFormat]] = {}


class SubtitleFormat:
    """One subtitle file format; subclasses register themselves under their suffix."""

    suffix: ClassVar[str]  # "srt": the file is subtitles.srt
    content_type: ClassVar[str]
    label: ClassVar[str]  # the name people know it by ("SRT"); the same in every language
    title: ClassVar[str]  # what the API's documentation calls it

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        FORMATS[cls.suffix] = cls

    def write(self, cues: Sequence[Cue], picture: Picture) -> str:
        raise NotImplementedError


class SubRip(SubtitleFormat):
    suffix = "srt"
    content_type = "application/x-subrip"
    label = "SRT"
    title = "SubRip (.srt)"

    def write(self, cues: Sequence[Cue], picture: Picture) -> str:
        return srt(cues)


class WebVtt(SubtitleFormat):
    suffix = "vtt"
    content_type = "text/vtt"
    label = "WebVTT"
    title = "WebVTT (.vtt)"

    def write(self, cues: Sequence[Cue], picture: Picture) -> str:
        return vtt(cues)


# ASS's colours are &HAABBGGRR, alpha 00 opaque.
_WHITE, _BLACK = "&H00FFFFFF", "&H00000000"
# Alignment, numpad-style: 2 bottom centre, 5 middle centre, 8 top centre.
_ALIGNMENT = {"bottom": 2, "middle": 5, "top": 8}
_STYLE_FIELDS = (
    "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
    "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, "
    "Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding"
)
_EVENT_FIELDS = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"
# "{" opens an override block and "\" starts a tag: shown as their full-width forms.
_ASS_TEXT = str.maketrans({"{": "\uff5b", "}": "\uff5d", "\\": "\uff3c"})


def _ass_time(seconds: float) -> str:
    """H:MM:SS.cc (ASS counts centiseconds)."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


class Ass(SubtitleFormat):
    """Advanced SubStation Alpha, styled like the burned-in captions (module docstring).

    The script's resolution (PlayResX/Y) is the video's, so sizes and margins are the
    captions' own pixels and a renderer scales them with the picture. ASS's "Fontsize" is
    the font's line height (ascent + descent), not its em: the captions' em is converted,
    so glyphs come out the same size. Line breaks are the captions' (``\\N``, with automatic
    wrapping off); a cue the captions draw smaller to fit the band says so with ``\\fs``.
    Without the caption font installed, the cues' own lines and the family's name are used.
    """

    suffix = "ass"
    content_type = "text/x-ssa"
    label = "ASS"
    title = "Advanced SubStation Alpha (.ass)"

    def write(self, cues: Sequence[Cue], picture: Picture) -> str:
        # numpy and the caption font load only when an ASS file is written: the web process
        # imports this registry for its links and addresses.
        from rendering.captions import EDGE_MARGIN, SIZES, CaptionPainter, CaptionStyle

        width, height = max(1, picture.width), max(1, picture.height)
        style = CaptionStyle(position=picture.position, size=picture.size)
        ordered = sorted(cues, key=lambda c: c.start)
        em = max(10, round(min(width, height) * SIZES[style.size]))
        try:
            painter: CaptionPainter | None = CaptionPainter(ordered, width, height, style)
        except RenderingError:  # no caption font here: the cues' own lines
            painter = None
        family = painter.family() if painter is not None else "Noto Sans CJK SC"
        ratio = painter.line_ratio() if painter is not None else 1.448  # Noto Sans CJK's
        outline = max(1, round(em / 14))
        margin_v = round(height * EDGE_MARGIN)
        margin_h = round(width * 0.05)  # the captions wrap within 90 % of the width
        out = [
            "[Script Info]",
            "; Made by HeyGem Studio, styled like its burned-in captions",
            "ScriptType: v4.00+",
            f"PlayResX: {width}",
            f"PlayResY: {height}",
            "WrapStyle: 2",
            "ScaledBorderAndShadow: yes",
            "YCbCr Matrix: TV.709",
            "",
            "[V4+ Styles]",
            f"Format: {_STYLE_FIELDS}",
            f"Style: Default,{family},{round(em * ratio)},{_WHITE},{_WHITE},{_BLACK},{_BLACK},"
            f"-1,0,0,0,100,100,0,0,1,{outline},0,{_ALIGNMENT[style.position]},"
            f"{margin_h},{margin_h},{margin_v},1",
            "",
            "[Events]",
            f"Format: {_EVENT_FIELDS}",
        ]
        for k, cue in enumerate(ordered):
            if painter is not None:
                size, lines = painter.layout(k)
            else:
                size, lines = em, list(cue.lines)
            text = "\\N".join(line.strip().translate(_ASS_TEXT) for line in lines if line.strip())
            if size != em:
                text = f"{{\\fs{round(size * ratio)}}}" + text
            start, end = _ass_time(cue.start), _ass_time(max(cue.end, cue.start + 0.01))
            out.append(f"Dialogue: 0,{start},{end},Default,,0,0,0,,{text}")
        return "\n".join(out) + "\n"
