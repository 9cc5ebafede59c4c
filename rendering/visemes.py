"""Mouth shapes from the words: timed words to viseme targets, blended into the audio's controls.

The audio's energy and spectrum (``rendering.audio``) say how open the mouth is, but they
cannot tell a voiced /m/ (loud, lips shut) from a vowel, nor an /u/ from an /a/ of the same
loudness. The transcript's words can. This module:

1. turns each word into a sequence of segments (a grapheme-to-viseme step, no model and no
   data downloaded): English by a small letter rule set (digraphs first: ``ph`` lip-teeth,
   ``oo``/``ou``/``ow`` rounded, ``ee``/``ea`` wide, a final ``mb`` one closure, a silent
   final ``e`` dropped); Chinese character by character through its pinyin (``pypinyin``,
   which ships its dictionary): initials b/p/m closed, f lip-teeth, w rounded; finals by
   their vowels (u/o/ü rounded, i wide except after z c s zh ch sh r);
2. lays the segments over the word's time span in proportion to their typical length
   (vowels longer than consonants), and makes per-frame targets from them: ``closed``
   (m/b/p: at least 70 ms, taken as the maximum over each frame, so a closure is always
   shown on at least one frame), ``lipteeth`` (f/v), ``rounded`` (o/u/w) and ``wide``
   (i/e), each 0..1;
3. blends them into the audio's :class:`~rendering.audio.MouthControls`: the mouth is shut
   at closures, nearly shut at f/v, narrowed and pushed forward on rounded vowels, spread
   on i/e. Openness elsewhere is the audio's: the words only say *which* shape, the sound
   still says *how much* and *when*.

Pure numpy over ``rendering.words.Word``; no Django, no PyAV.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rendering.words import Word

__all__ = [
    "KINDS",
    "Segment",
    "VisemeTargets",
    "apply_visemes",
    "closure_shift",
    "targets",
    "word_segments",
]

CLOSED, LIPTEETH, ROUNDED, WIDE = "closed", "lipteeth", "rounded", "wide"
KINDS = (CLOSED, LIPTEETH, ROUNDED, WIDE)

# Shortest time a lip closure is held (s): a real /m b p/ lasts 60-120 ms.
_MIN_CLOSURE = 0.07
_MIN_SHAPE = 0.06
_RAMP = 0.03  # s, rise and fall of every target
_SAMPLES_PER_FRAME = 8

# How the targets move the controls (tuned on the fixture face only, see the bench).
CLOSE_DEPTH = 0.95  # share of the opening removed at a full closure
LIPTEETH_DEPTH = 0.7
ROUND_NARROW = 0.35  # width pulled down by a full rounded target
ROUND_PUSH = 0.8  # rounding at a full rounded target (at least)
ROUND_OPEN = 0.1  # share of the opening removed on rounded vowels (small round opening)
WIDE_SPREAD = 0.4  # width pushed up by a full wide target


@dataclass(frozen=True)
class Segment:
    """One sound of a word: its viseme kind (None: no particular lip shape), how strongly
    it asks for it (0..1) and its typical length (relative)."""

    kind: str | None
    weight: float = 1.0
    length: float = 1.0


@dataclass(frozen=True)
class VisemeTargets:
    """Per video frame, each float32 in [0, 1]."""

    fps: float
    closed: np.ndarray
    lipteeth: np.ndarray
    rounded: np.ndarray
    wide: np.ndarray


# --- English: letters to visemes ---------------------------------------------------------
_VOWEL_LENGTH = 1.6
_DIGRAPHS: dict[str, Segment] = {
    "ph": Segment(LIPTEETH),
    "wh": Segment(ROUNDED, 0.8),
    "qu": Segment(ROUNDED, 0.8),
    "oo": Segment(ROUNDED, 1.0, _VOWEL_LENGTH),
    "ou": Segment(ROUNDED, 0.8, _VOWEL_LENGTH),
    "ow": Segment(ROUNDED, 0.8, _VOWEL_LENGTH),
    "oa": Segment(ROUNDED, 1.0, _VOWEL_LENGTH),
    "oe": Segment(ROUNDED, 0.9, _VOWEL_LENGTH),
    "ew": Segment(ROUNDED, 0.9, _VOWEL_LENGTH),
    "ue": Segment(ROUNDED, 0.9, _VOWEL_LENGTH),
    "ee": Segment(WIDE, 1.0, _VOWEL_LENGTH),
    "ea": Segment(WIDE, 0.9, _VOWEL_LENGTH),
    "ie": Segment(WIDE, 0.8, _VOWEL_LENGTH),
    "ei": Segment(WIDE, 0.8, _VOWEL_LENGTH),
    "ey": Segment(WIDE, 0.8, _VOWEL_LENGTH),
    "ay": Segment(WIDE, 0.6, _VOWEL_LENGTH),
    "ai": Segment(WIDE, 0.6, _VOWEL_LENGTH),
    "th": Segment(None),
    "sh": Segment(ROUNDED, 0.4),
    "ch": Segment(ROUNDED, 0.3),
    "gh": Segment(None, 0.0, 0.5),
    "ck": Segment(None),
    "ng": Segment(None),
}
_LETTERS: dict[str, Segment] = {
    "m": Segment(CLOSED),
    "b": Segment(CLOSED),
    "p": Segment(CLOSED),
    "f": Segment(LIPTEETH),
    "v": Segment(LIPTEETH),
    "w": Segment(ROUNDED, 0.8),
    "o": Segment(ROUNDED, 0.7, _VOWEL_LENGTH),
    "u": Segment(ROUNDED, 0.5, _VOWEL_LENGTH),
    "i": Segment(WIDE, 0.6, _VOWEL_LENGTH),
    "e": Segment(WIDE, 0.5, _VOWEL_LENGTH),
    "y": Segment(WIDE, 0.6, _VOWEL_LENGTH),
    "a": Segment(None, 1.0, _VOWEL_LENGTH),
}


def english_segments(word: str) -> list[Segment]:
    """Segments of one English word from its spelling (a rule set, not a dictionary)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if letters.endswith("mb"):
        letters = letters[:-1]  # lamb, climb: the b is silent
    if len(letters) > 3 and letters.endswith("e") and letters[-2] not in "aeiouy":
        letters = letters[:-1]  # silent final e (make, home)
    out: list[Segment] = []
    k = 0
    while k < len(letters):
        pair = letters[k : k + 2]
        if pair in _DIGRAPHS:
            segment = _DIGRAPHS[pair]
            k += 2
        else:
            segment = _LETTERS.get(letters[k], Segment(None))
            if k > 0 and letters[k] == letters[k - 1] and letters[k] in "mbpfv":
                k += 1  # one closure for mm, bb, pp
                continue
            if letters[k] == "y" and k == 0:
                segment = Segment(None)  # yes, you: a consonant
            k += 1
        out.append(segment)
    return out


