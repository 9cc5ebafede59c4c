"""Mouth shapes from the sounds (rendering.articulation): phones, the model's file, the
plan from the model, the fallback to loudness, and a template's own adapted model."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from rendering import articulation as art
from rendering import faces
from rendering.audio import analyse, analyse_samples
from rendering.cache import Cache
from rendering.engines.classic import plan_frames
from rendering.words import Word

RATE = 16000


def _buzz(
    seconds: float, *, level: float, start: float = 0.0, end: float | None = None
) -> np.ndarray:
    """A voiced-like buzz (120 Hz harmonics up to 3 kHz) at a steady level in [start, end)."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 25))
    x = level * np.asarray(x) / np.max(np.abs(x))
    on = (t >= start) & (t < (seconds if end is None else end))
    x[~on] = 0.0
    x += 1e-4 * np.random.default_rng(0).standard_normal(t.size)
    return x.astype(np.float32)


def _frames(t0: float, t1: float, fps: float = 25.0) -> slice:
    return slice(int(t0 * fps), int(np.ceil(t1 * fps)))


def test_it_reads_pinyin_and_other_words_as_phones() -> None:
    assert art.pinyin_phones("ma") == ["m", "a"]
    assert art.pinyin_phones("lv") == ["l", "y"]
    assert art.pinyin_phones("shi") == ["ʂ", "ɨ"]  # the i after sh is not a spread /i/
    assert art.pinyin_phones("xue") == ["ɕ", "y", "ɛ"]  # u after x is ü
    assert art.pinyin_phones("zhuang") == ["ʂ", "u", "a", "ŋ"]
    assert art.word_phones("妈妈") == [["m", "a"], ["m", "a"]]
    groups = art.word_phones("mommy", "en")
    assert len(groups) == 1 and groups[0][0] == "m" and "m" in groups[0][1:]
    assert art.word_phones("42!") == []
    # Russian through espeak-ng: a closure for the п, an open vowel somewhere.
    (ru,) = art.word_phones("папа", "ru")
    assert ru[0] == "p" and any(art.PHONES.get(p, art._OTHER).open >= 0.8 for p in ru)


def test_the_words_phones_are_kept_for_the_next_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = [Word("mommy", 0.0, 0.4, 1.0), Word("妈妈", 0.5, 0.9, 1.0)]
    cache = Cache(tmp_path)
    phoned = art.words_phones(words, "en", cache)
    assert phoned == [art.word_phones("mommy", "en"), art.word_phones("妈妈", "en")]

    def not_again(text: str, language: str | None = None) -> list[list[str]]:
        raise AssertionError("phones looked up again")

    monkeypatch.setattr(art, "word_phones", not_again)
    assert art.words_phones(words, "en", cache) == phoned  # from the cache
    with pytest.raises(AssertionError):
        art.words_phones(words, "de", cache)  # another language: other phones


def test_phones_made_without_espeak_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = functools.lru_cache(maxsize=1)(lambda: None)
    monkeypatch.setattr(art, "_espeak", missing)
    monkeypatch.setattr(art, "_espeak_ipa", lambda word, voice: missing())
    words = [Word("mommy", 0.0, 0.4, 1.0)]
    cache = Cache(tmp_path)

    assert art.words_phones(words, "en", cache) == [[art._letters("mommy")]]
    assert not (tmp_path / "phones").exists()


def test_it_holds_a_bilabial_closure_at_least_70_ms() -> None:
    words = [Word("ma", 1.0, 1.1, 1.0)]
    curves = art.phone_curves(words, 300)
    closed = curves[:, 3]
    # Where the words alone put it: held 70 ms (the m has ~40 ms), but only a guess (0.5).
    assert (closed >= 0.49).sum() >= 7 and closed.max() == pytest.approx(0.5)
    assert closed[:90].max() == 0.0 and closed[120:].max() == 0.0
    assert curves[105:112, 0].max() > 0.4  # the a after it opens
    # The sound dips (lips shut muffle it) 60 ms later: the closure moves there, certain.
    level = np.full(300, -20.0)
    level[108:111] = -35.0
    sure = art.phone_curves(words, 300, level=level)[:, 3]
    assert sure.max() == pytest.approx(1.0)
    assert 105 <= int(np.flatnonzero(sure >= 0.99).mean()) <= 112


def test_it_round_trips_a_model_in_its_file_format_and_refuses_others(tmp_path: Path) -> None:
    n = len(art.TAPS) * len(art.CHANNELS) + 1
    weights = np.random.default_rng(1).standard_normal((n, 2)).astype(np.float32)
    model = art.ArticulationModel(weights=weights, info="tiny")
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = art.load_model(path)
    assert loaded is not None and loaded.info == "tiny"
    np.testing.assert_array_equal(loaded.weights, weights)
    # Wrong shape, damaged bytes, a missing file: no model (the engine falls back).
    art.ArticulationModel(weights=weights[:-3]).save(tmp_path / "short.npz")
    assert art.load_model(tmp_path / "short.npz") is None
    (tmp_path / "bad.npz").write_bytes(path.read_bytes()[:100])
    assert art.load_model(tmp_path / "bad.npz") is None
    assert art.load_model(tmp_path / "missing.npz") is None
    with np.load(path, allow_pickle=False) as npz:  # no pickle inside
        assert sorted(npz.files) == ["meta", "weights"]


