"""Speech made with espeak-ng for the transcription tests and bench/transcribe.py.

:func:`words_with_gaps` synthesises each word alone, trims its silence, and joins the words
with known gaps, so every word's true start time is known to the sample. Plain ``wave``
and numpy here (not ``rendering.media``): inputs must not share the code under test's bugs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

RATE = 16000


def espeak(text: str, *, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """espeak-ng's speech for ``text`` as float32 samples at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        # A transcript test that skips without its speech proves nothing; CI installs it.
        raise RuntimeError(
            "espeak-ng is not installed: the transcript tests make their speech with it. "
            "Install it (Debian/Ubuntu: apt-get install espeak-ng sox) and run them again."
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(out)) as wav:
            rate = wav.getframerate()
            data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    samples = data.astype(np.float32) / 32768.0
    if rate != RATE:
        t_out = np.arange(round(samples.size * RATE / rate)) / RATE
        samples = np.interp(t_out, np.arange(samples.size) / rate, samples).astype(np.float32)
    return samples


def trim(samples: np.ndarray, *, threshold_db: float = -40.0) -> np.ndarray:
    """Cut the silence before and after the sound (10 ms frames under the threshold,
    relative to the loudest frame)."""
    hop = RATE // 100
    n = samples.size // hop
    if n == 0:
        return samples
    frames = samples[: n * hop].reshape(n, hop)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    loud = np.flatnonzero(level > level.max() + threshold_db)
    return samples[loud[0] * hop : (loud[-1] + 1) * hop]


def words_with_gaps(
    words: Sequence[str],
    *,
    voice: str = "en-us",
    gaps: Sequence[float] | float = 0.3,
    lead: float = 0.5,
    tail: float = 0.5,
    speed: int = 150,
) -> tuple[np.ndarray, list[float], list[float]]:
    """Each word spoken alone, silence trimmed, joined with ``gaps`` seconds between them.

    Returns the samples (16 kHz) and each word's true start and end in seconds.
    """
    gap_list = [gaps] * len(words) if isinstance(gaps, float | int) else list(gaps)
    pieces = [np.zeros(round(lead * RATE), np.float32)]
    starts: list[float] = []
    ends: list[float] = []
    position = pieces[0].size
    for n, word in enumerate(words):
        sound = trim(espeak(word, voice=voice, speed=speed))
        starts.append(position / RATE)
        pieces.append(sound)
        position += sound.size
        ends.append(position / RATE)
        if n + 1 < len(words):
            gap = np.zeros(round(float(gap_list[n]) * RATE), np.float32)
            pieces.append(gap)
            position += gap.size
    pieces.append(np.zeros(round(tail * RATE), np.float32))
    return np.concatenate(pieces), starts, ends


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return path
