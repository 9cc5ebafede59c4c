from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rendering.engines import ENGINES
from tests.rendering.plain_av import (
    FACE,
    decode,
    has_audio,
    no_face_frames,
    speech_clip,
    write_video,
)

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rendering", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_renders_every_template_and_exits_zero(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.8)
    out = tmp_path / "outputs"

    done = _run("--audio", speech, "--out", out, "--cache-dir", tmp_path / "cache", FACE, FACE)

    assert done.returncode == 0, done.stderr
    for name in ("output_001.mp4", "output_002.mp4"):
        assert len(decode(out / name)) == 20
        assert has_audio(out / name)
    assert "2 of 2 rendered" in done.stdout
    assert "[2/2]" in done.stderr and "100%" in done.stderr


def test_it_exits_one_and_explains_when_a_template_fails(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.4)
    bad = write_video(tmp_path / "landscape.mp4", no_face_frames(6))

    done = _run("--audio", speech, "--out", tmp_path / "out", bad, FACE)

    assert done.returncode == 1
    assert "FAILED: We could not find a face" in done.stdout
    assert "1 of 2 rendered" in done.stdout
    assert (tmp_path / "out" / "output_002.mp4").exists()


def test_it_exits_two_for_unreadable_audio(tmp_path: Path) -> None:
    bad_audio = tmp_path / "speech.wav"
    bad_audio.write_bytes(b"not audio")

    done = _run("--audio", bad_audio, "--out", tmp_path / "out", FACE)

    assert done.returncode == 2
    assert done.stderr.startswith("error: ")


def test_quality_measures_every_result_as_the_worker_does(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.8)

    done = _run("--audio", speech, "--out", tmp_path / "out", "--quality", FACE)

    assert done.returncode == 0, done.stderr
    assert "1. sync " in done.stdout
    assert "face edited in " in done.stdout and "% of frames" in done.stdout


def test_each_engine_takes_only_its_own_flags() -> None:
    """The command line reads the engines' records (no engine named in its code): every
    engine-specific flag is offered, and each engine's class keeps those it takes."""
    flags = {"model_dir": None, "bbox_shift": 0, "words": True, "articulation": False}

    assert ENGINES["classic"].accepted(flags) == {"words": True, "articulation": False}
    assert ENGINES["neural"].accepted(flags) == {"model_dir": None, "bbox_shift": 0}
