from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from rendering import faces
from rendering.errors import FaceError
from tests.rendering.plain_av import FACE, FPS, no_face_frames, write_video

# Fixtures (face_frames, shared_cache) shared with the other engine tests.
pytest_plugins = ["tests.rendering.face_fixtures"]


def test_it_tracks_the_fixture_face_in_every_frame(shared_cache: Path) -> None:
    track = faces.track(FACE, cache_dir=shared_cache)

    assert track.n_frames == 75
    assert track.fps == FPS
    assert (track.width, track.height) == (256, 256)
    assert track.present.all()
    assert track.landmarks.shape == (75, faces.N_LANDMARKS, 2)
    # The mouth sits in the lower half of the face box, between the box's sides.
    centres = track.mouth_centres()
    boxes = track.boxes
    assert np.all(centres[:, 0] > boxes[:, 0]) and np.all(centres[:, 0] < boxes[:, 2])
    assert np.all(centres[:, 1] > (boxes[:, 1] + boxes[:, 3]) / 2)


def test_it_raises_a_face_error_with_a_sentence_when_no_frame_shows_a_face(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "no-face.mp4", no_face_frames(8))

    with pytest.raises(FaceError) as caught:
        faces.track(video, cache_dir=tmp_path / "cache")

    assert "could not find a face" in caught.value.message
    assert caught.value.message.endswith(".")


def test_it_marks_frames_without_a_face_as_absent(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    blank = no_face_frames(4, size=256)
    video = write_video(tmp_path / "gap.mp4", face_frames[:6] + blank + face_frames[6:12])

    track = faces.track(video, cache_dir=None)

    assert track.present.tolist() == [True] * 6 + [False] * 4 + [True] * 6
    assert np.isnan(track.landmarks[6:10]).all()
    assert np.isfinite(track.landmarks[:6]).all() and np.isfinite(track.landmarks[10:]).all()


def _two_faces(frame: np.ndarray) -> np.ndarray:
    canvas = np.full((384, 384, 3), 200, np.uint8)
    canvas[:256, :256] = frame
    canvas[-160:, -160:] = cv2.resize(frame, (160, 160), interpolation=cv2.INTER_AREA)
    return canvas


def test_it_keeps_the_largest_of_several_faces(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    frames = [_two_faces(f) for f in face_frames[:10]]
    # Both faces are findable: without the big one, the small one is detected.
    only_small = frames[0].copy()
    only_small[:256, :256] = 200
    small = faces.detect_landmarks(only_small)
    assert small is not None and small[:, 0].min() > 224

    video = write_video(tmp_path / "two.mp4", frames)
    track = faces.track(video, cache_dir=None)

    assert track.present.all()
    assert np.all(track.boxes[:, 2] < 256) and np.all(track.boxes[:, 3] < 256)
    still = faces.detect_landmarks(frames[0])
    assert still is not None and still[:, 0].max() < 256


def test_it_reuses_a_cached_track_even_from_another_path(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = faces.track(FACE, cache_dir=cache)
    runs = faces.TRACK_RUNS

    again = faces.track(FACE, cache_dir=cache)
    copy = shutil.copy(FACE, tmp_path / "renamed.mp4")
    from_copy = faces.track(Path(copy), cache_dir=cache)

    assert runs == faces.TRACK_RUNS
    np.testing.assert_array_equal(again.landmarks, first.landmarks)
    np.testing.assert_array_equal(from_copy.present, first.present)
    assert from_copy.content_hash == first.content_hash


def test_it_tracks_again_when_there_is_no_cache(
    tmp_path: Path, face_frames: list[np.ndarray]
) -> None:
    video = write_video(tmp_path / "short.mp4", face_frames[:5])
    runs = faces.TRACK_RUNS

    faces.track(video, cache_dir=None)
    faces.track(video, cache_dir=None)

    assert runs + 2 == faces.TRACK_RUNS


def test_it_round_trips_a_track_through_npz(tmp_path: Path, shared_cache: Path) -> None:
    track = faces.track(FACE, cache_dir=shared_cache)
    track.save(tmp_path / "track.npz")

    loaded = faces.FaceTrack.load(tmp_path / "track.npz")

    assert (loaded.fps, loaded.n_frames, loaded.content_hash) == (
        track.fps,
        track.n_frames,
        track.content_hash,
    )
    np.testing.assert_array_equal(loaded.landmarks, track.landmarks)


def test_it_smooths_jitter_without_delaying_motion() -> None:
    t = np.arange(60, dtype=np.float64)
    motion = np.where(t < 30, 0.0, 10.0)[:, None]  # a step: a lagging filter shifts it
    jitter = np.random.default_rng(0).normal(0, 0.5, size=(60, 1))
    present = np.ones(60, dtype=bool)

    smoothed = faces._smooth(motion + jitter, present, 1.0)

    assert np.std(smoothed[:25] - 0.0) < np.std(jitter[:25])
    # Zero phase: the step's midpoint stays between frames 29 and 30.
    crossing = int(np.argmax(smoothed[:, 0] > 5.0))
    assert crossing == 30


def test_lower_face_polygon_covers_the_mouth_and_not_the_eyes(shared_cache: Path) -> None:
    track = faces.track(FACE, cache_dir=shared_cache)
    polygon = track.lower_face_polygon(0)
    assert polygon is not None
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    landmarks = track.landmarks[0]

    def inside(point: np.ndarray) -> bool:
        return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) > 0

    assert inside(track.mouth_centres()[0])
    assert inside(landmarks[faces.K_CHIN])
    assert not inside(landmarks[faces.K_EYE_OUTER_L])
    assert not inside(landmarks[faces.K_NOSE_TIP])


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],
        lambda b: b[:100] + bytes(len(b) - 100),
        lambda b: b"not a zip at all",
    ],
    ids=["truncated", "zeroed", "garbage"],
)
def test_a_damaged_cached_track_is_recomputed_not_a_crash(tmp_path: Path, damage) -> None:
    cache_dir = tmp_path / "cache"
    first = faces.track(FACE, cache_dir=cache_dir)
    (entry,) = [p for p in cache_dir.rglob("*") if p.is_file()]
    entry.write_bytes(damage(entry.read_bytes()))
    runs = faces.TRACK_RUNS
    again = faces.track(FACE, cache_dir=cache_dir)
    assert runs + 1 == faces.TRACK_RUNS
    assert np.array_equal(again.present, first.present)
    assert (
        faces.FaceTrack.from_bytes(entry.read_bytes()).n_frames == first.n_frames
    )  # rewritten whole
