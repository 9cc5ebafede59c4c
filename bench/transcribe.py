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
- before/after (issue 13's speed work): the settings before it (a looping window sent the
  whole audio through a second decode) against the product's (only that window is decoded
  again, every window forbids repeated 16-token runs), interleaved in one run on the
  gapped words, connected words, seven sentences (30-38 s), the sentences repeated to 60 s,
  and a phrase said three times (does a real repetition survive?).

- instruction sets (issue 27, ``--isa``): the same clips transcribed in a fresh process per
  instruction set (``WHISPER_CPU_ISA``: GENERIC, AVX, AVX2, AVX512, native) and compute type
  (int8, float32): seconds per audio second, and whether each clip's words and times are
  those of the product's setting (AVX2, int8).

Run: ``.venv/bin/python bench/transcribe.py`` (needs espeak-ng and the assembled model);
``--compare`` runs only the before/after table, ``--isa`` only the instruction sets.
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
# Several sentences of each language (the before/after rows); repeated to make ~60 s.
ENGLISH_SENTENCES = [
    "Today we will show you how the new camera works in bright light and at night.",
    "Please remember to charge the battery before you leave home.",
    "The lens is small, but the pictures are sharp and the colours are true.",
    "You can share every photo with your family in one tap.",
    "Order before Friday and the delivery is free.",
    "Our team answers every question within one working day.",
    "Thank you for watching, and see you next time.",
]
MANDARIN_SENTENCES = [
    "大家好，今天我们介绍一款新的相机。",
    "它拍照非常清楚，价格也很便宜。",
    "这款相机很小，但是照片非常好看。",
    "你可以把每一张照片分享给家人。",
    "星期五以前购买，我们免费送货。",
    "我们的团队会在一天以内回答你的问题。",
    "谢谢大家收看，我们下次再见。",
]
REPEATED = {"en": "Buy one, get one free. " * 3, "zh": "买一送一，" * 3}
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
    import sys

    if sys.argv[1:2] == ["--isa-child"]:
        isa_child(sys.argv[2], sys.argv[3])
        return
    if "--isa" in sys.argv[1:]:
        # --isa AVX2:int8,native:int8 measures only those settings.
        after = sys.argv[sys.argv.index("--isa") + 1 :]
        chosen = [tuple(s.split(":")) for s in after[0].split(",")] if after else ISA_SETTINGS
        isas(chosen)  # type: ignore[arg-type]
        return
    compare()
    if "--compare" not in sys.argv[1:]:
        variants()
        captions()
        isas()


ISA_SETTINGS = [
    ("AVX2", "int8"),  # the product's
    ("AVX512", "int8"),
    ("native", "int8"),
    ("AVX", "int8"),
    ("GENERIC", "int8"),
    ("AVX2", "float32"),
    ("native", "float32"),
]


def _isa_clips() -> list[tuple[str, str, np.ndarray]]:
    from rendering.transcription import join_words
    from tests.support.speech import espeak, trim, words_with_gaps

    rng = np.random.default_rng(7)
    pause = np.zeros(8000, np.float32)
    clips = []
    for label, words, voice, language, slogan in (
        ("English", ENGLISH, "en-us", "en", "Buy one, get one free."),
        ("Mandarin", MANDARIN, "cmn-latn-pinyin", "zh", "买一送一"),
    ):
        gaps = list(rng.uniform(0.15, 0.6, len(words)))
        clips.append(
            (f"{label}, words + gaps", language, words_with_gaps(words, voice=voice, gaps=gaps)[0])
        )
        connected = espeak(join_words(words), voice=voice)
        clips.append((f"{label}, connected", language, np.concatenate([pause, connected])))
        once = trim(espeak(slogan, voice=voice))
        clips.append(
            (f"{label}, slogan x3", language, np.concatenate([pause, once, once, once, pause]))
        )
        apart = [p for _ in range(3) for p in (once, np.zeros(12800, np.float32))]
        clips.append((f"{label}, slogan x3, pauses", language, np.concatenate([pause, *apart])))
    return clips


def isa_child(isa: str, compute_type: str) -> None:
    """One setting, in its own process (the libraries read the instruction set once)."""
    import json

    from rendering.transcription import Transcriber

    transcriber = Transcriber(_model_dir(), compute_type=compute_type, cpu_isa=isa)
    out = []
    for label, language, samples in _isa_clips():
        best = float("inf")
        transcript = None
        for _ in range(REPEATS):
            transcript = transcriber.transcribe_samples(samples, language=language)
            best = min(best, transcript.seconds)
        assert transcript is not None
        out.append(
            {
                "clip": label,
                "audio_s": samples.size / 16000,
                "compute_s": best,
                "text": transcript.text,
                "times": [(w.start, w.end) for w in transcript.words],
            }
        )
    print("RESULT " + json.dumps(out, ensure_ascii=False))


