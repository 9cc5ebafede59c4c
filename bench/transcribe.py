"""Whisper transcription speed and word-timing accuracy (faster-whisper, int8, 2 threads).

For English and Mandarin (forced ``zh``: espeak-ng's Mandarin is poor enough that Whisper
may call it another language), espeak-ng speaks each word alone; the words are trimmed and
joined with known gaps (0.15-0.6 s, seeded), so every word's true start is known. Then:

- compute seconds per second of audio (best of REPEATS; model loading reported apart),
  for greedy decoding (the product's setting) and a beam of 5. Target: <= 0.3.
- word-start error: recognised units matched to the true words by text (difflib), the
  absolute difference of start times; median and 90th percentile. Target median <= 0.15 s.
  The "untightened" row shows Whisper's own word times, before ``tighten_to_speech``.
- the same after joining the words with no gaps at all (connected speech, times from
  espeak's own word lengths are then unknown, so only speed is reported for it).

Run: ``.venv/bin/python bench/transcribe.py`` (needs espeak-ng and the assembled model).
"""

from __future__ import annotations

import difflib
import os
import statistics
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path)
import numpy as np

REPEATS = 2

ENGLISH = [
    "today",
    "we",
    "will",
    "show",
    "you",
    "how",
    "the",
    "new",
    "camera",
    "works",
    "in",
    "bright",
    "light",
    "and",
    "at",
    "night",
    "please",
    "remember",
    "to",
    "charge",
    "the",
    "battery",
    "before",
    "you",
    "leave",
    "home",
]
MANDARIN = [
    "大家",
    "好",
    "今天",
    "我们",
    "介绍",
    "一款",
    "新的",
    "相机",
    "它",
    "拍照",
    "非常",
    "清楚",
    "价格",
    "也",
    "很",
    "便宜",
    "欢迎",
    "大家",
    "购买",
]


def _model_dir() -> Path:
    from rendering.transcription import DEFAULT_MODEL_DIR

    return Path(os.environ.get("WHISPER_MODEL_DIR") or DEFAULT_MODEL_DIR)


def _errors(truth: list[str], starts: list[float], words: list) -> list[float]:  # type: ignore[type-arg]
    """|recognised start - true start| for every true word matched by its text."""
    from rendering.subtitles import _normal, split_units, timed_units

    units = timed_units(words)
    # Compare unit by unit (a Chinese word is several units): the true start of a word is
    # that of its first unit.
    true_units: list[tuple[str, float | None]] = []
    for word, start in zip(truth, starts, strict=True):
        for k, unit in enumerate(split_units(word)):
            true_units.append((_normal(unit), start if k == 0 else None))
    a = [u for u, _ in true_units]
    b = [_normal(w.text) for w in units]
    errors = []
    for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            start = true_units[block.a + k][1]
            if start is not None:
                errors.append(abs(units[block.b + k].start - start))
    return errors


