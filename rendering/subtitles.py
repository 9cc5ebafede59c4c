"""Subtitles from timed words: the user's script aligned to what Whisper heard, cues a
viewer can read, and SRT / WebVTT text.

Units. Chinese (and Japanese, Korean) is written without spaces, and Whisper's "words" for
it are one or a few characters; Latin text is split at spaces. Both sides are cut into the
same *units* (one CJK character, or one space-separated word, with its punctuation attached)
so a script and a recognition can be compared unit by unit.

Alignment (:func:`align_script`). The script's units and the recognised ones are compared
after normalising (case, width, punctuation); matching runs take the recognised times,
and the script units between two matches share the time between them (by length). The
script's text is kept verbatim: a word Whisper misheard keeps the script's spelling.

Cues (:func:`build_cues`). A cue ends at a sentence end, at a pause, or before it would be
too long to read: at most two lines of 16 characters (Chinese; Netflix's zh-Hans rule) or
42 (Latin), at most 7 s, and it stays up at least 0.8 s, longer when its reading speed
would pass 9 characters a second (Chinese) or 17 (Latin) and the next cue leaves room.

Chinese breaks. A Chinese line or cue breaks at punctuation where it can, otherwise only
where a word begins (jieba's segmentation, whose dictionary ships in its package), never
inside a word and never before a lone particle (的, 了, 吗 ...). ASCII commas and stops
between Chinese characters are shown full-width (，。), as Chinese is written.
"""

from __future__ import annotations

import difflib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rendering.transcription import is_cjk, join_words
from rendering.words import Word

__all__ = [
    "Cue",
    "SubtitleRules",
    "align_script",
    "build_cues",
    "full_width",
    "split_units",
    "srt",
    "subtitle_words",
    "vtt",
    "word_starts",
    "write_subtitles",
]

_SENTENCE_END = set("。！？!?…") | {"."}
_CLAUSE_END = set("，、；：,;:—")
_OPENING = set("“‘「『（《〈([{\"'")
# Chinese subtitles drop these at the end of a line (a space or the line end says enough).
_CJK_TRAILING = "，。、；：,;"
# A line never starts with one of these standing alone: they lean on the word before.
_PARTICLES = set("的地得了着过吗呢吧啊呀嘛么哦")
# ASCII punctuation after a Chinese character, as Chinese writes it.
_FULL_WIDTH = str.maketrans({",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；"})


@dataclass(frozen=True)
class SubtitleRules:
    """How much text a cue may hold and how long it stays up."""

    cjk_line: int = 16
    latin_line: int = 42
    max_lines: int = 2
    max_duration: float = 7.0
    min_duration: float = 0.8
    cjk_cps: float = 9.0
    latin_cps: float = 17.0
    pause: float = 0.6  # a silence this long between words ends a cue


DEFAULT_RULES = SubtitleRules()


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# --- units -----------------------------------------------------------------------------------


