from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from rendering import faces, media
from rendering.audio import analyse
from rendering.engines import available_engines, get_engine, ping_pong_index, playback
from rendering.engines.base import CHIN_MARGIN
from rendering.engines.playback import _TemplateFrames
from rendering.errors import RenderCanceled, RenderingError
from tests.rendering.plain_av import (
    FACE,
    FPS,
    decode,
    has_audio,
    no_face_frames,
    speech_clip,
    write_video,
)

pytest_plugins = ["tests.rendering.face_fixtures"]

BLOCK = 16  # side of the corner square whose grey level says which template frame it is


def _indexed(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames stamped with their index (grey level 25 * i) in the top-left corner."""
    out = []
    for i, frame in enumerate(frames):
        frame = frame.copy()
        frame[:BLOCK, :BLOCK] = 25 * i
        out.append(frame)
    return out


def _read_index(frame: np.ndarray) -> int:
    return round(float(frame[2 : BLOCK - 2, 2 : BLOCK - 2].mean()) / 25)


def _render(template: Path, audio: Path, out: Path, tmp_path: Path, **kwargs):
    track = faces.track(template, cache_dir=tmp_path / "cache")
    features = analyse(audio, cache_dir=tmp_path / "cache")
    engine = get_engine("classic", **kwargs.pop("options", {}))
    return engine.render(
        template=template, track=track, audio=features, audio_path=audio, out_path=out, **kwargs
    )


def test_ping_pong_plays_forward_then_backward_without_a_jump() -> None:
    assert [ping_pong_index(j, 4) for j in range(10)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert [ping_pong_index(j, 1) for j in range(3)] == [0, 0, 0]


def test_it_loops_a_short_template_forward_then_backward(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    template = write_video(tmp_path / "short.mp4", _indexed(face_frames[:8]))
    audio = speech_clip(tmp_path / "one-second.wav", 1.0)

    result = _render(template, audio, tmp_path / "out.mp4", tmp_path)

    frames = decode(result.path)
    assert result.frames == len(frames) == 25
    assert [_read_index(f) for f in frames] == [ping_pong_index(j, 8) for j in range(25)]
    assert has_audio(result.path)


@pytest.mark.parametrize("overlap", [True, False], ids=["decoded-while-playing", "decoded-first"])
def test_a_loop_turns_on_the_frames_the_file_really_has(
    tmp_path: Path,
    face_frames: list[np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    overlap: bool,
) -> None:
    # The track says 7 frames, the file has 6: the turn is made at the file's last frame,
    # never past it, whether the first pass plays while the rest decodes (small pictures)
    # or the template is decoded first (large ones).
    if not overlap:
        monkeypatch.setattr(playback, "OVERLAP_PIXELS_BYTES", 0)
    template = write_video(tmp_path / "short.mp4", _indexed(face_frames[:6]))
    audio = speech_clip(tmp_path / "one-second.wav", 1.0)
    track = faces.track(template, cache_dir=tmp_path / "cache")
    longer = dataclasses.replace(
        track,
        n_frames=7,
        boxes=np.concatenate([track.boxes, track.boxes[-1:]]),
        landmarks=np.concatenate([track.landmarks, track.landmarks[-1:]]),
        present=np.concatenate([track.present, track.present[-1:]]),
        jitter=None,
    )
    features = analyse(audio, cache_dir=tmp_path / "cache")

    result = get_engine("classic").render(
        template=template,
        track=longer,
        audio=features,
        audio_path=audio,
        out_path=tmp_path / "out.mp4",
    )

    frames = decode(result.path)
    assert [_read_index(f) for f in frames] == [ping_pong_index(j, 6) for j in range(25)]


def test_a_long_loop_spills_frames_to_disk_and_cleans_up(
    tmp_path: Path, face_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A budget of one byte sends every kept frame to the raw file on disk.
    monkeypatch.setattr(_TemplateFrames, "MEMORY_BUDGET", 1)
    template = write_video(tmp_path / "short.mp4", _indexed(face_frames[:5]))
    audio = speech_clip(tmp_path / "speech.wav", 0.8)
    out_dir = tmp_path / "out"

    result = _render(template, audio, out_dir / "out.mp4", tmp_path)

    frames = decode(result.path)
    assert [_read_index(f) for f in frames] == [ping_pong_index(j, 5) for j in range(20)]
    assert [p.name for p in out_dir.iterdir()] == ["out.mp4"]


def test_it_trims_a_long_template_to_the_audio(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    template = write_video(tmp_path / "long.mp4", _indexed(face_frames[:10]))
    audio = speech_clip(tmp_path / "short.wav", 0.24)

    result = _render(template, audio, tmp_path / "out.mp4", tmp_path)

    frames = decode(result.path)
    assert result.frames == len(frames) == 6
    assert [_read_index(f) for f in frames] == [0, 1, 2, 3, 4, 5]
    assert media.probe(result.path).duration == pytest.approx(0.24, abs=0.05)


def test_it_moves_the_mouth_and_leaves_the_rest_of_the_picture_alone(
    tmp_path: Path, shared_cache: Path
) -> None:
    audio = speech_clip(tmp_path / "speech.wav", 3.0)
    track = faces.track(FACE, cache_dir=shared_cache)
    result = get_engine("classic").render(
        template=FACE,
        track=track,
        audio=analyse(audio, cache_dir=shared_cache),
        audio_path=audio,
        out_path=tmp_path / "out.mp4",
    )

    out, source = decode(result.path), decode(FACE)
    gaps_out = [faces.lip_gap(f[1]) for f in faces.track_frames(out) if f is not None]
    gaps_in = track.lip_gaps()
    assert len(gaps_out) == len(out) == 75
    # The astronaut smiles still; the output's mouth opens and closes with the words.
    assert np.ptp(gaps_out) > 0.06
    # The widest opening is a clear spoken "ah" (MAX_OPEN 0.18 eye distances), not a yawn:
    # still several times what the template's own mouth does.
    assert np.ptp(gaps_out) > 3 * np.ptp(gaps_in)
    # Outside the lower face only the codec touched the pixels.
    for i in (0, 30, 60):
        keep = np.ones(out[i].shape[:2], np.uint8)
        polygon = track.lower_face_polygon(i, chin_margin=CHIN_MARGIN)
        cv2.fillPoly(keep, [np.round(polygon).astype(np.int32)], (0,))
        keep = cv2.erode(keep, np.ones((5, 5), np.uint8)).astype(bool)
        diff = out[i][keep].astype(float) - source[i][keep].astype(float)
        assert 10 * np.log10(255**2 / np.mean(diff**2)) > 38


def test_it_passes_frames_without_a_face_through_unchanged(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    frames = face_frames[:5] + no_face_frames(3, size=256) + face_frames[5:10]
    template = write_video(tmp_path / "gap.mp4", frames)
    audio = speech_clip(tmp_path / "speech.wav", 13 / FPS, shift=-0.9)  # mid-sentence
    # Lossless encoding on both sides, so equal pixels mean the engine did not touch them.
    result = _render(template, audio, tmp_path / "out.mp4", tmp_path, options={"crf": 0})
    media.transcode(template, tmp_path / "plain.mp4", crf=0)

    out, plain = decode(result.path), decode(tmp_path / "plain.mp4")
    assert len(out) == len(plain) == 13
    for i in (5, 6, 7):
        np.testing.assert_array_equal(out[i], plain[i])
    assert sum(not np.array_equal(out[i], plain[i]) for i in (0, 1, 2, 3, 4, 8, 9)) >= 5


def test_cancel_raises_and_leaves_no_file(tmp_path: Path, shared_cache: Path) -> None:
    audio = speech_clip(tmp_path / "speech.wav", 2.0)
    asked = []

    def should_cancel() -> bool:
        asked.append(True)
        return len(asked) >= 2

    out_dir = tmp_path / "out"
    with pytest.raises(RenderCanceled):
        get_engine("classic").render(
            template=FACE,
            track=faces.track(FACE, cache_dir=shared_cache),
            audio=analyse(audio, cache_dir=shared_cache),
            audio_path=audio,
            out_path=out_dir / "output_001.mp4",
            should_cancel=should_cancel,
        )

    assert len(asked) == 2
    assert list(out_dir.iterdir()) == []
    # The decoding thread stopped with the render.
    assert not [t for t in threading.enumerate() if t.name == "template-decoder"]


def test_it_reports_progress_up_to_one(tmp_path: Path, shared_cache: Path) -> None:
    audio = speech_clip(tmp_path / "speech.wav", 1.2)
    seen: list[float] = []

    get_engine("classic").render(
        template=FACE,
        track=faces.track(FACE, cache_dir=shared_cache),
        audio=analyse(audio, cache_dir=shared_cache),
        audio_path=audio,
        out_path=tmp_path / "out.mp4",
        progress=seen.append,
    )

    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen) and len(seen) >= 3


def test_unknown_engine_names_say_which_exist() -> None:
    assert "classic" in available_engines()
    with pytest.raises(RenderingError) as caught:
        get_engine("magic")
    assert '"magic"' in caught.value.message and "classic" in caught.value.message
