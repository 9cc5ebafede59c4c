"""``python -m rendering --subtitles --script FILE --captions``: subtitles beside the videos,
the script's words in them, and captions burned into every output (real Whisper base)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import srt as srt_parser

from tests.rendering.plain_av import FACE, decode, has_audio
from tests.support.speech import words_with_gaps, write_wav

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rendering", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _white(frame: np.ndarray, rows: slice) -> int:
    return int(np.all(frame[rows] > 235, axis=2).sum())


def test_it_writes_subtitles_with_the_script_words_and_burns_captions(tmp_path: Path) -> None:
    samples, starts, _ = words_with_gaps(["charge", "your", "battery"], gaps=0.2, lead=0.3)
    speech = write_wav(tmp_path / "speech.wav", samples)
    script = tmp_path / "script.txt"
    script.write_text("Charge your phone.", encoding="utf-8")
    out = tmp_path / "out"

    done = _run(
        "--audio",
        speech,
        "--out",
        out,
        "--cache-dir",
        tmp_path / "cache",
        "--subtitles",
        "--script",
        script,
        "--language",
        "en",
        "--captions",
        "bottom",
        FACE,
        FACE,
    )

    assert done.returncode == 0, done.stderr
    assert "transcript (en, chosen): Charge your battery." in done.stdout
    cues = list(srt_parser.parse((out / "subtitles.srt").read_text(encoding="utf-8")))
    assert [c.content for c in cues] == ["Charge your phone."]
    assert abs(cues[0].start.total_seconds() - starts[0]) < 0.1
    assert (out / "subtitles.vtt").read_text(encoding="utf-8").startswith("WEBVTT\n")

    template = decode(FACE)
    for name in ("output_001.mp4", "output_002.mp4"):
        frames = decode(out / name)
        assert has_audio(out / name)
        assert len(frames) == round(len(samples) / 16000 * 25)
        k = round((starts[1] + 0.1) * 25)  # inside the cue
        band = slice(180, 256)  # the bottom band of a 256x256 frame, with margin
        assert _white(frames[k], band) > _white(template[k], band) + 100
        assert _white(frames[2], band) <= _white(template[2], band) + 20  # before the cue


def test_subtitles_without_a_model_exit_two_with_a_sentence(tmp_path: Path) -> None:
    speech = write_wav(tmp_path / "speech.wav", np.zeros(8000, np.float32))

    done = _run(
        "--audio",
        speech,
        "--out",
        tmp_path / "out",
        "--subtitles",
        "--whisper-model-dir",
        tmp_path / "no-model",
        FACE,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("error: Transcripts are off: no Whisper model was found")
    assert not (tmp_path / "out" / "output_001.mp4").exists()