# --- Mandarin: characters to pinyin to visemes -------------------------------------------
_FLAT_I = ("zh", "ch", "sh", "r", "z", "c", "s")  # after these, "i" is not a spread /i/


@lru_cache(maxsize=4096)
def _pinyin(char: str) -> str:
    # pypinyin loads its dictionaries (a fifth of a second): only Chinese words need them.
    from pypinyin import Style, lazy_pinyin

    found = lazy_pinyin(char, style=Style.NORMAL, v_to_u=False, errors="ignore")
    return found[0] if found else ""


def syllable_segments(syllable: str) -> list[Segment]:
    """Segments of one pinyin syllable (toneless, ü written ``v``)."""
    s = syllable.lower()
    if not s:
        return []
    initial = ""
    for candidate in ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw"):
        if s.startswith(candidate):
            initial = candidate
            break
    final = s[len(initial) :]
    out: list[Segment] = []
    if initial in ("b", "p", "m"):
        out.append(Segment(CLOSED))
    elif initial == "f":
        out.append(Segment(LIPTEETH))
    elif initial == "w":
        out.append(Segment(ROUNDED, 0.9, 0.6))
    elif initial:
        out.append(Segment(None, 1.0, 0.8))
    # After j q x y a written "u" is ü: rounded too, so it changes nothing here.
    for letter in final:
        if letter in "uov":
            out.append(Segment(ROUNDED, 0.9, 1.0))
        elif letter == "i":
            flat = initial in _FLAT_I and final == "i"
            out.append(Segment(None if flat else WIDE, 0.9, 1.0))
        elif letter == "e":
            # ie, ei, üe: spread; a lone e (de, ge, en) is an unrounded mid vowel, no shape.
            spread = "i" in final or final in ("ue", "ve")
            out.append(Segment(WIDE if spread else None, 0.5, 1.0))
        elif letter == "a":
            out.append(Segment(None, 1.0, 1.2))
        else:  # n, g of the nasal codas, r of er
            out.append(Segment(None, 1.0, 0.5))
    return out


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def word_segments(text: str) -> list[list[Segment]]:
    """The word as syllable-sized groups of segments: one group per Chinese character, one
    group for an English word. Punctuation and digits give nothing."""
    groups: list[list[Segment]] = []
    latin: list[str] = []
    for char in text:
        if _is_cjk(char):
            if latin:
                groups.append(english_segments("".join(latin)))
                latin = []
            groups.append(syllable_segments(_pinyin(char)))
        else:
            latin.append(char)
    if latin:
        groups.append(english_segments("".join(latin)))
    return [g for g in groups if g]