def isas(settings: list[tuple[str, str]] = ISA_SETTINGS) -> None:
    """Each setting (instruction set, compute type) in a child process, against the first."""
    import json
    import subprocess
    import sys

    results = {}
    for isa, compute_type in settings:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA")
        }
        done = subprocess.run(
            [sys.executable, __file__, "--isa-child", isa, compute_type],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{isa} {compute_type}: failed\n{done.stderr[-2000:]}")
            continue
        results[isa, compute_type] = json.loads(line[len("RESULT ") :])
    reference = results.get(settings[0])
    print(
        f"\ninstruction sets, best of {REPEATS} (2 CPU threads), s per audio s; 'same': the"
        f" words and times of {' '.join(settings[0])}"
    )
    header = ["setting", *[c["clip"] for c in reference or []]]
    rows = []
    for (isa, compute_type), clips in results.items():
        row = [f"{isa} {compute_type}"]
        for k, clip in enumerate(clips):
            same = reference is not None and (
                clip["text"] == reference[k]["text"] and clip["times"] == reference[k]["times"]
            )
            row.append(f"{clip['compute_s'] / clip['audio_s']:.3f}{' same' if same else ''}")
        rows.append(row)
        for clip in clips:
            print(f"  {isa} {compute_type}, {clip['clip']}: {clip['text'][:120]}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def _before() -> type:
    """A Transcriber with the settings before issue 13's speed work: plain faster-whisper,
    and when any window looped, the whole audio decoded again with 5-token repeats
    forbidden."""
    from rendering.transcription import _LOOP_COMPRESSION, Transcriber

    class TwoPassTranscriber(Transcriber):
        def _model_class(self) -> object:
            from faster_whisper import WhisperModel

            return WhisperModel

        def _decode(self, model, x, language, *, no_repeat=0):  # type: ignore[no-untyped-def]
            segments, info = super()._decode(model, x, language, no_repeat=0)
            if any(s.compression_ratio > _LOOP_COMPRESSION for s in segments):
                segments, info = super()._decode(model, x, language, no_repeat=5)
            return segments, info

    return TwoPassTranscriber


def compare() -> None:
    """Before against after, interleaved (the order flips each repeat), best of REPEATS."""
    from rendering.transcription import Transcriber, join_words
    from tests.support.speech import espeak, words_with_gaps

    def pause(seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * 16000), np.float32)

    model_dir = _model_dir()
    settings = {"before": _before()(model_dir), "after": Transcriber(model_dir)}
    for transcriber in settings.values():
        transcriber._load()
    rng = np.random.default_rng(7)
    clips = []
    for label, words, sentences, voice, language in (
        ("English", ENGLISH, ENGLISH_SENTENCES, "en-us", "en"),
        ("Mandarin", MANDARIN, MANDARIN_SENTENCES, "cmn-latn-pinyin", "zh"),
    ):
        gaps = list(rng.uniform(0.15, 0.6, len(words)))
        gapped, starts, _ = words_with_gaps(words, voice=voice, gaps=gaps)
        connected = np.concatenate([pause(0.5), espeak(join_words(words), voice=voice)])
        said = np.concatenate(
            [pause(0.5)] + [p for s in sentences for p in (espeak(s, voice=voice), pause(0.4))]
        )
        long = np.concatenate([said] * int(np.ceil(60 * 16000 / said.size)))[: 62 * 16000]
        repeated = np.concatenate([pause(0.5), espeak(REPEATED[language], voice=voice)])
        clips += [
            (label, language, "words + gaps", gapped, (words, starts)),
            (label, language, "connected", connected, None),
            (label, language, "7 sentences", said, None),
            (label, language, "sentences, 62 s", long, None),
            (label, language, "a phrase x3", repeated, None),
        ]
    best: dict[tuple[int, str], float] = {}
    texts: dict[tuple[int, str], str] = {}
    errors: dict[tuple[int, str], list[float]] = {}
    for repeat in range(REPEATS):
        for n, (_, language, _, samples, truth) in enumerate(clips):
            names = list(settings) if repeat % 2 == 0 else list(settings)[::-1]
            for name in names:
                transcript = settings[name].transcribe_samples(samples, language=language)
                best[n, name] = min(best.get((n, name), float("inf")), transcript.seconds)
                texts[n, name] = transcript.text
                if truth is not None:
                    errors[n, name] = _errors(*truth, transcript.words)
    header = ["speech", "made as", "audio s", "s per audio s before", "after", "after/before"]
    header += ["start err median before", "after", "same text"]
    rows: list[list[str]] = []
    for n, (label, _, style, samples, truth) in enumerate(clips):
        duration = samples.size / 16000
        row = [label, style, f"{duration:.1f}"]
        row += [f"{best[n, name] / duration:.3f}" for name in settings]
        row += [f"{best[n, 'after'] / best[n, 'before']:.2f}"]
        if truth is not None:
            row += tuple(
                f"{statistics.median(errors[n, name]):.3f} ({len(errors[n, name])}/{len(truth[0])})"
                for name in settings
            )
        else:
            row += ["-", "-"]
        row += ["yes" if texts[n, "before"] == texts[n, "after"] else "no"]
        rows.append(row)
        for name in settings:
            print(f"  {label}, {style}, {name}: {texts[n, name][:160]}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nbefore/after, best of {REPEATS}, interleaved (int8, 2 CPU threads)")
    for row in [header, *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print("targets: <= 0.3 s of compute per audio second; median word-start error <= 0.15 s\n")


def variants() -> None:
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
