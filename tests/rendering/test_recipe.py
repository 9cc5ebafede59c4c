"""The render recipe (rendering.recipe): the one set of steps the CLI, the worker's whole
render, its segments and their join all run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rendering import audio, faces, quality, recipe
from rendering.engines import get_engine
from rendering.errors import FaceError
from tests.rendering.plain_av import (
    FACE,
    decode,
    has_audio,
    no_face_frames,
    speech_clip,
    write_video,
)


class Steps:
    """Collects what the recipe says, as the worker's job log does."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, code: str, **params: Any) -> None:
        json.dumps(params)  # plain values only: the job log stores them as JSON
        self.seen.append((code, params))

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.seen]


def test_each_step_is_said_as_a_code_with_plain_values(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 1.0)
    cache = tmp_path / "cache"
    steps = Steps()

    prepared = recipe.prepare(speech, FACE, cache_dir=cache, on_step=steps)
    assert prepared.n_frames == 25
    result = recipe.render(prepared, get_engine("classic"), tmp_path / "out.mp4", on_step=steps)
    report = recipe.measure(result.path, prepared, result, on_step=steps)

    assert steps.codes == ["audio_ready", "face_track", "rendered", "quality"]
    params = dict(steps.seen)
    assert params["audio_ready"] == {"duration": 1.0}
    assert params["face_track"]["frames"] == prepared.track.n_frames
    assert params["rendered"]["frames"] == 25
    assert report is not None and params["quality"]["coverage"] == report["coverage"]
    assert len(decode(result.path)) == 25 and has_audio(result.path)


def test_features_given_are_not_analysed_again_and_words_are_attached(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.6)
    features = recipe.analyse_audio(speech, cache_dir=None)
    runs = audio.ANALYSIS_RUNS
    attached: list[object] = []

    def words(given: audio.AudioFeatures) -> audio.AudioFeatures:
        attached.append(given)
        return given

    prepared = recipe.prepare(speech, FACE, cache_dir=None, features=features, words=words)

    assert runs == audio.ANALYSIS_RUNS
    assert attached == [features] and prepared.features is features


def test_a_part_holds_the_same_frames_as_the_whole_render(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 1.2)
    prepared = recipe.prepare(speech, FACE, cache_dir=tmp_path / "cache")
    engine = get_engine("classic", crf=0)
    steps = Steps()

    whole = recipe.render(prepared, engine, tmp_path / "whole.mp4")
    part = recipe.render(
        prepared, engine, tmp_path / "part.mp4", frame_range=(10, 20), on_step=steps
    )

    assert part.frames == 10 and not has_audio(part.path)
    assert steps.codes == []  # a part is said by its caller (part n of m), not as "rendered"
    same = [
        np.abs(a.astype(int) - b).mean()
        for a, b in zip(decode(part.path), decode(whole.path)[10:20], strict=True)
    ]
    assert max(same) < 1.0


def test_require_usable_refuses_a_template_with_too_little_face(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.4)
    # The face for the first 2 frames only, then a landscape: tracked, but hardly usable.
    frames = decode(FACE)[:2] + no_face_frames(18, size=256)
    mostly_empty = write_video(tmp_path / "mostly_empty.mp4", frames)

    prepared = recipe.prepare(speech, mostly_empty, cache_dir=None)
    assert faces.usable_share(prepared.track) < faces.MIN_USABLE_SHARE
    with pytest.raises(FaceError) as raised:
        recipe.prepare(speech, mostly_empty, cache_dir=None, require_usable=True)
    assert raised.value.code == "face_too_little"


def test_a_broken_measure_gives_no_report_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.4)
    prepared = recipe.prepare(speech, FACE, cache_dir=None)
    result = recipe.render(prepared, get_engine("classic"), tmp_path / "out.mp4")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("measurement exploded")

    monkeypatch.setattr(quality, "assess", broken)
    steps = Steps()
    assert recipe.measure(result.path, prepared, result, on_step=steps) is None
    assert steps.seen == [("quality_not_measured", {"error": "RuntimeError"})]