# --- timing ------------------------------------------------------------------------------


def _events(words: Sequence[Word]) -> list[tuple[str, float, float, float, Word]]:
    """(kind, start, end, weight, word) of every shaped segment, laid over its word's span."""
    events: list[tuple[str, float, float, float, Word]] = []
    for word in words:
        span = max(float(word.end) - float(word.start), 0.0)
        groups = word_segments(word.text)
        if span <= 0.0 or not groups:
            continue
        # Chinese characters of one word share its span evenly; segments within a syllable
        # (or an English word) by their typical lengths.
        share = span / len(groups)
        for g, group in enumerate(groups):
            total = sum(s.length for s in group)
            t = float(word.start) + g * share
            for segment in group:
                length = share * segment.length / total
                if segment.kind is not None and segment.weight > 0:
                    events.append((segment.kind, t, t + length, segment.weight, word))
                t += length
    return events


def _plateau(times: np.ndarray, start: float, end: float, hold: float) -> np.ndarray:
    """1 over [start, end] widened to ``hold`` around its centre, with linear ramps."""
    if end - start < hold:
        centre = (start + end) / 2.0
        start, end = centre - hold / 2.0, centre + hold / 2.0
    rise = np.clip((times - (start - _RAMP)) / _RAMP, 0.0, 1.0)
    fall = np.clip(((end + _RAMP) - times) / _RAMP, 0.0, 1.0)
    return np.asarray(np.minimum(rise, fall))


_HOP = 0.01  # s, the audio analysis's hop (rendering.audio)
_SNAP_REACH = 0.12  # s: how far a closure may move to meet the sound's dip
_SNAP_MIN_DB = 3.0  # a dip shallower than this is no evidence of a closure
_DIP_REACH = 8  # hops each side a dip is measured against


