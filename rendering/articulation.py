"""Mouth shapes from the sounds: what the lips do on each phoneme, learned from real speakers.

Real speakers do not open the mouth with the volume: a voiced /m/ is loud with the lips
shut, an /a/ after a pause is quiet and wide open, /u/ is narrow and /i/ spread. This
module makes per-video-frame mouth shapes from *what* is said and *when*:

1. **Phones from the words.** Every timed word of the transcript becomes phones: Chinese
   characters through their pinyin (``pypinyin``, Whisper's Mandarin words are
   characters), other words through espeak-ng (``phonemizer`` on the library and
   dictionaries that ``espeakng-loader`` ships: about 100 languages, nothing downloaded);
   without espeak-ng, a word's letters stand in for its phones. A word Whisper squeezed
   into too little time grows into the speech beside it; the phones are laid over the
   word's span by their typical lengths (vowels longer), then warped so each vowel sits on
   one of the word's loudness peaks.
2. **Articulation curves** per 10 ms hop: every phone has a textbook shape (:data:`PHONES`:
   jaw/lip opening, spread, rounding, bilabial closure, lip-teeth contact); the curves are
   smoothed over ~30 ms (coarticulation) and a bilabial closure is held at least 70 ms
   (on the sound's dip when there is one). Sound channels join them: speech activity,
   the speech-band level smoothed over ~0.25 s (how much overall, not syllable by
   syllable), and the phones' opening times that level.
3. **A small linear model** (:class:`ArticulationModel`, ridge regression) maps a window
   of those channels (±120 ms) to the inner-lip opening (share of the speaker's wide
   opening) and the mouth width (relative to the speaker's median), fitted on real
   speakers' own clips by ``bench/articulation.py --fit`` (which also measures it, leave
   one person out). Its weights ship as ``rendering/data/articulation.npz`` (no pickle).
4. :func:`mouth_shapes` turns a prediction into the engine's controls (``openness``,
   ``width``, ``rounding`` in 0..1, as :class:`rendering.audio.MouthControls`): capped by
   the phones' own opening (an /m/ stays shut), shut in silence, stretched to the
   speaker's wide opening, rounded phones narrowed and pushed forward.

:func:`adapt` refits the model on one template's own voice and mouth (ridge pulled towards
the generic weights), and :func:`adapted_model` caches that per template content.

No words (no transcript, music, a model missing): :func:`mouth_shapes` gives None and
the engine keeps the loudness controls of :mod:`rendering.audio`.
"""

# ruff: noqa: RUF001  (IPA symbols look like Latin letters on purpose)
from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rendering.audio import MouthControls, hop_controls
from rendering.visemes import closure_shift
from rendering.words import Word

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.cache import Cache

__all__ = [
    "CHANNELS",
    "DEFAULT_MODEL",
    "MODEL_VERSION",
    "ArticulationModel",
    "Phone",
    "adapt",
    "channels",
    "fit",
    "load_model",
    "mouth_shapes",
    "predict",
    "word_phones",
    "words_phones",
]

log = logging.getLogger(__name__)

MODEL_VERSION = "articulation-1"
DEFAULT_MODEL = Path(__file__).with_name("data") / "articulation.npz"

HOP = 0.01  # s: the audio analysis's hop
# Channels per hop: the phones' textbook shape (opening, spread, rounding, bilabial
# closure, lip-teeth), whether someone speaks, the speech-band level, and the phones'
# opening scaled by that level (a vowel said loudly opens more than the same one murmured).
CHANNELS = ("open", "spread", "round", "closed", "lipteeth", "speech", "level", "open_level")
TAPS = (-12, -8, -4, -2, 0, 2, 4, 8, 12)  # hops around the frame the model reads
_SMOOTH_HOPS = 3.0  # coarticulation: a phone's shape leaks ~30 ms into its neighbours
_MIN_CLOSURE = 0.07  # s: a real /m b p/ closure lasts 60-120 ms
_VOWEL_LENGTH = 1.6
_QUIET_HOPS = 25  # hops of silence after which the mouth rests shut
_LEVEL_SIGMA_HOPS = 10.0  # the loudness channel's smoothing: the overall amount, not syllables
_PHONE_CAP = 1.5  # the phones' opening times this caps the model's
_WIDE = 0.9  # the openness the clip's widest 5 % are stretched to
_MAX_STRETCH = 2.5


@dataclass(frozen=True)
class Phone:
    """A phone's textbook lip shape: jaw/lip opening (0 shut .. 1 a wide /a/), spread
    (/i/), rounding (/u/), bilabial closure (/m b p/), lip-teeth contact (/f v/)."""

    open: float
    spread: float = 0.0
    round: float = 0.0
    closed: float = 0.0
    lipteeth: float = 0.0

    @property
    def vowel(self) -> bool:
        return self.open >= 0.25 and not self.closed and not self.lipteeth


