"""The result's sound is the upload's: its sample rate and channels, in sync with the picture."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from rendering import faces, media
from rendering.audio import analyse
from rendering.engines.classic import ClassicEngine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FACE = FIXTURES / "face.mp4"
SPEECH = FIXTURES / "speech.wav"


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """float samples (n,) or (n, channels) as 16-bit PCM."""
    data = np.clip(samples, -1, 1)
    data = data.reshape(len(data), -1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(data.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def upsampled_speech(rate: int) -> np.ndarray:
    speech = media.read_audio(SPEECH, sample_rate=16000)
    return np.interp(
        np.arange(round(len(speech) * rate / 16000)) * 16000 / rate, np.arange(len(speech)), speech
    )


def band_energy(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum())


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (44100, 1)])
def test_the_output_keeps_the_uploads_rate_and_channels(tmp_path, rate, channels) -> None:
    speech = upsampled_speech(rate).astype(np.float32)
    t = np.arange(len(speech)) / rate
    # A quiet 12 kHz whistle: a 16 kHz pipeline (8 kHz bandwidth) would remove it.
    left = 0.6 * speech + 0.05 * np.sin(2 * np.pi * 12000 * t)
    samples = np.stack([left, 0.5 * left], 1) if channels == 2 else left
    upload = write_wav(tmp_path / f"voice-{rate}.wav", samples, rate)

    features = analyse(upload, cache_dir=None)
    track = faces.track(FACE, cache_dir=tmp_path)
    out = ClassicEngine(cache_dir=tmp_path).render(
        template=FACE, track=track, audio=features, audio_path=upload, out_path=tmp_path / "o.mp4"
    )
    info = media.probe(out.path)
    assert info.audio is not None
    assert info.audio.sample_rate == rate
    assert info.audio.channels == channels
    assert info.audio.codec == "aac"

    heard, heard_rate = media.read_audio_as_uploaded(out.path)
    assert heard_rate == rate and heard.shape[1] == channels
    if channels == 2:  # the two channels stay apart: right is half of left
        ratio = np.std(heard[:, 1]) / np.std(heard[:, 0])
        assert 0.4 < ratio < 0.6
    assert band_energy(heard[:, 0], rate, 11500, 12500) > 0.2 * band_energy(
        left, rate, 11500, 12500
    )

    # In sync: the decoded sound lines up with the upload within a millisecond (the AAC
    # encoder's priming is skipped by the edit list, as before).
    n = min(len(heard), len(left), 3 * rate)
    a, b = heard[:n, 0], left[:n]
    lags = range(-rate // 100, rate // 100 + 1, 8)
    scores = [
        float(np.dot(a[max(0, k) : n + min(0, k)], b[max(0, -k) : n - max(0, k)])) for k in lags
    ]
    best = list(lags)[int(np.argmax(scores))]
    assert abs(best) <= rate // 1000