def test_the_shipped_model_loads() -> None:
    model = art.load_model()
    assert model is not None
    assert model.weights.shape == (len(art.TAPS) * len(art.CHANNELS) + 1, 2)
    assert art.DEFAULT_MODEL.is_file()


def test_a_loud_m_stays_shut_and_the_a_opens() -> None:
    """The sound is one steady loud buzz: loudness says 'open' all through; the phones say
    shut on each m and open on each a."""
    features = analyse_samples(_buzz(2.5, level=0.5, start=0.5, end=2.0))
    loud = features.mouth_controls(25.0, 62).openness
    features.words = [Word("mama", 0.6, 1.1, 1.0), Word("mama", 1.3, 1.8, 1.0)]
    shapes = art.mouth_shapes(features, 25.0, 62)
    assert shapes is not None
    first_m, first_a = _frames(0.6, 0.66), _frames(0.75, 0.85)
    second_m = _frames(0.88, 0.92)  # m a m a over 0.6-1.1 s: the second m at ~0.85-0.95 s
    assert shapes.openness[first_m].min() < 0.15
    assert shapes.openness[second_m].min() < 0.15
    assert shapes.openness[first_a].max() > 0.4
    # the loudness opening is the same on m and a (the buzz is steady): the model's is not
    assert abs(float(loud[first_m].mean()) - float(loud[first_a].mean())) < 0.15
    assert shapes.openness[:10].max() == 0.0  # silence before: shut


def test_a_quiet_a_opens_and_rounded_u_narrows() -> None:
    features = analyse_samples(
        np.concatenate([_buzz(1.0, level=0.6, start=0.1, end=0.5), _buzz(1.5, level=0.08)])
    )
    features.words = [Word("see", 0.1, 0.45, 1.0), Word("ah", 1.2, 1.8, 1.0)]
    shapes = art.mouth_shapes(features, 25.0, 62, language="en")
    assert shapes is not None
    assert shapes.openness[_frames(1.35, 1.65)].mean() > shapes.openness[_frames(0.2, 0.4)].mean()
    features.words = [Word("two", 1.2, 1.8, 1.0)]
    rounded = art.mouth_shapes(features, 25.0, 62, language="en")
    assert rounded is not None
    u = _frames(1.45, 1.75)
    assert rounded.rounding[u].mean() > 0.2

    def spread(c: object) -> float:  # what the engine draws: width and rounding together
        return float(np.mean(0.16 * (c.width[u] - 0.5) - 0.20 * c.rounding[u]))  # type: ignore[attr-defined]

    assert spread(rounded) < spread(shapes) - 0.02


def test_without_words_or_model_the_plan_keeps_the_loudness(
    face_mp4: Path, speech_wav: Path, tmp_path: Path
) -> None:
    features = analyse(speech_wav, cache_dir=None)
    track = faces.track(face_mp4, cache_dir=None)
    n = max(1, round(features.duration * track.fps))
    controls = features.mouth_controls(track.fps, n)
    plain = plan_frames(track, features, None, n)  # no words: loudness
    assert [p.openness for p in plain.poses] == pytest.approx(controls.openness.tolist())
    assert art.mouth_shapes(features, track.fps, n) is None
    features.words = [Word("hello", 0.3, 0.8, 1.0), Word("mama", 1.0, 1.5, 1.0)]
    learned = plan_frames(track, features, None, n)
    assert [p.openness for p in learned.poses] != pytest.approx(controls.openness.tolist())
    off = plan_frames(track, features, None, n, articulation=False)
    assert [p.openness for p in off.poses] == pytest.approx(controls.openness.tolist())


def test_a_templates_adapted_model_is_made_once_and_cached(tmp_path: Path) -> None:
    generic = art.load_model()
    assert generic is not None
    features = analyse_samples(_buzz(6.0, level=0.5, start=0.2, end=5.8))
    words = [
        Word(w, 0.2 + 0.6 * k, 0.7 + 0.6 * k, 1.0)
        for k, w in enumerate(["mama", "papa", "bob", "ah", "oh", "we", "me", "pa", "mom"])
    ]
    features.words = words
    fps = 25.0
    n = 150
    # The template's "own mouth": open where its phones open, wider than generic.
    ch = art.channels(features)
    assert ch is not None
    gaps = 0.12 * art._per_frame(ch[:, 0] * (1 - ch[:, 3]), fps, n, 0.0) + 0.01
    widths = np.full(n, 0.4)
    calls = []

    def make() -> art.ArticulationModel | None:
        calls.append(1)
        return art.adapt(generic, features, gaps, widths, fps)

    cache = Cache(tmp_path)
    first = art.adapted_model(cache, "template-hash", generic, make)
    second = art.adapted_model(cache, "template-hash", generic, make)
    assert first is not None and second is not None and len(calls) == 1
    np.testing.assert_array_equal(first.weights, second.weights)
    assert not np.array_equal(first.weights, generic.weights)
    # A template without words teaches nothing, and that is remembered too.
    silent = analyse_samples(_buzz(6.0, level=0.5))

    def nothing() -> art.ArticulationModel | None:
        calls.append(1)
        return art.adapt(generic, silent, gaps, widths, fps)

    assert art.adapted_model(cache, "other", generic, nothing) is None
    assert art.adapted_model(cache, "other", generic, nothing) is None
    assert len(calls) == 2