def _p(open_: float, spread: float = 0.0, round_: float = 0.0) -> Phone:
    return Phone(open_, spread, round_)


# IPA (as espeak-ng writes it) to lip shapes. Vowel heights from the usual vowel chart.
PHONES: dict[str, Phone] = {
    # open vowels
    "a": _p(1.0), "ɑ": _p(1.0), "ä": _p(1.0), "æ": _p(0.85, 0.3), "ɐ": _p(0.8),
    "ɒ": _p(0.8, 0.0, 0.4), "ʌ": _p(0.75), "ɔ": _p(0.7, 0.0, 0.6), "ɜ": _p(0.55),
    # mid vowels
    "ɛ": _p(0.65, 0.5), "e": _p(0.5, 0.7), "ə": _p(0.45), "ɚ": _p(0.4, 0.0, 0.3),
    "o": _p(0.5, 0.0, 0.8), "ø": _p(0.45, 0.0, 0.7), "œ": _p(0.6, 0.0, 0.6), "ɤ": _p(0.45),
    "ɵ": _p(0.4, 0.0, 0.5),
    # close vowels
    "i": _p(0.25, 1.0), "ɪ": _p(0.35, 0.7), "y": _p(0.25, 0.0, 0.9), "ʏ": _p(0.3, 0.0, 0.7),
    "ɨ": _p(0.3, 0.3), "ʉ": _p(0.25, 0.0, 0.8), "ɯ": _p(0.25, 0.3), "u": _p(0.25, 0.0, 1.0),
    "ʊ": _p(0.3, 0.0, 0.7),
    # lips shut, lips on teeth
    "p": Phone(0.0, closed=1.0), "b": Phone(0.0, closed=1.0), "m": Phone(0.0, closed=1.0),
    "ɓ": Phone(0.0, closed=1.0), "ɱ": Phone(0.05, lipteeth=1.0),
    "f": Phone(0.08, lipteeth=1.0), "v": Phone(0.08, lipteeth=1.0), "ʋ": Phone(0.1, lipteeth=0.6),
    # rounded consonants
    "w": _p(0.15, 0.0, 1.0), "ʍ": _p(0.15, 0.0, 1.0), "ɥ": _p(0.15, 0.0, 0.9),
    "ʃ": _p(0.15, 0.0, 0.5), "ʒ": _p(0.15, 0.0, 0.5), "ɹ": _p(0.2, 0.0, 0.35),
    "ʂ": _p(0.15, 0.0, 0.4), "ʐ": _p(0.15, 0.0, 0.35), "ɕ": _p(0.12, 0.4), "ʑ": _p(0.12, 0.4),
    # tongue consonants: the jaw nearly closed
    "t": _p(0.12), "d": _p(0.12), "n": _p(0.15), "s": _p(0.1, 0.4), "z": _p(0.1, 0.4),
    "θ": _p(0.15), "ð": _p(0.15), "l": _p(0.25), "ɾ": _p(0.2), "r": _p(0.2), "ɫ": _p(0.25),
    "j": _p(0.15, 0.6), "ʎ": _p(0.2, 0.3), "ɲ": _p(0.15, 0.3), "c": _p(0.15, 0.3),
    "ɟ": _p(0.15, 0.3), "x": _p(0.3), "ç": _p(0.2, 0.4), "ʝ": _p(0.2, 0.4),
    # back consonants and h: the mouth keeps much of its neighbours' opening
    "k": _p(0.3), "g": _p(0.3), "ɡ": _p(0.3), "ŋ": _p(0.3), "h": _p(0.4), "ɦ": _p(0.4),
    "ʔ": _p(0.2), "q": _p(0.3), "ɣ": _p(0.3), "χ": _p(0.35), "ʁ": _p(0.3), "ħ": _p(0.4),
    "ɭ": _p(0.25), "ɻ": _p(0.2, 0.0, 0.2), "ɳ": _p(0.15), "ʈ": _p(0.12), "ɖ": _p(0.12),
}  # fmt: skip
_OTHER = _p(0.3)  # any symbol not in the table: a neutral, half-open mouth
# Spelling stands in for phones when espeak-ng is not there: the letters that are not
# their own IPA symbol.
_LETTER_PHONES = {"c": "k", "q": "k", "x": "k", "y": "i", "j": "j", "g": "g", "r": "ɹ"}
_SKIP = set("ˈˌːˑ‿|-_'.,;:!?¡¿\"“”()[]{}") | {"\u0303", "\u0329", "\u032f", "\u0361"}