def _is_punct(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS" and char not in "#$%&+@"


def split_units(text: str) -> list[str]:
    """Cut text into units: each CJK character, each space-separated run of other text.

    Punctuation sticks to the unit before it (an opening mark to the unit after it), so no
    unit is punctuation alone unless the text is.
    """
    units: list[str] = []
    pending = ""  # opening punctuation waiting for its unit
    current = ""
    for char in text:
        if char.isspace():
            if current:
                units.append(current)
                current = ""
            continue
        if is_cjk(char) and not _is_punct(char):
            if current:
                units.append(current)
            units.append(pending + char)
            pending, current = "", ""
            continue
        if _is_punct(char):
            if char in _OPENING and not current:
                pending += char
            elif current:
                current += char
            elif units:
                units[-1] += char
            else:
                pending += char
            continue
        current = pending + current + char if not current else current + char
        pending = ""
    if current:
        units.append(current)
    if pending:
        if units:
            units[-1] += pending
        else:
            units.append(pending)
    return units


def _normal(unit: str) -> str:
    """What two units are compared by: width, case and punctuation folded away."""
    folded = unicodedata.normalize("NFKC", unit).casefold()
    return "".join(c for c in folded if not _is_punct(c) and not c.isspace())


def timed_units(words: Sequence[Word]) -> list[Word]:
    """Recognised words cut into units; a word of several units shares its time by length."""
    out: list[Word] = []
    for word in words:
        units = split_units(word.text)
        if len(units) <= 1:
            out.append(word)
            continue
        lengths = [max(1, len(_normal(u))) for u in units]
        total = sum(lengths)
        t = word.start
        for unit, length in zip(units, lengths, strict=True):
            step = (word.end - word.start) * length / total
            out.append(Word(unit, t, t + step, word.probability))
            t += step
    return out


# --- alignment -------------------------------------------------------------------------------


def align_script(script: str, words: Sequence[Word]) -> list[Word]:
    """The script's units, verbatim, timed to the recognised ``words``.

    1. Cut both into units and normalise them for comparison.
    2. Match them with difflib's longest-matching-runs (no junk heuristic): matched script
       units take their recognised unit's times (probability 1).
    3. Every unmatched stretch of script units (a misheard, added or reworded passage)
       shares the time of the recognised units it replaces, or the silence between its
       neighbours, in proportion to length (probability 0: a guess).
    Recognised units the script does not have are dropped. Without any recognised word the
    script is spread evenly over nothing: every unit gets time 0 (callers check ``words``).
    """
    script_units = split_units(script)
    heard = timed_units(words)
    if not script_units:
        return []
    if not heard:
        return [Word(u, 0.0, 0.0, 0.0) for u in script_units]
    a = [_normal(u) for u in script_units]
    b = [_normal(w.text) for w in heard]
    timed: list[Word | None] = [None] * len(script_units)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    gaps: list[tuple[int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                w = heard[j1 + k]
                timed[i1 + k] = Word(script_units[i1 + k], w.start, w.end, 1.0)
        elif tag in ("replace", "delete"):
            gaps.append((i1, i2, j1, j2))
    for i1, i2, j1, j2 in gaps:
        if j2 > j1:
            start, end = heard[j1].start, heard[j2 - 1].end
        else:
            # Nothing was heard for these script units: they fill the silence between the
            # units before and after them.
            start = heard[j1 - 1].end if j1 > 0 else heard[0].start
            end = heard[j1].start if j1 < len(heard) else heard[-1].end
            if end < start:
                start, end = end, start
        lengths = [max(1, len(a[i])) for i in range(i1, i2)]
        total = sum(lengths)
        t = start
        for offset, length in enumerate(lengths):
            step = (end - start) * length / total
            timed[i1 + offset] = Word(script_units[i1 + offset], t, t + step, 0.0)
            t += step
    return [w for w in timed if w is not None]


def subtitle_words(words: Sequence[Word], script: str | None = None) -> list[Word]:
    """What subtitles show: the script aligned to ``words`` when there is one, else the
    recognised words cut into units. Nothing when nothing was heard: a script cannot be
    timed to silence."""
    if not words:
        return []
    if script is not None and script.strip():
        return align_script(script, words)
    return timed_units(words)


# --- where Chinese may break -----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _segment(text: str) -> tuple[str, ...]:
    """Chinese ``text`` cut into words (jieba); one character per word if jieba is missing."""
    try:
        # jieba: only Chinese lines need it, and the web process imports this module.
        import jieba
    except ImportError:  # pragma: no cover - a dependency; the old behaviour as a fallback
        return tuple(text)
    jieba.setLogLevel(logging.WARNING)
    return tuple(jieba.lcut(text, HMM=True))


def _core(unit: str) -> str:
    return "".join(c for c in unit if not _is_punct(c) and not c.isspace())


def _cjk_unit(unit: str) -> bool:
    core = _core(unit)
    return bool(core) and all(is_cjk(c) for c in core)


def word_starts(units: Sequence[str]) -> list[bool]:
    """``starts[k]``: a line or a cue may begin at unit ``k``.

    Latin units are whole words already, and a unit after punctuation always may. Inside a
    run of Chinese characters (cut at punctuation), only where a jieba word begins, and not
    at a particle that is a word by itself (it leans on the word before it).
    """
    starts = [True] * len(units)
    k = 0
    while k < len(units):
        if not _cjk_unit(units[k]):
            k += 1
            continue
        run_end = k
        while run_end < len(units) and _cjk_unit(units[run_end]):
            run_end += 1
            if _is_punct(units[run_end - 1][-1]):
                break  # punctuation ends the run: jieba must not join across it
        cores = [_core(u) for u in units[k:run_end]]
        offsets: dict[int, str] = {}
        position = 0
        for word in _segment("".join(cores)):
            offsets[position] = word
            position += len(word)
        position = 0
        for i, core in enumerate(cores):
            if i > 0:
                begun = offsets.get(position)
                starts[k + i] = begun is not None and not (len(begun) == 1 and begun in _PARTICLES)
            position += len(core)
        k = run_end
    return starts


# --- cues ------------------------------------------------------------------------------------


def _cjk_share(units: Sequence[str]) -> bool:
    text = "".join(units)
    letters = [c for c in text if c.isalnum()]
    return bool(letters) and sum(is_cjk(c) for c in letters) * 2 >= len(letters)


def _line_limit(units: Sequence[str], rules: SubtitleRules) -> int:
    return rules.cjk_line if _cjk_share(units) else rules.latin_line


def full_width(text: str) -> str:
    """ASCII , . ? ! : ; after a Chinese character written full-width (，。？！：；)."""
    out = []
    for i, char in enumerate(text):
        if i and char in ",.?!:;" and is_cjk(text[i - 1]):
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if not nxt.isdigit():
                char = char.translate(_FULL_WIDTH)
        out.append(char)
    return "".join(out)


def _display(units: Sequence[str]) -> str:
    return full_width(join_words(list(units)))


def _split_lines(units: Sequence[str], rules: SubtitleRules) -> tuple[str, ...]:
    """One line, or two balanced ones broken between units (after punctuation if possible)."""
    cjk = _cjk_share(units)
    limit = _line_limit(units, rules)
    whole = _display(units)
    if len(whole) <= limit or len(units) < 2:
        lines: tuple[str, ...] = (whole,)
    else:
        best: tuple[float, int] | None = None
        starts = word_starts(units)
        cuts = [cut for cut in range(1, len(units)) if starts[cut]] or list(range(1, len(units)))
        for cut in cuts:
            top, bottom = _display(units[:cut]), _display(units[cut:])
            over = max(0, len(top) - limit) + max(0, len(bottom) - limit)
            score = over * 10.0 + abs(len(top) - len(bottom))
            if units[cut - 1][-1] in _CLAUSE_END | _SENTENCE_END:
                score -= limit / 2  # a line that ends a clause reads better
            if best is None or score < best[0]:
                best = (score, cut)
        assert best is not None
        lines = (_display(units[: best[1]]), _display(units[best[1] :]))
    if cjk:
        lines = tuple(line.rstrip(_CJK_TRAILING) or line for line in lines)
    return lines


def build_cues(words: Sequence[Word], rules: SubtitleRules = DEFAULT_RULES) -> list[Cue]:
    """Group timed units into cues.

    1. Walk the units; close the current cue after a sentence end, before a pause longer
       than ``rules.pause``, or before a unit that would pass the cue's length or duration.
       When a unit does not fit, the cue is cut after its last clause mark if that keeps
       at least half of it, so cues end at commas rather than mid-phrase; otherwise before
       the word that unit belongs to (Chinese: ``word_starts``), never inside it.
    2. Break each cue into at most two lines.
    3. Times: each cue runs from its first unit's start to its last unit's end, stretched
       to the minimum duration and reading speed where the next cue leaves room; cues
       never overlap.
    """
    units = [w for w in words if w.text.strip()]
    starts = word_starts([w.text for w in units])
    begins = {id(w): starts[i] for i, w in enumerate(units)}
    groups: list[list[Word]] = []
    current: list[Word] = []

    def fits(candidate: list[Word]) -> bool:
        texts = [w.text for w in candidate]
        limit = _line_limit(texts, rules)
        if len(_display(texts)) > limit * rules.max_lines:
            return False
        if any(len(line) > limit for line in _split_lines(texts, rules)):
            return False
        return candidate[-1].end - candidate[0].start <= rules.max_duration

    for word in units:
        if current and word.start - current[-1].end > rules.pause:
            groups.append(current)
            current = []
        if current and not fits([*current, word]):
            cut = None
            for k in range(len(current) - 1, 0, -1):
                if current[k - 1].text[-1] in _CLAUSE_END and k * 2 >= len(current):
                    cut = k
                    break
            if cut is None and not begins[id(word)]:
                # The unit continues a word: the whole word goes to the next cue.
                for k in range(len(current) - 1, 0, -1):
                    if begins[id(current[k])]:
                        cut = k
                        break
            if cut is None:
                groups.append(current)
                current = []
            else:
                groups.append(current[:cut])
                current = current[cut:]
        current.append(word)
        if word.text[-1] in _SENTENCE_END:
            groups.append(current)
            current = []
    if current:
        groups.append(current)

    cues: list[Cue] = []
    for n, group in enumerate(groups):
        texts = [w.text for w in group]
        lines = _split_lines(texts, rules)
        start = group[0].start
        end = max(group[-1].end, start)
        chars = sum(len(line) for line in lines)
        cps = rules.cjk_cps if _cjk_share(texts) else rules.latin_cps
        wanted = max(rules.min_duration, chars / cps)
        limit = groups[n + 1][0].start if n + 1 < len(groups) else start + max(wanted, end - start)
        if end - start < wanted:
            end = min(start + wanted, max(limit, end))
        if cues and start < cues[-1].end:
            previous = cues[-1]
            cues[-1] = Cue(previous.start, max(previous.start, start), previous.lines)
        cues.append(Cue(start, max(end, start + 0.001), lines))
    return [c for c in cues if c.end > c.start]


# --- writers ---------------------------------------------------------------------------------


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _clean(line: str) -> str:
    # A blank line ends a cue in both formats, and "-->" would read as a timing line.
    return line.replace("-->", "→").strip()


def srt(cues: Sequence[Cue]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line between."""
    blocks = []
    for n, cue in enumerate(cues, start=1):
        lines = [_clean(line) for line in cue.lines if _clean(line)]
        blocks.append(
            f"{n}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n"
            + "\n".join(lines)
            + "\n"
        )
    return "\n".join(blocks)


def vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text: the ``WEBVTT`` header, cues with ``.`` before the milliseconds, and
    ``&``, ``<``, ``>`` escaped (the cue text syntax gives them meaning)."""
    out = ["WEBVTT", ""]
    for n, cue in enumerate(cues, start=1):
        lines = [_clean(line) for line in cue.lines if _clean(line)]
        escaped = [
            line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for line in lines
        ]
        out += [
            str(n),
            f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}",
            *escaped,
            "",
        ]
    return "\n".join(out)


def write_subtitles(
    out_dir: str | Path, cues: Sequence[Cue], *, stem: str = "subtitles"
) -> tuple[Path, Path]:
    """Write ``<stem>.srt`` and ``<stem>.vtt`` (UTF-8) into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    srt_path, vtt_path = out / f"{stem}.srt", out / f"{stem}.vtt"
    srt_path.write_text(srt(cues), encoding="utf-8")
    vtt_path.write_text(vtt(cues), encoding="utf-8")
    return srt_path, vtt_path
