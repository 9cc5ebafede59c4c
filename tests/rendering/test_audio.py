from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from whisper.model import ModelDimensions, Whisper

from rendering import audio, media
from rendering.audio import AudioFeatures, Word
from rendering.errors import MediaError

RATE = 16000


def vowel(seconds: float, formants: list[tuple[float, float]], f0: float = 120.0) -> np.ndarray:
    """A sung vowel: harmonics of f0 shaped by formant peaks (Hz, relative amplitude)."""
    t = np.arange(round(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for k in range(1, int(7000 / f0)):
        f = k * f0
        gain = sum(a * np.exp(-0.5 * ((f - fc) / 90.0) ** 2) for fc, a in formants) + 0.01
        out += gain * np.sin(2 * np.pi * f * t + k)  # fixed phases: deterministic
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


VOWEL_I = [(270.0, 1.0), (2290.0, 0.6), (3010.0, 0.5)]
VOWEL_U = [(300.0, 1.0), (870.0, 0.7), (2240.0, 0.03)]
VOWEL_A = [(730.0, 1.0), (1090.0, 0.8), (2440.0, 0.2)]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def frames_between(controls: np.ndarray, fps: float, start: float, stop: float) -> np.ndarray:
    return controls[int(np.ceil(start * fps)) : int(stop * fps)]


@pytest.fixture
def speech_features(speech_wav: Path) -> AudioFeatures:
    return audio.analyse(speech_wav, cache_dir=None)


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Whisper checkpoint in the format whisper.load_model reads."""
    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims)
    path = tmp_path_factory.mktemp("whisper") / "tiny.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


# --- features ------------------------------------------------------------------------------


def test_it_analyses_speech(speech_wav: Path, speech_features: AudioFeatures) -> None:
    f = speech_features

    assert f.sample_rate == 16000
    assert f.duration == pytest.approx(76782 / 16000)
    assert f.content_hash == hashlib.sha256(speech_wav.read_bytes()).hexdigest()
    assert f.mel.shape == (80, 479) and f.mel.dtype == np.float32
    assert f.energy.shape == (479,) and f.speech.shape == (479,) and f.speech.dtype == bool
    assert f.whisper_features is None and f.words is None


def test_it_finds_speech_and_the_pauses_around_it(speech_features: AudioFeatures) -> None:
    speech = speech_features.speech

    assert not speech[:25].any()  # the fixture's 0.3 s of leading silence
    assert not speech[-10:].any()  # 0.3 s of trailing silence, less the 150 ms hangover
    assert speech[50:150].all()  # "Hello, this is"
    assert 0.6 < speech.mean() < 0.95
    # The pause at the full stop ("...Studio. One...") is long enough to count as silence.
    assert (~speech[100:-30]).sum() >= 3


@pytest.mark.parametrize("fps", [12.0, 24.0, 25.0, 30000 / 1001, 60.0, 100.0, 120.0])
def test_mouth_controls_come_one_per_frame_at_any_rate(
    speech_features: AudioFeatures, fps: float
) -> None:
    controls = speech_features.mouth_controls(fps)

    assert len(controls) == round(speech_features.duration * fps)
    for values in (controls.openness, controls.width, controls.rounding):
        assert values.dtype == np.float32 and values.shape == (len(controls),)
        assert values.min() >= 0.0 and values.max() <= 1.0
    assert controls.openness.max() > 0.8


def test_the_mouth_is_shut_on_silence(speech_features: AudioFeatures) -> None:
    controls = speech_features.mouth_controls(25)

    assert controls.openness[:6].max() < 0.02  # first 0.24 s
    assert controls.openness[-4:].max() < 0.02
    assert np.allclose(controls.width[:6], 0.5, atol=0.02)
    assert controls.rounding[:6].max() < 0.02


def test_frames_past_the_audio_are_at_rest(speech_features: AudioFeatures) -> None:
    controls = speech_features.mouth_controls(25, n_frames=200)  # 8 s of video, 4.8 s of audio

    assert len(controls) == 200
    assert not controls.openness[125:].any()
    assert np.all(controls.width[125:] == 0.5)


def test_openness_is_smooth(speech_features: AudioFeatures) -> None:
    openness = speech_features.mouth_controls(100).openness

    steps = np.abs(np.diff(openness))
    # Lips cannot jump: even at 10 ms per frame no step crosses a third of the range, and
    # the typical step is a few per cent.
    assert steps.max() < 0.3
    assert steps.mean() < 0.06
    # A shut mouth between words is really shut, not hovering.
    assert (openness < 0.01).mean() > 0.15


def _energy_per_frame(features: AudioFeatures, fps: float, n: int) -> np.ndarray:
    # The same frame envelope rendering.quality uses to measure sync.
    edges = np.clip(np.round(np.arange(n + 1) / fps / 0.01).astype(int), 0, len(features.energy))
    sums = np.concatenate([[0.0], np.cumsum(features.energy)])
    return (sums[edges[1:]] - sums[edges[:-1]]) / np.maximum(np.diff(edges), 1)


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_openness_does_not_lag_the_sound(speech_features: AudioFeatures, fps: float) -> None:
    controls = speech_features.mouth_controls(fps)
    envelope = _energy_per_frame(speech_features, fps, len(controls))

    def corr(offset: int) -> float:
        a, b = controls.openness, envelope
        if offset > 0:
            a, b = a[offset:], b[:-offset]
        elif offset < 0:
            a, b = a[:offset], b[-offset:]
        return float(np.corrcoef(a, b)[0, 1])

    scores = {offset: corr(offset) for offset in range(-5, 6)}
    assert max(scores, key=scores.__getitem__) == 0
    assert scores[0] > 0.7


def test_openness_rises_and_falls_with_a_vowel(make_wav: Callable[..., Path]) -> None:
    clip = np.concatenate([silence(1.0), vowel(0.6, VOWEL_A), silence(1.0)])
    features = audio.analyse(make_wav("a.wav", clip), cache_dir=None)

    openness = features.mouth_controls(100).openness
    plateau = float(np.median(openness[110:150]))
    half = np.flatnonzero(openness > plateau / 2)

    assert plateau > 0.8
    # The half-way points sit on the vowel's edges (1.0 s and 1.6 s), not after them.
    assert abs(half[0] - 100) <= 2
    assert abs(half[-1] + 1 - 160) <= 2
    assert openness[:90].max() < 0.02 and openness[175:].max() < 0.02


def test_a_short_dip_closes_the_lips(make_wav: Callable[..., Path]) -> None:
    # /a m a/: a 60 ms murmur 15 dB down in the middle of an open vowel (at 1.47-1.53 s).
    tone = vowel(2.0, VOWEL_A)
    tone[round(0.97 * RATE) : round(1.03 * RATE)] *= 10 ** (-15 / 20)
    clip = np.concatenate([silence(0.5), tone, silence(0.5)])
    features = audio.analyse(make_wav("ama.wav", clip), cache_dir=None)

    openness = features.mouth_controls(100).openness

    assert min(openness[120:135].min(), openness[165:180].min()) > 0.7
    assert openness[147:153].min() < 0.1
    at_25 = features.mouth_controls(25).openness
    assert at_25[37] < 0.35  # the frame showing 1.48-1.52 s


def test_width_and_rounding_follow_the_vowel(make_wav: Callable[..., Path]) -> None:
    gap = silence(0.4)
    clip = np.concatenate(
        [gap, vowel(0.8, VOWEL_I), gap, vowel(0.8, VOWEL_U), gap, vowel(0.8, VOWEL_A), gap]
    )
    controls = audio.analyse(make_wav("iua.wav", clip), cache_dir=None).mouth_controls(25)
    i_, u_, a_ = (0.5, 1.1), (1.7, 2.3), (2.9, 3.5)  # the middles of the three vowels

    def mean(values: np.ndarray, span: tuple[float, float]) -> float:
        return float(frames_between(values, 25, *span).mean())

    assert mean(controls.width, i_) > mean(controls.width, u_) + 0.2
    assert mean(controls.width, i_) > mean(controls.width, a_)
    assert mean(controls.rounding, u_) > mean(controls.rounding, i_) + 0.2
    assert mean(controls.rounding, u_) > mean(controls.rounding, a_)
    assert mean(controls.openness, a_) > max(
        mean(controls.openness, i_), mean(controls.openness, u_)
    )


def test_silent_audio_is_valid_and_keeps_the_mouth_shut(make_wav: Callable[..., Path]) -> None:
    features = audio.analyse(make_wav("quiet.wav", silence(2.0)), cache_dir=None)
    controls = features.mouth_controls(25)

    assert not features.speech.any()
    assert len(controls) == 50
    assert not controls.openness.any() and not controls.rounding.any()
    assert np.all(controls.width == 0.5)


def test_zero_length_audio_is_an_error(make_wav: Callable[..., Path]) -> None:
    with pytest.raises(MediaError, match="empty"):
        audio.analyse(make_wav("nothing.wav", silence(0.0)), cache_dir=None)


def test_a_video_sound_track_can_drive_the_mouth(face_with_audio_mp4: Path) -> None:
    features = audio.analyse(face_with_audio_mp4, cache_dir=None)

    assert features.duration == pytest.approx(4.8, abs=0.01)
    assert 0.6 < features.speech.mean() < 0.95


def test_mouth_controls_refuse_a_nonsense_rate(speech_features: AudioFeatures) -> None:
    with pytest.raises(ValueError):
        speech_features.mouth_controls(0)


# --- storage and cache ---------------------------------------------------------------------


def test_features_round_trip_without_pickle(tmp_path: Path, speech_features: AudioFeatures) -> None:
    speech_features.words = [Word("hello", 0.3, 0.62, 0.9)]
    speech_features.whisper_features = np.ones((240, 8), np.float32)
    path = tmp_path / "features.npz"

    speech_features.save(path)
    loaded = AudioFeatures.load(path)

    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        assert set(npz.files) == {"meta", "mel", "energy", "speech", "whisper_features"}
    assert np.array_equal(loaded.mel, speech_features.mel)
    assert np.array_equal(loaded.energy, speech_features.energy)
    assert np.array_equal(loaded.speech, speech_features.speech)
    assert np.array_equal(loaded.whisper_features, speech_features.whisper_features)
    assert loaded.words == [Word("hello", 0.3, 0.62, 0.9)]
    assert (loaded.duration, loaded.content_hash) == (
        speech_features.duration,
        speech_features.content_hash,
    )
    assert np.array_equal(
        loaded.mouth_controls(25).openness, speech_features.mouth_controls(25).openness
    )


def test_a_second_analysis_comes_from_the_cache(tmp_path: Path, speech_wav: Path) -> None:
    cache_dir = tmp_path / "cache"
    before = audio.ANALYSIS_RUNS

    first = audio.analyse(speech_wav, cache_dir=cache_dir)
    again = audio.analyse(speech_wav, cache_dir=cache_dir)
    elsewhere = tmp_path / "renamed-by-user.wav"
    shutil.copy(speech_wav, elsewhere)
    copied = audio.analyse(elsewhere, cache_dir=cache_dir)

    assert audio.ANALYSIS_RUNS - before == 1
    assert np.array_equal(again.mel, first.mel) and np.array_equal(copied.energy, first.energy)


def test_different_audio_is_analysed_afresh(tmp_path: Path, make_wav: Callable[..., Path]) -> None:
    cache_dir = tmp_path / "cache"
    before = audio.ANALYSIS_RUNS

    audio.analyse(make_wav("a.wav", vowel(0.5, VOWEL_A)), cache_dir=cache_dir)
    audio.analyse(make_wav("u.wav", vowel(0.5, VOWEL_U)), cache_dir=cache_dir)

    assert audio.ANALYSIS_RUNS - before == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # a copy cut short
        lambda data: b"garbage" * 100,
        lambda data: data[:200] + bytes(b ^ 0xFF for b in data[200:400]) + data[400:],
        lambda data: b"",
    ],
)
def test_a_damaged_cache_entry_is_recomputed(
    tmp_path: Path, speech_wav: Path, damage: Callable[[bytes], bytes]
) -> None:
    cache_dir = tmp_path / "cache"
    good = audio.analyse(speech_wav, cache_dir=cache_dir)
    (entry,) = [p for p in cache_dir.rglob("*") if p.is_file()]
    entry.write_bytes(damage(entry.read_bytes()))
    before = audio.ANALYSIS_RUNS

    again = audio.analyse(speech_wav, cache_dir=cache_dir)

    assert audio.ANALYSIS_RUNS - before == 1
    assert np.array_equal(again.mel, good.mel)
    assert AudioFeatures.load(entry).content_hash == good.content_hash  # rewritten whole


# --- Whisper -------------------------------------------------------------------------------


def test_whisper_features_come_from_a_local_checkpoint(
    tmp_path: Path, speech_wav: Path, tiny_whisper: Path
) -> None:
    cache_dir = tmp_path / "cache"
    before = audio.ANALYSIS_RUNS

    features = audio.analyse(speech_wav, cache_dir=cache_dir, whisper_model=tiny_whisper)
    plain = audio.analyse(speech_wav, cache_dir=cache_dir)  # another key: no model
    cached = audio.analyse(speech_wav, cache_dir=cache_dir, whisper_model=tiny_whisper)

    assert features.whisper_features is not None
    assert features.whisper_features.shape == (240, 64)  # 4.8 s at 50 per second, D = 64
    assert np.isfinite(features.whisper_features).all()
    assert features.whisper_features.std() > 0
    # A random model transcribes nonsense or nothing; either way we get a list of words.
    assert isinstance(features.words, list)
    assert all(w.start <= w.end for w in features.words)
    assert features.whisper_model == hashlib.sha256(tiny_whisper.read_bytes()).hexdigest()
    assert plain.whisper_features is None
    assert cached.whisper_features is not None
    assert np.array_equal(cached.whisper_features, features.whisper_features)
    assert audio.ANALYSIS_RUNS - before == 2


def test_whisper_features_cover_audio_longer_than_one_window(tiny_whisper: Path) -> None:
    samples = np.concatenate([vowel(1.0, VOWEL_A), silence(30.0), vowel(1.0, VOWEL_I)])

    features = audio.analyse_samples(samples, whisper_model=tiny_whisper)

    assert features.whisper_features is not None
    assert features.whisper_features.shape == (1600, 64)  # 32 s x 50
    # The second window's frames are real encoder output, not padding copied over.
    assert not np.allclose(features.whisper_features[1500:], features.whisper_features[:100])


@pytest.mark.parametrize("name", ["tiny", "/nonexistent/model.pt"])
def test_it_never_downloads_a_model_by_name(speech_wav: Path, name: str) -> None:
    with pytest.raises(ValueError, match="local checkpoint"):
        audio.analyse(speech_wav, cache_dir=None, whisper_model=name)


def test_media_limits_apply(speech_wav: Path) -> None:
    with pytest.raises(MediaError, match="limit"):
        audio.analyse(speech_wav, cache_dir=None, limits=media.Limits(max_duration=2))