# --- words to phones ---------------------------------------------------------------------
_ESPEAK_VOICES = {
    "en": "en-us", "pt": "pt", "ru": "ru", "es": "es", "fr": "fr-fr", "de": "de", "it": "it",
    "ja": "ja", "ko": "ko", "uk": "uk", "pl": "pl", "nl": "nl", "tr": "tr", "vi": "vi",
    "ar": "ar", "id": "id", "ms": "ms", "th": "th", "hi": "hi", "yue": "yue",
}  # fmt: skip


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _script_language(text: str) -> str:
    """A guess when the transcript has no language: Cyrillic is Russian, else English."""
    if any("\u0400" <= ch <= "\u04ff" for ch in text):
        return "ru"
    return "en"


@lru_cache(maxsize=1)
def _espeak() -> object | None:
    """phonemizer's espeak backend on the library ``espeakng-loader`` ships, or None."""
    try:
        # espeak-ng's C library loads on the first word that needs phones, and may fail here.
        import espeakng_loader
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        return EspeakWrapper
    except Exception as exc:  # not installed, or the library does not load here
        log.info("espeak-ng not available for phones (%s): letters stand in", exc)
        return None


@lru_cache(maxsize=32)
def _backend(voice: str) -> object | None:
    if _espeak() is None:
        return None
    try:
        # phonemizer's backend: only a word that needs espeak-ng's phones loads it.
        from phonemizer.backend import EspeakBackend

        return EspeakBackend(voice, preserve_punctuation=False, with_stress=False)
    except Exception as exc:  # a voice espeak-ng does not have
        log.info("no espeak-ng voice %r (%s): letters stand in", voice, exc)
        return None


@lru_cache(maxsize=8192)
def _espeak_ipa(word: str, voice: str) -> str | None:
    backend = _backend(voice)
    if backend is None:
        return None
    try:
        out = backend.phonemize([word], strip=True, njobs=1)  # type: ignore[attr-defined]
    except Exception:
        return None
    return str(out[0]) if out else None


def _symbols(ipa: str) -> list[str]:
    """IPA text to phone symbols: stress, length and tie marks dropped, accents folded."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", ipa.lower()):
        if char in _SKIP or char.isspace() or unicodedata.combining(char):
            continue
        out.append(char)
    return out


def _letters(word: str) -> list[str]:
    """A word's letters as stand-in phones (accents folded: ã is a)."""
    letters = [c for c in _symbols(word) if c.isalpha()]
    return [_LETTER_PHONES.get(c, c) for c in letters]


# Pinyin to IPA-like symbols (toneless syllables; ü written v).
_PINYIN_INITIALS = {
    "b": "p", "p": "p", "m": "m", "f": "f", "d": "t", "t": "t", "n": "n", "l": "l",
    "g": "k", "k": "k", "h": "x", "j": "ɕ", "q": "ɕ", "x": "ɕ", "zh": "ʂ", "ch": "ʂ",
    "sh": "ʂ", "r": "ʐ", "z": "s", "c": "s", "s": "s", "y": "j", "w": "w",
}  # fmt: skip
_FLAT_I = ("zh", "ch", "sh", "r", "z", "c", "s")


