"""Mouth shapes from the words: spelling and pinyin to visemes, timed targets, the blend,
and the classic engine's plan on the committed speech with real word timings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rendering import faces, visemes
from rendering.audio import analyse
from rendering.engines.classic import plan_frames
from rendering.words import Word


def _kinds(text: str) -> list[list[str | None]]:
    return [[s.kind for s in group] for group in visemes.word_segments(text)]


def test_it_reads_english_spelling_as_lip_shapes() -> None:
    assert _kinds("mommy") == [["closed", "rounded", "closed", "wide"]]
    assert _kinds("phone") == [["lipteeth", "rounded", None]]  # ph, o, n; silent e dropped
    assert _kinds("lamb") == [[None, None, "closed"]]  # silent b: one closure
    assert _kinds("see") == [[None, "wide"]]
    assert _kinds("Who?") == [["rounded", "rounded"]]
    assert _kinds("42") == []


def test_it_reads_chinese_through_pinyin() -> None:
    assert _kinds("妈妈") == [["closed", None], ["closed", None]]  # ma ma
    assert _kinds("五") == [["rounded", "rounded"]]  # wu
    assert _kinds("飞") == [["lipteeth", "wide", "wide"]]  # fei
    assert _kinds("是") == [[None, None]]  # shi: the i after sh is not spread
    assert _kinds("你好") == [[None, "wide"], [None, None, "rounded"]]  # ni hao


def test_it_times_a_closure_on_at_least_one_frame_and_not_elsewhere() -> None:
    words = [Word("map", 1.0, 1.3, 0.9)]
    wanted = visemes.targets(words, 25.0, 50)
    shut = np.flatnonzero(wanted.closed > 0.99)
    assert len(shut) >= 1
    assert 1.0 <= shut[0] / 25.0 <= 1.3  # inside the word, at the p near its end
    assert wanted.closed[:20].max() == 0.0  # nothing before the word
    assert wanted.rounded.max() == 0.0  # no o/u in "map"


def test_it_shuts_the_mouth_at_closures_and_keeps_the_audio_elsewhere() -> None:
    n = 10
    openness = np.full(n, 0.8, np.float32)
    width = np.full(n, 0.5, np.float32)
    rounding = np.zeros(n, np.float32)
    wanted = visemes.VisemeTargets(
        fps=25.0,
        closed=np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], np.float32),
        lipteeth=np.zeros(n, np.float32),
        rounded=np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 0], np.float32),
        wide=np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0], np.float32),
    )
    o, w, r = visemes.apply_visemes(openness, width, rounding, wanted)
    assert o[1] < 0.05 and o[0] == openness[0] and o[9] == openness[9]
    assert w[3] < 0.5 < w[5] and r[3] > 0.5
    assert w[0] == 0.5 and r[0] == 0.0


def test_it_closes_the_planned_mouth_inside_a_bilabial_word_only_when_asked(
    face_mp4: Path, speech_wav: Path
) -> None:
    features = analyse(speech_wav, cache_dir=None)
    track = faces.track(face_mp4, cache_dir=None)
    n = max(1, round(features.duration * track.fps))
    # The loudness path with the words' visemes (the learned model plans when it is on).
    off = plan_frames(track, features, None, n, articulation=False)
    loud = int(np.argmax([p.openness for p in off.poses]))  # the widest moment of the speech
    t = loud / track.fps
    features.words = [Word("mama", t - 0.1, t + 0.1, 1.0)]
    on = plan_frames(track, features, None, n, words=True, articulation=False)
    still = plan_frames(track, features, None, n, articulation=False)
    window = range(max(0, loud - 3), min(n, loud + 4))
    assert min(on.poses[k].openness for k in window) < 0.1 * off.poses[loud].openness
    assert [p.openness for p in still.poses] == [p.openness for p in off.poses]
    far = [k for k in range(n) if abs(k - loud) > 8]
    assert all(on.poses[k] == off.poses[k] for k in far)
