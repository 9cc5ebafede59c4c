"""Burned-in captions: the batch's subtitle cues drawn into the picture.

:class:`CaptionPainter` is a per-frame function for one frame size: ``painter(frame, t)``
returns the frame with the cue showing at ``t`` seconds drawn in (white text, dark outline,
centred), changing pixels only inside :attr:`CaptionPainter.band`, a fixed horizontal strip
chosen by the style's position (bottom, middle or top) and size. Each cue is laid out and
rasterised once, then alpha-blended into every frame that shows it.

:func:`burn_captions` runs a painter over a finished video (decode, paint, encode with the
audio taken again from the original file), so captions work with every engine without the
engines knowing of them. The re-encode costs one decode + encode of the video (the
``transcode`` floor) and one more H.264 generation at the engines' crf.

The font is Noto Sans CJK (Chinese, Japanese, Korean and Latin in one face) from a Python
package installed with the product (:func:`find_font`), never a system font, so every
worker draws the same captions.
"""

from __future__ import annotations

import bisect
import contextlib
import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rendering.errors import RenderingError
from rendering.subtitles import Cue, split_units, word_starts
from rendering.transcription import join_words

__all__ = [
    "POSITIONS",
    "SIZES",
    "CaptionPainter",
    "CaptionStyle",
    "burn_captions",
    "find_font",
]

POSITIONS = ("bottom", "middle", "top")
# Text height (the font's em) as a share of the frame's shorter side.
SIZES: dict[str, float] = {"small": 0.045, "medium": 0.06, "large": 0.08}

# (package, file inside it), in order of preference: a variable font can be set bold.
_FONT_PACKAGES: tuple[tuple[str, str], ...] = (
    ("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc"),
    ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
)
_MAX_LINES = 3
EDGE_MARGIN = 0.06  # of the frame height, between the band and the picture's edge (ASS files too)
_LINE_GAP = 0.25  # of the font size, between lines
_NO_FONT = (
    "Captions cannot be drawn: the caption font package is not installed. "
    "Run ./scripts/bootstrap.sh."
)


@dataclass(frozen=True)
class CaptionStyle:
    """Where captions sit and how big they are."""

    position: str = "bottom"
    size: str = "medium"

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise ValueError(f"caption position must be one of {POSITIONS}, got {self.position!r}")
        if self.size not in SIZES:
            raise ValueError(f"caption size must be one of {tuple(SIZES)}, got {self.size!r}")


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int  # the face inside a collection (.ttc): the Simplified Chinese one


def find_font() -> FontFile:
    """Noto Sans CJK SC from the installed font package. Raises RenderingError without one."""
    for package, name in _FONT_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / name
        if path.is_file():
            return FontFile(path, _simplified_chinese_face(str(path)))
    raise RenderingError(_NO_FONT, code="caption_font_missing")


@lru_cache(maxsize=4)
def _simplified_chinese_face(path: str) -> int:
    """The index of the "… SC" face in a font collection (0 when there is none)."""
    for index in range(32):
        try:
            family, _ = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        if family and family.endswith(" SC"):
            return index
    return 0


def _load_font(font: FontFile, size: int) -> Any:
    face = ImageFont.truetype(str(font.path), size, index=font.index)
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a static font: as is
        face.set_variation_by_name("Bold")
    return face