def pinyin_phones(syllable: str) -> list[str]:
    """Phone symbols of one pinyin syllable (``ma``, ``zhuang``, ``lv``)."""
    s = syllable.lower().strip()
    if not s:
        return []
    initial = next((c for c in ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw") if s.startswith(c)), "")
    final = s[len(initial) :]
    out = [_PINYIN_INITIALS[initial]] if initial else []
    if initial in ("j", "q", "x", "y") and final.startswith("u"):
        final = "v" + final[1:]  # ju, que, xun, yu: the u is ü
    k = 0
    while k < len(final):
        ch = final[k]
        if final[k : k + 2] == "ng":
            out.append("ŋ")
            k += 2
            continue
        if ch == "i":
            out.append("ɨ" if initial in _FLAT_I and final == "i" else "i")
        elif ch == "e":
            out.append("ɛ" if ("i" in final or "v" in final or final == "ue") else "ɤ")
        elif ch == "v":
            out.append("y")
        elif ch in "aoun":
            out.append(ch)
        elif ch == "r":
            out.append("ɻ")
        k += 1
    return out


@lru_cache(maxsize=8192)
def _pinyin(char: str) -> str:
    # pypinyin loads its dictionaries (a fifth of a second): only Chinese words need them.
    from pypinyin import Style, lazy_pinyin

    found = lazy_pinyin(char, style=Style.NORMAL, v_to_u=False, errors="ignore")
    return found[0] if found else ""


def word_phones(text: str, language: str | None = None) -> list[list[str]]:
    """The word's phones in syllable-sized groups: one group per Chinese character, one
    per run of other letters (espeak-ng in ``language``, else the letters)."""
    groups: list[list[str]] = []
    run: list[str] = []

    def flush() -> None:
        word = "".join(run).strip()
        run.clear()
        if not word or not any(c.isalpha() for c in word):
            return
        lang = (language or _script_language(word)).lower()
        voice = _ESPEAK_VOICES.get(lang, lang)
        ipa = None if lang in ("zh", "yue") else _espeak_ipa(word, voice)
        phones = _symbols(ipa) if ipa else _letters(word)
        if phones:
            groups.append(phones)

    for char in text:
        if _is_cjk(char):
            flush()
            phones = pinyin_phones(_pinyin(char))
            if phones:
                groups.append(phones)
        else:
            run.append(char)
    flush()
    return groups


# --- curves --------------------------------------------------------------------------------


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Centred Gaussian smoothing along axis 0 (edges extended)."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(values, [(radius, radius)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    out = np.zeros_like(values, dtype=np.float64)
    for k, tap in enumerate(taps):
        out += tap * padded[k : k + values.shape[0]]
    return out


_PEAK_GAP = 6  # hops: two syllable nuclei are at least 60 ms apart
_PEAK_PROMINENCE_DB = 4.0


def _nuclei_peaks(level: np.ndarray, t0: float, t1: float, k: int) -> list[float] | None:
    """Times of the ``k`` loudest local maxima of ``level`` (dB per hop) inside [t0, t1],
    in order, at least 60 ms apart; None when the sound shows fewer."""
    lo, hi = max(int(t0 / HOP), 1), min(math.ceil(t1 / HOP), level.size - 1)
    if hi - lo < 3 or k == 0:
        return None
    seg = level[lo:hi]
    inner = np.flatnonzero((seg[1:-1] >= seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
    # A peak must stand out of the word's quietest point: on a steady sound (a held note,
    # a hum) the maxima are noise and say nothing about where the vowels are.
    inner = inner[seg[inner] - float(seg.min()) >= _PEAK_PROMINENCE_DB]
    chosen: list[int] = []
    for j in inner[np.argsort(-seg[inner], kind="stable")]:
        if all(abs(int(j) - c) >= _PEAK_GAP for c in chosen):
            chosen.append(int(j))
        if len(chosen) == k:
            break
    if len(chosen) < k:
        return None
    return [(lo + j + 0.5) * HOP for j in sorted(chosen)]


# Bump when word_phones changes what it returns: phones kept by an older version are ignored.
PHONES_VERSION = "phones-1"


def words_phones(
    words: Sequence[Word], language: str | None = None, cache: Cache | None = None
) -> list[list[list[str]]]:
    """:func:`word_phones` of every word, kept in ``cache`` by the words and the language:
    every render of a batch plans the same words, and espeak-ng with its wrapper take a
    fifth of a second to start in each new process. Phones made while espeak-ng was
    missing (letters standing in) are not kept."""
    key = None
    if cache is not None:
        text = json.dumps([language, [w.text for w in words]], ensure_ascii=False)
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        data = cache.load("phones", key, PHONES_VERSION)
        if data is not None:
            try:
                kept = json.loads(data)
            except ValueError:
                kept = None
            if isinstance(kept, list) and len(kept) == len(words):
                return [[[str(p) for p in group] for group in word] for word in kept]
    phoned = [word_phones(w.text, language) for w in words]
    # _espeak() is asked only when it was already loaded: asking loads it.
    espeak_missing = _espeak.cache_info().currsize > 0 and _espeak() is None
    if cache is not None and key is not None and not espeak_missing:
        cache.store("phones", key, PHONES_VERSION, json.dumps(phoned).encode("utf-8"))
    return phoned


def phone_curves(
    words: Sequence[Word],
    n_hops: int,
    *,
    language: str | None = None,
    level: np.ndarray | None = None,
    spoken: np.ndarray | None = None,
    cache: Cache | None = None,
) -> np.ndarray:
    """(n_hops, 5) textbook shape per hop: open, spread, round, closed, lipteeth.

    0. With ``spoken`` (speech per hop), a word Whisper squeezed into less time than its
       phones need (a 10 ms "I'd" is common) grows into the speech around it.
    1. Each word's phones share its span by typical length (Chinese characters share a
       word evenly first); a hop takes the shape of the phone it falls in. With ``level``
       (the speech band's dB per hop), the times inside a word are warped so each vowel
       nucleus sits on one of the word's loudness peaks (a syllable is loudest on its
       vowel): Whisper's word times are right to a word, not to a syllable.
    2. Smooth (coarticulation); a bilabial closure is held at least 70 ms at its centre,
       taking the maximum, so a closure shorter than a frame still shows. With ``level``
       a closure moves onto the sound's dip within 120 ms (the lips shutting muffle the
       sound) and is then certain (1.0); a closure the sound does not confirm stays 0.5.
    """
    curves = np.zeros((n_hops, 5), dtype=np.float64)
    closed = np.zeros(n_hops, dtype=np.float64)
    centres = (np.arange(n_hops) + 0.5) * HOP
    phoned = words_phones(words, language, cache)
    if spoken is not None:
        words = _widen_short_words(words, phoned, spoken)
    for word, groups in zip(words, phoned, strict=True):
        span = float(word.end) - float(word.start)
        if span <= 0 or not groups:
            continue
        share = span / len(groups)
        # Even layout first: (shape, start, end) of every phone of the word.
        laid: list[tuple[Phone, float, float]] = []
        for g, group in enumerate(groups):
            shapes = [PHONES.get(p, _OTHER) for p in group]
            lengths = [_VOWEL_LENGTH if s.vowel else 1.0 for s in shapes]
            total = sum(lengths)
            t = float(word.start) + g * share
            for shape, length in zip(shapes, lengths, strict=True):
                laid.append((shape, t, t + share * length / total))
                t += share * length / total
        if level is not None:
            laid = _warp_to_peaks(laid, level, float(word.start), float(word.end))
        for shape, t, end in laid:
            lo, hi = math.floor(t / HOP), math.ceil(end / HOP)
            lo, hi = max(lo, 0), min(hi, n_hops)
            if hi > lo:
                inside = (centres[lo:hi] >= t) & (centres[lo:hi] < end)
                row = (shape.open, shape.spread, shape.round, shape.closed, shape.lipteeth)
                curves[lo:hi][inside] = row
                if shape.closed:
                    middle = (t + end) / 2.0
                    half = max(end - t, _MIN_CLOSURE) / 2.0
                    sure = 0.5  # where the words put it: a guess the model weighs
                    if level is not None:
                        shift = closure_shift(t, end, float(word.start), float(word.end), level)
                        if shift:  # the sound dips there: the lips shut there
                            middle, sure = middle + shift, 1.0
                    a = max(math.floor((middle - half) / HOP), 0)
                    b = min(math.ceil((middle + half) / HOP), n_hops)
                    closed[a:b] = np.maximum(closed[a:b], sure * shape.closed)
    out = _smooth(curves, _SMOOTH_HOPS) if n_hops else curves
    out[:, 3] = np.maximum(out[:, 3], closed)
    return out.astype(np.float32)


_PHONE_TIME = 0.075  # s: the least time a phone takes in running speech


def _widen_short_words(
    words: Sequence[Word], phoned: Sequence[list[list[str]]], spoken: np.ndarray
) -> list[Word]:
    """Words shorter than their phones need, grown into the speech of the gaps beside them
    (right first, then left), never over a neighbour or into silence."""
    out = [Word(w.text, float(w.start), float(w.end), w.probability) for w in words]
    n = spoken.size

    def speech_run(t: float, step: int, limit: float) -> float:
        """How far from ``t`` speech continues (towards ``limit``)."""
        j = math.floor(t / HOP)
        reach = 0.0
        while 0 <= j < n and spoken[j] and (t + step * (reach + HOP) - limit) * step <= 0:
            reach += HOP
            j += step
        return reach

    for k, word in enumerate(out):
        need = _PHONE_TIME * sum(len(g) for g in phoned[k])
        extra = need - (word.end - word.start)
        if extra <= 0:
            continue
        right_limit = out[k + 1].start if k + 1 < len(out) else n * HOP
        grow_right = min(extra, speech_run(word.end, 1, right_limit))
        left_limit = out[k - 1].end if k > 0 else 0.0
        grow_left = min(extra - grow_right, speech_run(word.start, -1, left_limit))
        out[k] = Word(word.text, word.start - grow_left, word.end + grow_right, word.probability)
    return out


def _warp_to_peaks(
    laid: list[tuple[Phone, float, float]], level: np.ndarray, t0: float, t1: float
) -> list[tuple[Phone, float, float]]:
    """The word's phones with their times warped (piecewise linearly, ends fixed) so the
    middle of each run of vowels lands on a loudness peak; unchanged when the word's sound
    shows fewer peaks than it has vowel runs."""
    centres: list[float] = []
    k = 0
    while k < len(laid):
        if laid[k][0].vowel:
            j = k
            while j + 1 < len(laid) and laid[j + 1][0].vowel:
                j += 1
            centres.append((laid[k][1] + laid[j][2]) / 2.0)
            k = j + 1
        else:
            k += 1
    peaks = _nuclei_peaks(level, t0, t1, len(centres))
    if not peaks:
        return laid
    xs = np.array([t0, *centres, t1])
    ys = np.array([t0, *peaks, t1])
    if np.any(np.diff(xs) <= 0) or np.any(np.diff(ys) <= 0):
        return laid
    return [
        (shape, float(np.interp(a, xs, ys)), float(np.interp(b, xs, ys))) for shape, a, b in laid
    ]


def channels(
    features: AudioFeatures, *, language: str | None = None, cache: Cache | None = None
) -> np.ndarray | None:
    """(n_hops, len(CHANNELS)) per 10 ms hop, or None without timed words (``cache``: where
    the words' phones are kept, :func:`words_phones`)."""
    words = features.words
    if not words:
        return None
    n = int(features.energy.shape[0])
    if language is None and features.transcript is not None:
        language = getattr(features.transcript, "language", None)
    band_db = _speech_band_db(features.mel, n)
    phones = phone_curves(
        words,
        n,
        language=language,
        level=band_db,
        spoken=features.speech.astype(bool),
        cache=cache,
    )
    spoken = _spoken(features, words)
    # The loudness only says how much overall (slow: a quarter second) and where nobody
    # speaks; its syllable-by-syllable rise and fall is not the lips' (a loud /m/ is shut).
    level = hop_controls(features.mel, features.energy, spoken)["openness"]
    level = _smooth(level.astype(np.float64), _LEVEL_SIGMA_HOPS)
    speech = _smooth(spoken.astype(np.float64), 2.0)
    return np.concatenate(
        [
            phones,
            speech[:, None],
            level[:, None],
            (phones[:, 0] * level)[:, None],
        ],
        axis=1,
    ).astype(np.float32)


def _speech_band_db(mel: np.ndarray, n: int) -> np.ndarray:
    """The speech band's level per hop (Whisper's log-mel rows of ~300-3000 Hz, in dB),
    lightly smoothed so a peak is a syllable's, not a pitch period's."""
    rows = np.asarray(mel[8:50, :n], dtype=np.float64)
    db = 10.0 * np.log10(np.mean(np.power(10.0, 4.0 * rows - 4.0), axis=0) + 1e-12)
    if db.size < n:
        db = np.pad(db, (0, n - db.size), mode="edge")
    return _smooth(db, 2.0)


def _spoken(features: AudioFeatures, words: Sequence[Word]) -> np.ndarray:
    """Where someone speaks: the energy's speech activity, or inside a word. Over music or
    steady noise the energy's threshold can miss all of it; Whisper still hears words."""
    spoken = np.asarray(features.speech, dtype=bool).copy()
    n = spoken.size
    for word in words:
        lo = max(math.floor(float(word.start) / HOP), 0)
        hi = min(math.ceil(float(word.end) / HOP), n)
        spoken[lo:hi] = True
    return spoken


def design(ch: np.ndarray) -> np.ndarray:
    """(n_hops, len(TAPS) * channels + 1): the channels at every tap, and a constant."""
    n = ch.shape[0]
    reach = max(abs(t) for t in TAPS)
    padded = np.pad(ch, [(reach, reach), (0, 0)], mode="edge")
    cols = [padded[reach + t : reach + t + n] for t in TAPS]
    return np.concatenate([*cols, np.ones((n, 1), dtype=ch.dtype)], axis=1)


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticulationModel:
    """Ridge weights from :func:`design` columns to (opening, width) per hop.

    ``opening``: inner-lip gap as a share of the speaker's wide opening (95th percentile);
    ``width``: mouth width relative to the speaker's median, minus 1.
    """

    weights: np.ndarray  # (n_columns, 2) float32
    version: str = MODEL_VERSION
    info: str = ""  # what it was fitted on (shown by the CLI)

    def to_bytes(self) -> bytes:
        meta = {
            "version": self.version,
            "channels": list(CHANNELS),
            "taps": list(TAPS),
            "info": self.info,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            weights=self.weights.astype(np.float32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ArticulationModel:
        """Inverse of :meth:`to_bytes`; ValueError for anything damaged or of other features."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode())
                weights = np.asarray(npz["weights"], dtype=np.float32)
        except Exception as exc:
            raise ValueError(f"unreadable articulation model: {exc!r}") from exc
        if meta.get("version") != MODEL_VERSION:
            raise ValueError(f"articulation model {meta.get('version')!r}, not {MODEL_VERSION!r}")
        if meta.get("channels") != list(CHANNELS) or meta.get("taps") != list(TAPS):
            raise ValueError("articulation model made for other features")
        if weights.shape != (len(TAPS) * len(CHANNELS) + 1, 2):
            raise ValueError(f"articulation model weights of shape {weights.shape}")
        return cls(weights=weights, info=str(meta.get("info", "")))

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.to_bytes())


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> ArticulationModel | None:
    try:
        return ArticulationModel.from_bytes(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        log.warning("articulation model %s not usable: %s", path, exc)
        return None


def load_model(path: Path | None = None) -> ArticulationModel | None:
    """The shipped model (or the one at ``path``); None when missing or unreadable."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(str(path), mtime)


def fit(
    examples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    ridge: float = 300.0,
    prior: ArticulationModel | None = None,
    info: str = "",
) -> ArticulationModel:
    """Ridge regression over ``(channels, opening, width)`` per hop, rows where all are
    finite. With ``prior`` the weights are pulled towards it instead of towards zero (a
    template's own voice adapting the generic model on a few seconds of speech)."""
    xs, ys = [], []
    for ch, opening, width in examples:
        x = design(ch).astype(np.float64)
        y = np.stack([opening, width], axis=1).astype(np.float64)
        keep = np.all(np.isfinite(y), axis=1) & np.all(np.isfinite(x), axis=1)
        xs.append(x[keep])
        ys.append(y[keep])
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 1e-6  # the constant is not shrunk
    centre = np.zeros((x.shape[1], 2)) if prior is None else prior.weights.astype(np.float64)
    weights = np.linalg.solve(x.T @ x + penalty, x.T @ y + penalty @ centre)
    return ArticulationModel(weights=weights.astype(np.float32), info=info)


def predict(model: ArticulationModel, ch: np.ndarray) -> np.ndarray:
    """(n_hops, 2): opening (share of the wide opening) and width (relative, 0 at median)."""
    return np.asarray(design(ch.astype(np.float32)) @ model.weights, dtype=np.float32)


def _per_frame(values: np.ndarray, fps: float, n_frames: int, rest: float) -> np.ndarray:
    """Average hop values over each frame's interval [k / fps, (k + 1) / fps)."""
    edges = np.arange(n_frames + 1, dtype=np.float64) / (fps * HOP)
    extra = max(0, math.ceil(edges[-1]) - values.size + 1)
    padded = np.concatenate([values.astype(np.float64), np.full(extra, rest)])
    integral = np.concatenate([[0.0], np.cumsum(padded)])
    at_edges = np.interp(edges, np.arange(integral.size), integral)
    return np.asarray(np.diff(at_edges) / np.diff(edges), dtype=np.float32)


# How predicted shapes become the engine's controls (rendering.engines.classic): its
# width control moves the half-width by WIDTH_GAIN per unit and rounding narrows it by
# ROUNDING_GAIN, so a relative width w is width 0.5 + (w + ROUNDING_GAIN * r) / WIDTH_GAIN.
_WIDTH_GAIN = 0.16
_ROUNDING_GAIN = 0.20
_ROUND_SHOWN = 0.8  # share of a phone's rounding shown as pushed-forward lips


def mouth_shapes(
    features: AudioFeatures,
    fps: float,
    n_frames: int,
    *,
    model: ArticulationModel | None = None,
    language: str | None = None,
    cache: Cache | None = None,
) -> MouthControls | None:
    """The engine's controls from the sounds, or None without words or a model (``cache``:
    where the words' phones are kept).

    1. Channels per hop and the model's opening and width.
    2. The phones' textbook opening (times 1.5) caps the model's: shut on a closure, narrow
       on close vowels and between words; long silence rests the mouth shut. (Forcing a
       full closure wherever the words put an m cost agreement with real speakers in
       bench/articulation.py: the cap, softer, gained both opening and closure scores.)
    3. Rounding from the phones' rounding; width from the predicted relative width with the
       rounding's own narrowing taken out (the engine adds it back).
    4. Average per video frame.
    """
    model = model if model is not None else load_model()
    if model is None:
        return None
    ch = channels(features, language=language, cache=cache)
    if ch is None:
        return None
    out = predict(model, ch)
    opening = np.clip(out[:, 0], 0.0, 1.2) / 1.2
    # The phones' textbook opening caps the model's: the lips cannot be wider than the
    # sound allows (shut on m b p, narrow on i u), while the model says how much and when.
    allowed = _PHONE_CAP * ch[:, CHANNELS.index("open")] * (1.0 - ch[:, CHANNELS.index("closed")])
    opening = np.minimum(opening, allowed)
    speaking = ch[:, CHANNELS.index("speech")] > 0.5
    quiet = ~_near(speaking, _QUIET_HOPS // 2)
    opening[quiet] = 0.0
    # A ridge model's output is shrunk towards the mean: its widest moments fall short of
    # a real speaker's. Stretch (never shrink) so the clip's widest 5 % open as wide as
    # the person's usual wide opening; a library mouth is then chosen for them, not the
    # template's own half-open one.
    if speaking.any():
        top = float(np.percentile(opening[speaking], 95))
        if top > 0.05:
            opening = np.clip(opening * min(max(_WIDE / top, 1.0), _MAX_STRETCH), 0.0, 1.0)
    # Rounded lips are narrower and pushed forward: show the phones' rounding, and set the
    # width control so that, with the engine's own narrowing for that rounding, the mouth
    # has the predicted width; where the width control runs out, less rounding instead.
    relative = out[:, 1]
    rounding = np.clip(_ROUND_SHOWN * ch[:, CHANNELS.index("round")], 0.0, 1.0)
    width = np.clip(0.5 + (relative + _ROUNDING_GAIN * rounding) / _WIDTH_GAIN, 0.0, 1.0)
    rounding = np.clip((_WIDTH_GAIN * (width - 0.5) - relative) / _ROUNDING_GAIN, 0.0, 1.0)
    return MouthControls(
        fps=float(fps),
        openness=np.clip(_per_frame(opening, fps, n_frames, 0.0), 0.0, 1.0),
        width=np.clip(_per_frame(width, fps, n_frames, 0.5), 0.0, 1.0),
        rounding=np.clip(_per_frame(rounding, fps, n_frames, 0.0), 0.0, 1.0),
    )


def _near(mask: np.ndarray, reach: int) -> np.ndarray:
    """True within ``reach`` hops of a True hop."""
    if not mask.any():
        return np.zeros_like(mask, dtype=bool)
    padded = np.pad(mask.astype(bool), reach)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return np.asarray(windows.any(axis=1))


# --- one template's own mouth ----------------------------------------------------------------
ADAPT_RIDGE = 2000.0  # a few seconds of one voice: stay close to the generic weights
ADAPT_MIN_SECONDS = 3.0  # less speech than this teaches nothing reliable


def mouth_targets(gaps: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A speaker's measured gap and width per frame (NaN where unknown) as the model's
    targets: gap over its 95th percentile, width over its median minus 1."""
    g = np.asarray(gaps, dtype=np.float64)
    w = np.asarray(widths, dtype=np.float64)
    top = float(np.nanpercentile(g, 95)) if np.isfinite(g).any() else 1.0
    mid = float(np.nanmedian(w)) if np.isfinite(w).any() else 1.0
    return g / max(top, 1e-6), w / max(mid, 1e-6) - 1.0


def frames_to_hops(values: np.ndarray, fps: float, n_hops: int) -> np.ndarray:
    """Per-frame values repeated onto the 10 ms hops each frame covers (NaN past the end)."""
    index = np.floor((np.arange(n_hops) + 0.5) * HOP * fps).astype(int)
    out = np.full(n_hops, np.nan)
    ok = index < len(values)
    out[ok] = np.asarray(values, dtype=np.float64)[index[ok]]
    return out


def adapt(
    model: ArticulationModel,
    features: AudioFeatures,
    gaps: np.ndarray,
    widths: np.ndarray,
    fps: float,
    *,
    language: str | None = None,
) -> ArticulationModel | None:
    """The model refitted on a template's own voice and mouth (per-frame gap and width
    measured on its frames), pulled towards the generic weights; None when the template
    has no words or too little speech to learn from."""
    ch = channels(features, language=language)
    if ch is None or float((ch[:, CHANNELS.index("speech")] > 0.5).sum()) * HOP < ADAPT_MIN_SECONDS:
        return None
    opening, width = mouth_targets(gaps, widths)
    n = ch.shape[0]
    examples = [(ch, frames_to_hops(opening, fps, n), frames_to_hops(width, fps, n))]
    return fit(examples, ridge=ADAPT_RIDGE, prior=model, info=f"adapted: {model.info}")


def adapted_model(
    cache: Cache | None,
    key: str,
    model: ArticulationModel,
    make: object,
) -> ArticulationModel | None:
    """``make()`` (an :func:`adapt` call) once per template ``key``, cached as its weights;
    a template that teaches nothing is remembered as such too."""
    tag = hashlib.sha256(model.weights.tobytes()).hexdigest()[:12]
    full = f"{key}-{tag}"
    if cache is not None:
        data = cache.load("articulation", full, MODEL_VERSION)
        if data is not None:
            if data == b"none":
                return None
            try:
                return ArticulationModel.from_bytes(data)
            except ValueError:
                cache.discard("articulation", full, MODEL_VERSION)
    assert callable(make)
    adapted = make()
    if cache is not None:
        cache.store(
            "articulation", full, MODEL_VERSION, b"none" if adapted is None else adapted.to_bytes()
        )
    return adapted
