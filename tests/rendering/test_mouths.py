"""The classic engine's mouths: the person's own appearances, trusted faces only, the face
that was chosen, and nothing changed outside the face.

Templates are made here from the committed astronaut fixture (a real, public-domain face):
turned, shifted out of the picture, doubled, held still, or talking (her own smile, with
real teeth, re-opened by the engine's warp).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from rendering import faces, media, mouths
from rendering.audio import analyse
from rendering.engines.classic import (
    Appearance,
    ClassicEngine,
    MouthPose,
    MouthReference,
    animate_frame,
    plan_frames,
)
from rendering.errors import FaceError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FACE = FIXTURES / "face.mp4"
SPEECH = FIXTURES / "speech.wav"
FPS = 25


def write(path: Path, frames: list[np.ndarray]) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "14", "preset": "veryfast"}
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, FPS)
            container.mux(stream.encode(vf))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def face_frames() -> list[np.ndarray]:
    return list(media.iter_frames(FACE, fps=FPS))


@pytest.fixture(scope="module")
def speech():  # type: ignore[no-untyped-def]
    return analyse(SPEECH, cache_dir=None)


def local_change(a: np.ndarray, b: np.ndarray) -> float:
    """Largest change of any small area (grey levels, blurred): an edit, not codec noise."""
    diff = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2)
    return float(cv2.GaussianBlur(diff, (0, 0), 3.0).max())


def outside_changed(
    template: list[np.ndarray], output: list[np.ndarray], track: faces.FaceTrack
) -> float:
    """Largest mean change (grey levels) in a band just outside the lower-face polygon."""
    worst = 0.0
    for i, (a, b) in enumerate(zip(template, output, strict=False)):
        polygon = track.lower_face_polygon(i, chin_margin=0.24)
        if polygon is None:
            continue
        inside = np.zeros(a.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(polygon).astype(np.int32)], (1,))
        grown = cv2.dilate(inside, np.ones((9, 9), np.uint8))
        band = (grown - cv2.dilate(inside, np.ones((3, 3), np.uint8))).astype(bool)
        diff = np.abs(a[band].astype(np.int16) - b[band].astype(np.int16))
        worst = max(worst, float(diff.mean()))
    return worst


def test_it_changes_nothing_just_outside_the_face_region(face_frames, speech, tmp_path) -> None:
    track = faces.track(FACE, cache_dir=tmp_path)
    out = ClassicEngine(cache_dir=tmp_path, crf=10).render(
        template=FACE, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    output = list(media.iter_frames(out.path, fps=FPS))
    # Codec noise only (both are decoded H.264): a few grey levels, frame by frame.
    assert outside_changed(face_frames, output, track) < 3.0
    # ... while the mouth itself really moved.
    centre = np.round(track.mouth_centres()[40]).astype(int)
    patch = (slice(centre[1] - 8, centre[1] + 12), slice(centre[0] - 15, centre[0] + 15))
    moved = [
        np.abs(o[patch].astype(int) - t[patch].astype(int)).mean()
        for o, t in zip(output, face_frames, strict=False)
    ]
    assert max(moved) > 15


def test_the_templates_own_open_mouth_does_not_show_through(face_frames) -> None:
    """Open the astronaut's mouth (her own teeth) to make a 'talking' frame; then ask for a
    closed mouth from a library holding a closed one: her teeth must be gone."""
    landmarks = faces.detect_landmarks(face_frames[0])
    assert landmarks is not None
    reference = MouthReference(half_width=float(mouths.describe(landmarks)[1]))
    opened = animate_frame(face_frames[0], landmarks, MouthPose(1.0), reference)
    open_landmarks = faces.detect_landmarks(opened)
    assert open_landmarks is not None and faces.lip_gap(open_landmarks) > 0.08

    # Her mouth never closes in the fixture (a smile with teeth): close it once with the warp
    # to have a template frame with closed lips for the library.
    closed_frames = [animate_frame(face_frames[0], landmarks, MouthPose(0.0), reference)] * 3
    track = faces.track_arrays(closed_frames, fps=FPS)
    library = mouths.build_library(closed_frames, track)
    assert len(library) >= 1

    def teeth(frame: np.ndarray) -> int:
        inner = np.concatenate(
            [open_landmarks[faces.K_INNER_UPPER], open_landmarks[faces.K_INNER_LOWER][::-1]]
        )
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], (1,))
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[mask.astype(bool)]
        return int(((hsv[:, 2] > 160) & (hsv[:, 1] < 40)).sum())  # white: teeth, not skin

    assert teeth(opened) > 40  # the opened template shows teeth
    closed = animate_frame(
        opened,
        open_landmarks,
        MouthPose(0.0),
        reference,
        appearance=Appearance(library, int(np.argmin(library.gap))),
    )
    assert teeth(closed) < 0.1 * teeth(opened)


def test_the_choice_of_appearance_does_not_flicker() -> None:
    rng = np.random.default_rng(3)
    k = 12
    library = mouths.MouthLibrary(
        centre=np.zeros(2), density=60.0,
        patches=np.zeros((k, 4, 4, 3), np.uint8), contours=np.zeros((k, 4, 11, 2), np.float32),
        gap=np.linspace(0.0, 0.2, k).astype(np.float32), width=np.full(k, 0.4, np.float32),
        teeth=np.zeros(k, np.float32), sharpness=np.ones(k, np.float32),
        turn=np.zeros(k, np.float32), frames=np.arange(k, dtype=np.int32),
    )  # fmt: skip
    n = 200
    wanted = np.clip(0.1 + 0.08 * np.sin(np.arange(n) / 8) + rng.normal(0, 0.01, n), 0, 0.2)
    choice = mouths.choose(
        library, wanted, np.full(n, 0.4), np.zeros(n), np.full(n, 0.4), np.zeros(n)
    )
    switches = int(np.count_nonzero(np.diff(choice)))
    greedy = np.argmin(np.abs(library.gap[None] - wanted[:, None]), axis=1)
    assert switches < np.count_nonzero(np.diff(greedy)) / 2
    # ... and it still follows the wanted opening.
    shown = np.where(choice >= 0, library.gap[np.maximum(choice, 0)], 0.0)
    assert np.corrcoef(shown, wanted)[0, 1] > 0.8


def test_a_profile_turn_is_left_alone_and_faded(face_frames, speech, tmp_path) -> None:
    def turn(frame: np.ndarray, amount: float) -> np.ndarray:
        h, w = frame.shape[:2]
        s = 0.5 * amount
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[w * s * 0.5, 0.1 * amount * h], [w * (1 - s * 0.5), -0.1 * amount * h],
                          [w * (1 - s * 0.5), h + 0.1 * amount * h], [w * s * 0.5, h - 0.1 * amount * h]])  # fmt: skip
        return cv2.warpPerspective(
            frame, cv2.getPerspectiveTransform(src, dst), (w, h), borderMode=cv2.BORDER_REFLECT
        )

    n = len(face_frames)
    amounts = [0.0 if i < n // 3 else 1.3 for i in range(n)]
    template = write(
        tmp_path / "turned.mp4", [turn(f, a) for f, a in zip(face_frames, amounts, strict=True)]
    )
    track = faces.track(template, cache_dir=tmp_path)
    trust = track.trust()
    assert trust[: n // 3 - 3].min() > 0.9
    assert (trust[n // 3 + 3 :] < 0.1).all()
    plan = plan_frames(track, speech, None, n)
    # The edit fades out over a few frames before the turn, not at once.
    ramp = plan.strength[n // 3 - 6 : n // 3 + 1]
    assert ramp[0] > 0.9 and ramp[-1] < 0.1 and 0.1 < ramp[len(ramp) // 2] < 0.9
    out = ClassicEngine(cache_dir=tmp_path, crf=10, min_coverage=0.1).render(
        template=template, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    source = list(media.iter_frames(template, fps=FPS))
    output = list(media.iter_frames(out.path, fps=FPS))
    for i in range(n // 3 + 4, n):
        assert local_change(output[i], source[i]) < 6.0, i


def test_a_face_that_leaves_and_returns(face_frames, speech, tmp_path) -> None:
    n = len(face_frames)
    gone = range(n // 3, n // 3 + 15)
    blank = np.full_like(face_frames[0], 200)
    frames = [blank if i in gone else f for i, f in enumerate(face_frames)]
    template = write(tmp_path / "leaves.mp4", frames)
    track = faces.track(template, cache_dir=tmp_path)
    assert not track.present[gone.start + 1 : gone.stop - 1].any()
    assert track.present[: gone.start - 1].all() and track.present[gone.stop + 1 :].all()
    out = ClassicEngine(cache_dir=tmp_path, crf=10).render(
        template=template, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    output = list(media.iter_frames(out.path, fps=FPS))
    assert len(output) == out.frames
    for i in gone:  # frames without the face pass through
        assert np.abs(output[i].astype(int) - 200).mean() < 2.0
    assert 0.5 < out.coverage < 0.9


def test_too_little_usable_face_fails_with_a_sentence(face_frames, speech, tmp_path) -> None:
    blank = np.full_like(face_frames[0], 90)
    frames = [f if i < 8 else blank for i, f in enumerate(face_frames)]
    template = write(tmp_path / "brief.mp4", frames)
    track = faces.track(template, cache_dir=tmp_path)
    with pytest.raises(FaceError) as caught:
        ClassicEngine(cache_dir=tmp_path).render(
            template=template,
            track=track,
            audio=speech,
            audio_path=SPEECH,
            out_path=tmp_path / "o.mp4",
        )
    assert "usable in only" in caught.value.message
    assert caught.value.code == "face_too_little"
    assert f"only {caught.value.params['percent']} %" in caught.value.message
    assert not (tmp_path / "o.mp4").exists()


def test_two_faces_the_chosen_one_speaks(face_frames, speech, tmp_path) -> None:
    """Two people: the larger is the default; choosing the other moves only her mouth."""
    small = [cv2.resize(f, (160, 160), interpolation=cv2.INTER_AREA) for f in face_frames]
    frames = []
    for big, little in zip(face_frames, small, strict=True):
        canvas = np.full((256, 448, 3), 230, np.uint8)
        canvas[:, :256] = big
        canvas[48:208, 272:432] = little
        frames.append(canvas)
    template = write(tmp_path / "two.mp4", frames)
    found = faces.list_faces(template)
    assert len(found) == 2
    assert found[0].hint.x < 0.5 < found[1].hint.x  # the larger face first
    assert found[0].thumbnail.shape == (faces.THUMB, faces.THUMB, 3)

    track = faces.track(template, cache_dir=tmp_path, face=found[1].hint)
    assert np.nanmin(track.boxes[:, 0]) > 256  # followed the small face on the right
    out = ClassicEngine(cache_dir=tmp_path, crf=10).render(
        template=template, track=track, audio=speech, audio_path=SPEECH, out_path=tmp_path / "o.mp4"
    )
    output = list(media.iter_frames(out.path, fps=FPS))
    source = list(media.iter_frames(template, fps=FPS))
    left = max(local_change(o[:, :250], s[:, :250]) for o, s in zip(output, source, strict=False))
    right = max(local_change(o[:, 272:], s[:, 272:]) for o, s in zip(output, source, strict=False))
    assert left < 6.0 and right > 15.0
    # Without a choice the default (larger) face is tracked.
    default = faces.track(template, cache_dir=tmp_path)
    assert np.nanmax(default.boxes[:, 2]) < 256


def test_a_synthesised_opening_is_as_soft_and_muted_as_the_face(face_frames) -> None:
    """Where the template never shows an open mouth, the opening is painted in the lips' own
    colours, then blurred and grained like the face: no sharper and no more saturated."""
    frame = face_frames[0]
    landmarks = faces.detect_landmarks(frame)
    assert landmarks is not None
    # Tell the engine her lips are shut (as on a closed-mouth template): it must paint.
    shut = landmarks.copy()
    shut[faces.K_INNER_LOWER] = shut[faces.K_INNER_UPPER]
    reference = MouthReference(half_width=float(mouths.describe(landmarks)[1]))
    opened = animate_frame(frame, shut, MouthPose(1.0), reference)
    found = faces.detect_landmarks(opened)
    assert found is not None and faces.lip_gap(found) > 0.06
    inner = np.concatenate([found[faces.K_INNER_UPPER], found[faces.K_INNER_LOWER][::-1]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], (1,))
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
    lips = np.concatenate([found[faces.K_OUTER_LOWER], found[faces.K_INNER_LOWER][::-1]])
    lip_mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(lip_mask, [np.round(lips).astype(np.int32)], (1,))
    lip_mask = lip_mask.astype(bool) & ~mask
    hsv = cv2.cvtColor(opened, cv2.COLOR_RGB2HSV).astype(np.float32)
    # Not the saturated red of a drawing: no more saturated than the lips beside it.
    assert hsv[..., 1][mask].mean() <= hsv[..., 1][lip_mask].mean() + 40
    assert hsv[..., 2][mask].mean() < hsv[..., 2][lip_mask].mean()  # and darker: a cavity
    # Softness: the painted area's detail is no crisper than the face's own around the eyes.
    grey = cv2.cvtColor(opened, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
    eyes = np.round(found[[faces.K_EYE_OUTER_L, faces.K_EYE_OUTER_R]]).astype(int)
    around_eyes = lap[eyes[:, 1].min() - 6 : eyes[:, 1].max() + 6, eyes[0, 0] : eyes[1, 0]]
    assert lap[mask].mean() <= 1.5 * around_eyes.mean()


def test_the_mouth_library_is_analysed_once_per_template(tmp_path) -> None:
    track = faces.track(FACE, cache_dir=tmp_path)
    before = mouths.LIBRARY_RUNS
    first = mouths.analyse(FACE, track, cache_dir=tmp_path)
    second = mouths.analyse(FACE, track, cache_dir=tmp_path)
    assert before + 1 == mouths.LIBRARY_RUNS
    assert len(first) == len(second) >= 1
    assert np.array_equal(first.patches, second.patches)
    # Another face's track (a different chosen face) is another library.
    other = dataclasses.replace(track, landmarks=track.landmarks + 1.0)
    mouths.analyse(FACE, other, cache_dir=tmp_path)
    assert before + 2 == mouths.LIBRARY_RUNS


def test_columns_beyond_the_mouths_reach_do_not_move(face_frames) -> None:
    """The warp's sideways stretch ends at its reach: columns further out (cheeks, hair,
    background beside a wide or tilted face) keep their own pixels instead of copying the
    column at the reach (a smear the old engine drew beside the cheek)."""
    from rendering.engines.classic import _MouthModel

    landmarks = faces.detect_landmarks(face_frames[0])
    assert landmarks is not None
    reference = MouthReference(half_width=float(mouths.describe(landmarks)[1]) * 1.3)
    model = _MouthModel(landmarks, MouthPose(1.0, width=1.0), reference)
    xs = (
        model.xm
        + np.concatenate([np.linspace(-1.2, -1.01, 5), np.linspace(1.01, 1.2, 5)]) * model.reach
    )
    for dy in (0.02, 0.1, 0.2):
        points = np.stack([xs, np.full_like(xs, model.top + dy)], 1)
        assert np.abs(model.backward_map(points) - points).max() < 1e-6


def test_a_talking_template_speaks_with_its_own_mouths(speech, tmp_path) -> None:
    """A template whose own mouth moves (made here: the fixture face speaking the fixture
    speech through the warp-only engine) gives a library of open mouths, and a render with
    other audio reuses them and still follows the new sound."""
    from rendering import quality
    from rendering.engines.classic import plan_frames

    track0 = faces.track(FACE, cache_dir=tmp_path)
    talking = tmp_path / "talking.mp4"
    ClassicEngine(library=False, crf=12).render(
        template=FACE, track=track0, audio=speech, audio_path=SPEECH, out_path=talking
    )
    track = faces.track(talking, cache_dir=tmp_path)
    library = mouths.analyse(talking, track, cache_dir=tmp_path)
    assert library.opens and len(library) >= 4
    assert float(np.ptp(library.gap)) > 0.05  # closed to open, not one shape

    # Other words: the same speech backwards drives it.
    samples = media.read_audio(SPEECH)
    other = tmp_path / "other.wav"
    import wave

    with wave.open(str(other), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((samples[::-1] * 32767).astype("<i2").tobytes())
    features = analyse(other, cache_dir=None)
    plan = plan_frames(track, features, library, round(features.duration * FPS))
    assert np.count_nonzero(plan.choice != mouths.OWN) > 0.2 * len(plan.choice)
    result = ClassicEngine(cache_dir=tmp_path).render(
        template=talking, track=track, audio=features, audio_path=other, out_path=tmp_path / "o.mp4"
    )
    report = quality.assess(
        result.path, features, template=talking, track=track, coverage=result.coverage
    )
    assert report.sync is not None and report.sync > 0.6
    assert report.best_offset is not None and abs(report.best_offset) <= 1


def test_a_brief_closure_is_not_a_wide_open_mouth_squeezed_shut() -> None:
    """A singer's wide-open mouth held through a brief closure was squeezed shut by the
    warp: tongue and teeth smeared into a squashed lower lip. A closed-enough appearance
    is shown instead, even one a little off in width and head turn."""
    library = mouths.MouthLibrary(
        centre=np.zeros(2), density=60.0,
        patches=np.zeros((2, 4, 4, 3), np.uint8), contours=np.zeros((2, 4, 11, 2), np.float32),
        gap=np.array([0.19, 0.08], np.float32), width=np.array([0.30, 0.33], np.float32),
        teeth=np.zeros(2, np.float32), sharpness=np.ones(2, np.float32),
        turn=np.array([0.0, 0.35], np.float32), frames=np.arange(2, dtype=np.int32),
    )  # fmt: skip
    wanted = np.array([0.19] * 6 + [0.015, 0.02] + [0.19] * 6)
    n = len(wanted)
    nan = np.full(n, np.nan)  # the template frames' own mouths are not on offer
    choice = mouths.choose(library, wanted, np.full(n, 0.30), nan, nan, np.zeros(n))
    assert list(choice[6:8]) == [1, 1]
    assert choice[0] == 0 and choice[-1] == 0
