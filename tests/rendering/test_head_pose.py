"""Head pose in degrees, and how far the engine edits a turned head.

The exact check projects mediapipe's canonical 3D face at known angles through a pinhole
camera; the photo check turns real faces (two public-domain photos) in 3D by warping them
along the face mesh, and finds them again with the real tracker.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rendering import face_model, faces
from rendering.face_model import HeadPose
from tests.rendering.plain_av import FACE

pytest_plugins = ["tests.rendering.face_fixtures"]


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"),
    [(0, 0, 0), (15, 0, 0), (-25, 0, 0), (35, 0, 0), (45, 0, 0), (0, 20, 0), (0, -15, 0),
     (0, 0, 25), (30, 10, -15), (-40, -12, 20)],
)  # fmt: skip
def test_it_recovers_known_angles_of_the_canonical_face(
    yaw: float, pitch: float, roll: float
) -> None:
    # Close to the lens and far: the fit assumes 60 cm, the camera is unknown.
    for distance in (40.0, 60.0, 120.0, 300.0):
        landmarks = face_model.project(
            faces.MESH_IDS, HeadPose(yaw, pitch, roll), eye_distance=80.0, distance_cm=distance
        )
        pose = faces.head_pose(landmarks)
        assert pose is not None
        assert abs(pose.yaw - yaw) < 3.5, (distance, pose)
        assert abs(pose.pitch - pitch) < 1.5, (distance, pose)
        assert abs(pose.roll - roll) < 1.0, (distance, pose)


def test_the_pose_ignores_the_mouth() -> None:
    """Speaking moves the lips and the chin, not the head: the fit leaves them out."""
    landmarks = face_model.project(faces.MESH_IDS, HeadPose(20, 5, 0), eye_distance=100.0)
    opened = landmarks.copy()
    lower = np.concatenate([faces.K_OUTER_LOWER, faces.K_INNER_LOWER, faces.K_JAW[4:-4]])
    opened[lower, 1] += 30.0  # a wide-open jaw
    closed_pose, open_pose = faces.head_pose(landmarks), faces.head_pose(opened)
    assert closed_pose is not None and open_pose is not None
    assert abs(closed_pose.yaw - open_pose.yaw) < 0.5
    assert abs(closed_pose.pitch - open_pose.pitch) < 0.5


@pytest.mark.parametrize("yaw", [0, 10, 20, 25, 28, -28, 30, -30])
def test_turns_up_to_30_degrees_are_edited_fully(yaw: float) -> None:
    landmarks = face_model.project(faces.MESH_IDS, HeadPose(yaw, 0, 0), eye_distance=60.0)
    # At exactly 30 degrees the fit's fraction of a degree may start the fade, barely.
    assert faces.frame_trust(landmarks) >= (0.97 if abs(yaw) == 30 else 0.999)


def test_the_edit_fades_out_between_30_and_45_degrees() -> None:
    trust = [
        faces.frame_trust(
            face_model.project(faces.MESH_IDS, HeadPose(yaw, 0, 0), eye_distance=60.0)
        )
        for yaw in (32, 36, 40, 44, 46, 60)
    ]
    assert 0.7 < trust[0] < 1.0 and trust[-2] == 0.0 and trust[-1] == 0.0
    assert all(a > b for a, b in itertools.pairwise(trust[:5]))


def test_a_turned_head_is_not_also_too_small() -> None:
    """The eye corners come closer as the head turns; the size test uses the frontal size."""
    small = faces.MIN_EYE_DISTANCE * 1.6
    frontal = face_model.project(faces.MESH_IDS, HeadPose(0, 0, 0), eye_distance=small)
    turned = face_model.project(faces.MESH_IDS, HeadPose(28, 0, 0), eye_distance=small)
    assert faces.trust_parts(frontal).size == pytest.approx(1.0)
    assert faces.trust_parts(turned).size == pytest.approx(1.0)


def test_the_fixture_face_looks_at_the_camera(shared_cache) -> None:
    track = faces.track(FACE, cache_dir=shared_cache)
    poses = [faces.head_pose(track.landmarks[i]) for i in range(track.n_frames)]
    assert all(p is not None and abs(p.yaw) < 12 and abs(p.pitch) < 15 for p in poses)
    assert faces.usable_share(track) == 1.0


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    from tests.rendering.turned_faces import framed_photo

    return [framed_photo("astronaut"), framed_photo("hopper")]


def test_real_faces_turned_in_3d_read_as_turned_and_are_edited_to_30_degrees(
    photos: list[np.ndarray],
) -> None:
    from tests.rendering.turned_faces import mesh_with_depth, turn_head

    for photo in photos:
        mesh = mesh_with_depth(photo)
        measured = []
        for degrees in (0, 15, 30, -30, 50):
            landmarks = faces.detect_landmarks(turn_head(photo, degrees, mesh))
            assert landmarks is not None, degrees
            pose = faces.head_pose(landmarks)
            assert pose is not None
            measured.append(pose.yaw)
            if abs(degrees) <= 30:
                assert faces.frame_trust(landmarks) > 0.99, (degrees, pose)
        # Turning further reads as further, on the side it was turned to.
        assert measured[0] < measured[1] < measured[2] < measured[4]
        assert measured[3] < -10 and measured[2] > 10
        assert abs(measured[0]) < 8


def test_values_by_landmarks_are_kept_by_value_and_the_oldest_go_first() -> None:
    made: list[float] = []

    def make(landmarks: np.ndarray) -> float:
        made.append(float(landmarks[0, 0]))
        return float(landmarks.sum())

    kept = faces.ByLandmarks(make, kept=2)
    first = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    assert kept(first) == 10.0
    assert kept(first.astype(np.float64).copy()) == 10.0  # the same values: not made again
    assert made == [1.0]
    kept(first + 1)
    kept(first + 2)  # a third: the first goes
    assert len(kept) == 2
    kept(first)
    assert made == [1.0, 2.0, 3.0, 1.0]