class CaptionPainter:
    """Draws cues into frames of one size; see the module docstring.

    ``painter(frame, t)`` returns a new array when a cue shows at ``t`` and ``frame``
    itself (untouched) when none does.
    """

    def __init__(
        self,
        cues: Sequence[Cue],
        width: int,
        height: int,
        style: CaptionStyle | None = None,
        *,
        font: FontFile | None = None,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.cues = sorted(cues, key=lambda c: c.start)
        self.width = width
        self.height = height
        self.style = style or CaptionStyle()
        self.font_file = font or find_font()
        self.font_size = max(10, round(min(width, height) * SIZES[self.style.size]))
        self.stroke = max(1, round(self.font_size / 14))
        self.line_height = math.ceil(self.font_size * (1 + _LINE_GAP)) + 2 * self.stroke
        band_height = min(height, _MAX_LINES * self.line_height + 2 * self.stroke)
        margin = self.margin = round(height * EDGE_MARGIN)
        if self.style.position == "bottom":
            y1 = max(band_height, height - margin)
            y0 = y1 - band_height
        elif self.style.position == "top":
            y0 = min(margin, height - band_height)
            y1 = y0 + band_height
        else:
            y0 = (height - band_height) // 2
            y1 = y0 + band_height
        self.band = (y0, y1)  # rows y0 .. y1 - 1 are the only ones ever changed
        self._starts = [c.start for c in self.cues]
        self._patches: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}
        self._layouts: dict[int, tuple[int, list[str]]] = {}
        self._font: Any = None

    def cue_at(self, t: float) -> int | None:
        """Index of the cue showing at ``t`` seconds, or None."""
        k = bisect.bisect_right(self._starts, t) - 1
        if k >= 0 and self.cues[k].start <= t < self.cues[k].end:
            return k
        return None

    def __call__(self, frame: np.ndarray, t: float) -> np.ndarray:
        k = self.cue_at(t)
        if k is None:
            return frame
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"frame is {frame.shape}, expected {(self.height, self.width, 3)}")
        rgb, alpha, x0, y0 = self._patch(k)
        out = frame.copy()
        h, w = alpha.shape
        region = out[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        blended = region + (rgb - region) * alpha[..., None]
        out[y0 : y0 + h, x0 : x0 + w] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out

    def frame_function(self, fps: float) -> Any:
        """``f(index, frame)`` for output frame ``index`` at ``fps`` (the frame's middle)."""

        def paint(index: int, frame: np.ndarray) -> np.ndarray:
            return self(frame, (index + 0.5) / fps)

        return paint

    # --- layout ----------------------------------------------------------------------------

    def _wrap(self, font: Any, text: str) -> list[str]:
        """The cue's lines as drawn. Its own lines where each fits the frame; otherwise the
        whole cue flowed again into as few lines as fit, of even width (the cue's breaks
        were made for a longer line: re-breaking only the line that overflows left an orphan
        such as "除恶的" alone between two full lines). Breaks fall where a word begins
        (Chinese: jieba's words, never before a lone particle, as the subtitles break),
        between characters only when a single word is wider than the frame."""
        limit = self.width * 0.9 - 2 * self.stroke
        given = text.split("\n")
        if all(font.getlength(line) <= limit for line in given):
            return given
        units = split_units(join_words(given))
        starts = word_starts(units)
        lines = _flow(font, units, starts, limit)
        # The narrowest width that still needs no more lines: the lines come out even.
        low, high = 0.0, float(limit)
        for _ in range(12):
            middle = (low + high) / 2
            if len(_flow(font, units, starts, middle)) <= len(lines):
                high = middle
            else:
                low = middle
        return _flow(font, units, starts, high)

    def layout(self, k: int) -> tuple[int, list[str]]:
        """Cue `k`'s font size (the em, in pixels) and its lines as drawn: re-broken where a
        line is wider than the frame allows, smaller text when there are too many for the
        band. ASS subtitles (rendering.subtitle_formats) take the same layout."""
        cached = self._layouts.get(k)
        if cached is not None:
            return cached
        y0, y1 = self.band
        size = self.font_size
        while True:
            font = _load_font(self.font_file, size)
            lines = self._wrap(font, self.cues[k].text)
            line_height = math.ceil(size * (1 + _LINE_GAP)) + 2 * self.stroke
            if len(lines) * line_height + 2 * self.stroke <= y1 - y0 or size <= 8:
                break
            size = max(8, int(size * 0.85))  # too many lines for the band: smaller text
        self._layouts[k] = (size, lines)
        return size, lines

    def family(self) -> str:
        """The font's family name ("Noto Sans CJK SC"), as an ASS style names it."""
        face = ImageFont.truetype(str(self.font_file.path), 12, index=self.font_file.index)
        return str(face.getname()[0] or "Noto Sans CJK SC")

    def line_ratio(self) -> float:
        """The font's line height (ascent + descent) over its em: what an ASS "Fontsize"
        means, so an ASS renderer draws glyphs of the same size."""
        ascent, descent = _load_font(self.font_file, 100).getmetrics()
        return float(ascent + descent) / 100

    def _patch(self, k: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """The cue's text rasterised once: colour, alpha in 0..1, and where it goes."""
        cached = self._patches.get(k)
        if cached is not None:
            return cached
        y0, y1 = self.band
        size, lines = self.layout(k)
        font = _load_font(self.font_file, size)
        line_height = math.ceil(size * (1 + _LINE_GAP)) + 2 * self.stroke
        stroke = max(1, round(size / 14))
        text_width = max(1, math.ceil(max(font.getlength(line) for line in lines)))
        w = min(self.width, text_width + 2 * stroke + 2)
        h = min(y1 - y0, len(lines) * line_height + 2 * stroke)
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        for n, line in enumerate(lines):
            draw.text(
                (w / 2, stroke + n * line_height + line_height / 2),
                line,
                font=font,
                fill=(255, 255, 255, 255),
                stroke_width=stroke,
                stroke_fill=(0, 0, 0, 255),
                anchor="mm",
            )
        pixels = np.asarray(image, dtype=np.float32)
        rgb, alpha = pixels[..., :3], pixels[..., 3] / 255.0
        x0 = (self.width - w) // 2
        # Bottom captions sit on the band's floor, top ones under its ceiling.
        if self.style.position == "bottom":
            top = y1 - h
        elif self.style.position == "top":
            top = y0
        else:
            top = y0 + (y1 - y0 - h) // 2
        patch = (rgb, alpha, x0, top)
        self._patches[k] = patch
        return patch


def _flow(font: Any, units: Sequence[str], starts: Sequence[bool], limit: float) -> list[str]:
    """`units` in lines no wider than `limit` (greedy), broken where a word starts."""
    lines: list[str] = []
    current: list[int] = []  # indices into units
    for k, unit in enumerate(units):
        candidate = join_words([*(units[i] for i in current), unit])
        if current and font.getlength(candidate) > limit:
            cut = max(
                (p for p in range(1, len(current) + 1) if _starts(starts, current, p, k)),
                default=0,
            )
            cut = cut or len(current)
            lines.append(join_words([units[i] for i in current[:cut]]))
            current = current[cut:]
        current.append(k)
    if current:
        lines.append(join_words([units[i] for i in current]))
    return lines


def _starts(starts: Sequence[bool], current: Sequence[int], p: int, k: int) -> bool:
    """Whether a line may break before position `p` of `current` (`p == len(current)`: before
    unit `k`, the one that does not fit)."""
    return starts[current[p]] if p < len(current) else starts[k]


def burn_captions(
    video: str | Path,
    out_path: str | Path,
    cues: Sequence[Cue],
    *,
    audio_path: str | Path,
    style: CaptionStyle | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> int:
    """Write ``video`` with ``cues`` burned in to ``out_path``; return the frame count.

    1. Probe the video for its size, rate and audio sample rate.
    2. Decode every frame, paint the cue showing at the frame's middle, encode (H.264,
       ``crf``; 18 is what the engines write, so the second generation stays faint).
    3. Mux the audio from ``audio_path`` (the batch's upload) at its own rate and channels,
       as the engines do (``read_audio_as_uploaded``), rather than re-encoding the AAC a
       second time.
    ``out_path`` may be ``video`` itself: the writer renames into place only at the end.
    """
    from rendering import media  # PyAV: the web process lays captions out (ASS) without it

    info = media.probe_video(video)
    if info.video is None:  # probe_video guarantees one; this satisfies the type checker
        raise RenderingError(
            "This video has no picture to caption.", code="no_picture", params={"hint": "video"}
        )
    width, height, fps = info.video.width, info.video.height, info.video.fps
    painter = CaptionPainter(cues, width, height, style)
    samples, rate = media.read_audio_as_uploaded(Path(audio_path))
    frames = 0
    with media.VideoWriter(
        out_path,
        width=width,
        height=height,
        fps=fps,
        crf=crf,
        preset=preset,
        audio=samples,
        audio_rate=rate,
    ) as writer:
        for frames, frame in enumerate(media.iter_frames(video, fps=fps), start=1):
            writer.write(painter(frame, (frames - 0.5) / fps))
    return frames