def closure_shift(start: float, end: float, lo: float, hi: float, level: np.ndarray) -> float:
    """How far to move a closure [start, end] so its middle sits on the deepest dip of the
    sound's level (dB per 10 ms hop) within reach and within the word [lo, hi]; 0 when
    there is no clear dip. Word times are only as good as Whisper's (often 0.1-0.4 s off on
    short words); a lip closure silences or muffles the sound, so the dip is where it is."""
    centre = (start + end) / 2.0
    first = max(int((max(centre - _SNAP_REACH, lo)) / _HOP), _DIP_REACH)
    last = min(int((min(centre + _SNAP_REACH, hi)) / _HOP), level.size - _DIP_REACH - 1)
    if last <= first:
        return 0.0
    hops = np.arange(first, last + 1)
    left = np.array([level[j - _DIP_REACH : j].max() for j in hops])
    right = np.array([level[j + 1 : j + 1 + _DIP_REACH].max() for j in hops])
    depth = np.minimum(left, right) - level[hops]
    best = int(np.argmax(depth))
    if depth[best] < _SNAP_MIN_DB:
        return 0.0
    return float((hops[best] + 0.5) * _HOP - centre)


def targets(
    words: Sequence[Word], fps: float, n_frames: int, *, energy: np.ndarray | None = None
) -> VisemeTargets:
    """Per-frame viseme targets for frames k showing [k / fps, (k + 1) / fps).

    With ``energy`` (the analysis's RMS per 10 ms hop), closures and lip-teeth contacts
    move to the sound's dip near where the word's spelling puts them. Each frame samples
    its interval at 8 points: ``closed`` takes the maximum (a closure shorter than a frame
    still shows on it), the others the mean.
    """
    level = None
    if energy is not None and energy.size:
        level = 20.0 * np.log10(np.maximum(np.asarray(energy, np.float64), 1e-6))
    offsets = (np.arange(_SAMPLES_PER_FRAME) + 0.5) / _SAMPLES_PER_FRAME
    times = ((np.arange(n_frames)[:, None] + offsets[None, :]) / fps).astype(np.float64)
    curves = {kind: np.zeros_like(times) for kind in KINDS}
    for kind, start, end, weight, word in _events(words):
        if level is not None and kind in (CLOSED, LIPTEETH):
            shift = closure_shift(start, end, float(word.start), float(word.end), level)
            start, end = start + shift, end + shift
        lo = max(0, int((start - 0.2) * fps))
        hi = min(n_frames, int((end + 0.2) * fps) + 1)
        if hi <= lo:
            continue
        hold = _MIN_CLOSURE if kind == CLOSED else _MIN_SHAPE
        bump = weight * _plateau(times[lo:hi], start, end, hold)
        curves[kind][lo:hi] = np.maximum(curves[kind][lo:hi], bump)
    per_frame = {
        kind: (curve.max(axis=1) if kind == CLOSED else curve.mean(axis=1)).astype(np.float32)
        for kind, curve in curves.items()
    }
    return VisemeTargets(
        fps=float(fps),
        closed=per_frame[CLOSED],
        lipteeth=per_frame[LIPTEETH],
        rounded=per_frame[ROUNDED],
        wide=per_frame[WIDE],
    )


def apply_visemes(
    openness: np.ndarray,
    width: np.ndarray,
    rounding: np.ndarray,
    wanted: VisemeTargets,
    *,
    strength: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The audio's openness, width and rounding with the words' shapes blended in.

    1. Closures shut the mouth (m b p), lip-teeth nearly (f v); rounded vowels open a
       little less.
    2. Rounded vowels narrow the mouth and push the lips forward; i/e spread it.
    The audio keeps the timing of the opening; the words only choose the shape.
    """
    s = float(strength)
    closed = s * wanted.closed
    lipteeth = s * wanted.lipteeth
    rounded = s * wanted.rounded
    wide = s * wanted.wide
    shut = np.maximum(CLOSE_DEPTH * closed, LIPTEETH_DEPTH * lipteeth)
    new_open = openness * (1.0 - shut) * (1.0 - ROUND_OPEN * rounded)
    new_width = width - ROUND_NARROW * rounded + WIDE_SPREAD * wide * (1.0 - rounded)
    new_rounding = np.maximum(rounding, ROUND_PUSH * rounded)
    return (
        np.clip(new_open, 0.0, 1.0).astype(np.float32),
        np.clip(new_width, 0.0, 1.0).astype(np.float32),
        np.clip(new_rounding, 0.0, 1.0).astype(np.float32),
    )
