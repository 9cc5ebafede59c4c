"""While the audio speaks, every frame with a usable face gets the new mouth; the frames
left alone are reported with their true cause, share and time ranges.

Templates are made here from the fixture face and from real photos: a lively speaker
whose head moves 20-30 px a frame (which used to read as an unsure mesh and stay
unedited), and a head that turns far away in the middle of the clip.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rendering import faces, media, quality
from rendering.audio import analyse
from rendering.engines.classic import ClassicEngine, plan_frames
from tests.rendering.plain_av import FPS, SPEECH, write_video

pytest_plugins = ["tests.rendering.face_fixtures"]


@pytest.fixture(scope="module")
def speech():  # type: ignore[no-untyped-def]
    return analyse(SPEECH, cache_dir=None)


def _shaken(frames: list[np.ndarray], n: int, amplitude: float = 40.0) -> list[np.ndarray]:
    """The fixture face on a larger canvas, shaken sideways and nodding at 3 and 2 Hz:
    up to ~30 px a frame, as a lively speaker on a 25 fps phone clip."""
    out = []
    for i in range(n):
        frame = frames[i % len(frames)]
        canvas = np.full((384, 384, 3), 120, np.uint8)
        dx = round(64 + amplitude * math.sin(2 * math.pi * 3.0 * i / FPS))
        dy = round(64 + 0.5 * amplitude * math.sin(2 * math.pi * 2.0 * i / FPS + 1.0))
        canvas[dy : dy + 256, dx : dx + 256] = frame
        out.append(canvas)
    return out


def test_a_lively_moving_face_is_edited_whenever_the_audio_speaks(
    face_frames: list[np.ndarray], speech, tmp_path: Path
) -> None:
    n = round(speech.duration * FPS)
    template = write_video(tmp_path / "lively.mp4", _shaken(face_frames, n))
    track = faces.track(template, cache_dir=None)

    assert track.present.all()
    assert faces.usable_share(track) >= 0.95
    plan = plan_frames(track, speech, None, n)
    controls = speech.mouth_controls(FPS, n)
    voiced = np.asarray(controls.openness) > 0.25
    usable = track.trust() >= 0.5
    assert voiced.sum() > 0.3 * n  # the fixture speech really speaks
    edited = plan.strength >= 0.5
    assert edited[voiced & usable].mean() >= 0.95

    # And the output really shows a new mouth there, following the moving face.
    result = ClassicEngine(cache_dir=tmp_path, crf=12).render(
        template=template, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    source = list(media.iter_frames(template, fps=FPS))
    output = list(media.iter_frames(result.path, fps=FPS))
    wide_open = np.flatnonzero(np.asarray(controls.openness) > 0.6)
    assert len(wide_open) >= 5
    changed = 0
    for j in wide_open:
        centre = track.mouth_centres()[j]
        x, y = int(centre[0]), int(centre[1])
        a = source[j][max(y - 25, 0) : y + 25, max(x - 35, 0) : x + 35].astype(np.float32)
        b = output[j][max(y - 25, 0) : y + 25, max(x - 35, 0) : x + 35].astype(np.float32)
        # The mouth's own change: the frame around it is no longer converted to RGB and
        # back (issue 26), which added ~0.2 of noise to this mean.
        changed += float(np.abs(a - b).mean()) > 2.5
    assert changed >= 0.9 * len(wide_open)


def _posed_track(yaws: list[float], eye_distance: float = 80.0) -> faces.FaceTrack:
    """A track of the canonical face at the given yaws, as the tracker would store it."""
    from rendering import face_model

    landmarks = np.stack(
        [
            face_model.project(
                faces.MESH_IDS, face_model.HeadPose(y, 0.0, 0.0), eye_distance=eye_distance
            )
            for y in yaws
        ]
    )
    n = len(yaws)
    return faces.FaceTrack(
        fps=float(FPS),
        width=512,
        height=512,
        n_frames=n,
        content_hash="posed",
        boxes=np.stack([faces._box(p) for p in landmarks]),
        landmarks=landmarks,
        present=np.ones(n, bool),
        jitter=np.zeros(n, np.float32),
    )


def test_a_head_turned_away_midway_is_reported_as_turned_with_its_times() -> None:
    # Frontal, turning to 60 degrees over frames 20-29, back over 40-49, frontal to 75.
    yaws = [60.0 * float(np.clip(min(i - 20, 49 - i) / 9.0, 0.0, 1.0)) for i in range(75)]
    track = _posed_track(yaws)

    (part,) = faces.unusable_spans(track)
    assert part.cause == "turned"
    # Beyond 45 degrees from frame ~27 to ~42, and the edit fades over two frames each side.
    ((start, stop),) = part.ranges
    assert 22 / FPS <= start <= 27 / FPS and 43 / FPS <= stop <= 48 / FPS
    assert part.share == pytest.approx((stop - start) * FPS / 75, abs=0.02)
    # Half-way turns (up to 30 degrees) are not reasons at all.
    assert faces.unusable_spans(_posed_track([28.0] * 30)) == []


def test_a_small_face_is_reported_as_small_not_as_turned() -> None:
    (part,) = faces.unusable_spans(_posed_track([0.0] * 30, eye_distance=10.0))
    assert part.cause == "small" and part.share == 1.0 and part.ranges == ((0.0, 1.2),)


def test_a_face_that_leaves_is_reported_with_its_times_in_the_quality_report(
    face_frames: list[np.ndarray], speech, tmp_path: Path
) -> None:
    n = round(speech.duration * FPS)
    blank = np.full_like(face_frames[0], 90)
    frames = [blank if 30 <= i < 60 else face_frames[i % len(face_frames)] for i in range(n)]
    template = write_video(tmp_path / "leaves.mp4", frames)
    track = faces.track(template, cache_dir=None)
    result = ClassicEngine(cache_dir=tmp_path, crf=12).render(
        template=template, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    report = quality.assess(
        result.path,
        speech,
        template=template,
        track=track,
        coverage=result.coverage,
        frames_out=result.frames,
        max_seconds=2.0,
    ).to_dict()

    assert [r for r in report["reasons"] if str(r).startswith("unedited_")] == ["unedited_absent"]
    (part,) = report["unedited"]
    ((start, stop),) = part["ranges"]
    assert 1.0 <= start <= 1.2 and 2.4 <= stop <= 2.6
    assert part["share"] == pytest.approx(30 / n, abs=0.05)


def test_a_frontal_speaker_has_no_unedited_reason(face_frames, shared_cache: Path) -> None:
    from tests.rendering.plain_av import FACE

    track = faces.track(FACE, cache_dir=shared_cache)
    assert faces.unusable_spans(track) == []