def main() -> None:
    from rendering import transcription
    from rendering.transcription import Transcriber, join_words, tighten_to_speech

    def _as_is(words: list, samples: object) -> list:  # type: ignore[type-arg]
        return words

    from tests.support.speech import espeak, words_with_gaps

    model_dir = _model_dir()
    rng = np.random.default_rng(7)
    print(f"model: {model_dir}  (int8, 2 CPU threads)")
    rows = []
    for label, words, voice, language in (
        ("English", ENGLISH, "en-us", "en"),
        ("Mandarin", MANDARIN, "cmn-latn-pinyin", "zh"),
    ):
        gaps = list(rng.uniform(0.15, 0.6, len(words)))
        gapped, starts, _ = words_with_gaps(words, voice=voice, gaps=gaps)
        connected = np.concatenate(
            [np.zeros(8000, np.float32), espeak(join_words(words), voice=voice)]
        )
        for style, samples, beam in (
            ("words + gaps", gapped, 1),
            ("words + gaps, untightened", gapped, 1),
            ("words + gaps", gapped, 5),
            ("connected", connected, 1),
        ):
            # "untightened": Whisper's own word times, before tighten_to_speech.
            transcription.tighten_to_speech = (
                _as_is if style.endswith("untightened") else tighten_to_speech
            )
            duration = samples.size / 16000
            transcriber = Transcriber(model_dir, cpu_threads=2, beam_size=beam)
            started = time.perf_counter()
            transcriber._load()
            load_s = time.perf_counter() - started
            best = float("inf")
            transcript = None
            for _ in range(REPEATS):
                transcript = transcriber.transcribe_samples(samples, language=language)
                best = min(best, transcript.seconds)
            assert transcript is not None
            errors = _errors(words, starts, transcript.words) if style != "connected" else []
            transcription.tighten_to_speech = tighten_to_speech
            median = statistics.median(errors) if errors else float("nan")
            p90 = float(np.percentile(errors, 90)) if errors else float("nan")
            rows.append(
                (
                    label,
                    style,
                    f"{beam}",
                    f"{duration:.1f}",
                    f"{load_s:.2f}",
                    f"{best:.2f}",
                    f"{best / duration:.3f}",
                    f"{len(errors)}/{len(words)}" if errors else "-",
                    f"{median:.3f}" if errors else "-",
                    f"{p90:.3f}" if errors else "-",
                )
            )
            print(f"  {label}, {style}, beam {beam}: {transcript.text}")
    header = (
        "speech",
        "made as",
        "beam",
        "audio s",
        "load s",
        "compute s",
        "s per audio s",
        "words matched",
        "start err median s",
        "p90 s",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print("\ntargets: <= 0.3 s of compute per audio second; median word-start error <= 0.15 s")
    captions()


def captions() -> None:
    """The burned-in caption pass (decode, paint, encode) against a plain transcode at the
    same crf: time, and PSNR against the source (outside the caption band for the pass)."""
    import tempfile

    from _common import FACE, SPEECH, full_hd, make_variant, upscale

    from rendering import media
    from rendering.captions import CaptionPainter, burn_captions
    from rendering.subtitles import Cue

    cues = [Cue(0.0, 1.5, ("大家好，欢迎收看今天的节目",)), Cue(1.5, 3.0, ("Welcome to the show",))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label, template in (
            ("256x256", FACE),
            ("512x512", make_variant(FACE, tmp / "t512.mp4", upscale(512))),
            ("1920x1080", make_variant(FACE, tmp / "t1080.mp4", full_hd)),
        ):
            transcode_s = burn_s = float("inf")
            for _ in range(REPEATS):
                started = time.perf_counter()
                media.transcode(template, tmp / "plain.mp4", crf=18)
                transcode_s = min(transcode_s, time.perf_counter() - started)
                started = time.perf_counter()
                burn_captions(template, tmp / "captioned.mp4", cues, audio_path=SPEECH)
                burn_s = min(burn_s, time.perf_counter() - started)
            band = CaptionPainter(cues, *_size(template)).band
            rows.append(
                (
                    label,
                    f"{transcode_s:.2f}",
                    f"{burn_s:.2f}",
                    f"{burn_s / transcode_s:.2f}",
                    f"{_psnr_outside(template, tmp / 'plain.mp4', (0, 0)):.1f}",
                    f"{_psnr_outside(template, tmp / 'captioned.mp4', band):.1f}",
                )
            )
    print("\ncaption pass over a finished 3 s video (seconds, best of", REPEATS, ")")
    header = (
        "size",
        "transcode s",
        "burn captions s",
        "ratio",
        "PSNR transcode dB",
        "PSNR captioned, outside band dB",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def _size(video: Path) -> tuple[int, int]:
    from rendering import media

    info = media.probe_video(video)
    assert info.video is not None
    return info.video.width, info.video.height


def _psnr_outside(source: Path, encoded: Path, band: tuple[int, int]) -> float:
    """Mean PSNR of ``encoded`` against ``source`` over the rows outside ``band``: what one
    more H.264 generation costs the picture the captions do not touch."""
    from rendering import media

    values = []
    for a, b in zip(media.iter_frames(source), media.iter_frames(encoded), strict=False):
        keep = np.ones(a.shape[0], bool)
        keep[band[0] : band[1]] = False
        diff = a[keep].astype(np.float64) - b[keep].astype(np.float64)
        mse = float(np.mean(diff**2))
        values.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return float(np.mean(values))


if __name__ == "__main__":
    main()
