"""A turned head's new mouth follows the pose: the lips curve round the teeth, so the
opening of a head turned to one side peaks towards its far corner, where the middle of
its lips is, and the far half of the mouth is foreshortened (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest

from rendering import face_model, faces, media, mouths
from rendering.engines.classic import MouthPose, MouthReference, animate_frame, wanted_lips
from rendering.face_model import HeadPose
from tests.rendering.plain_av import FACE
from tests.rendering.turned_faces import turn_head


def canonical_face(yaw: float) -> np.ndarray:
    return face_model.project(faces.MESH_IDS, HeadPose(yaw, 0.0, 0.0), eye_distance=120.0)


def opening_peak(landmarks: np.ndarray, openness: float = 1.0) -> tuple[float, float]:
    """Where the wanted opening is widest, and where the lips' middle is (face units from
    the mouth corners' midpoint, > 0 to the image's right)."""
    reference = MouthReference(half_width=float(mouths.describe(landmarks)[1]))
    lips = wanted_lips(landmarks, MouthPose(openness), reference)
    frame = faces.face_frame(landmarks)
    upper, lower = frame.to_face(lips[1]), frame.to_face(lips[2])
    gap = lower[:, 1] - upper[:, 1]
    k = int(np.argmax(gap))
    # The peak between samples: a parabola through the highest sample and its neighbours.
    a, b, c = gap[k - 1], gap[k], gap[k + 1]
    step = float(upper[k + 1, 0] - upper[k, 0])
    peak = float(upper[k, 0]) + 0.5 * step * (a - c) / (a - 2 * b + c)
    corners = frame.to_face(landmarks[[faces.K_MOUTH_L, faces.K_MOUTH_R]])
    centre = float(corners[:, 0].mean())
    lips_middle = float(frame.to_face(landmarks[faces.K_INNER_UPPER[5]][None])[0, 0])  # vertex 13
    return peak - centre, lips_middle - centre


def test_a_frontal_mouth_opens_symmetrically() -> None:
    peak, middle = opening_peak(canonical_face(0.0))
    assert abs(peak) < 0.003 and abs(middle) < 1e-3


@pytest.mark.parametrize("yaw", [-25.0, 15.0, 25.0, 35.0])
def test_a_turned_mouth_opens_most_at_the_middle_of_its_lips(yaw: float) -> None:
    """The canonical face turned by a known angle: the opening peaks where the middle of
    its lips is seen (drawn as if frontal, it peaked at the corners' midpoint, 0.03-0.09
    eye distances off), on the side the nose points to."""
    peak, middle = opening_peak(canonical_face(yaw))
    assert np.sign(middle) == np.sign(yaw) and abs(middle) > 0.025
    assert abs(peak - middle) < 0.012
    assert abs(peak) > 0.6 * abs(middle)


def test_a_photo_turned_25_degrees_opens_towards_its_far_corner() -> None:
    """A real face (the astronaut fixture) turned 25 degrees in 3D: the painted opening's
    darkest columns lie towards the far corner, as its lips' middle does."""
    photo = next(media.iter_frames(FACE))
    turned = turn_head(photo, 25.0)
    landmarks = faces.detect_landmarks(turned)
    assert landmarks is not None
    pose = faces.head_pose(landmarks)
    assert pose is not None and pose.yaw > 12.0
    peak, middle = opening_peak(landmarks)
    assert middle > 0.02 and peak > 0.5 * middle
    reference = MouthReference(half_width=0.25)
    output = animate_frame(turned, landmarks, MouthPose(1.0), reference)
    # Darkening per column across the mouth, weighted: its centre lies right of the corners'
    # midpoint, as the lips' middle does.
    frame = faces.face_frame(landmarks)
    darker = np.clip(turned.astype(np.float32).mean(2) - output.astype(np.float32).mean(2), 0, None)
    ys, xs = np.nonzero(darker > 20)
    assert len(xs) > 30
    centre = frame.to_face(np.stack([xs, ys], 1).astype(np.float64))
    corners = frame.to_face(landmarks[[faces.K_MOUTH_L, faces.K_MOUTH_R]])
    weights = darker[ys, xs]
    mean_x = float(np.average(centre[:, 0], weights=weights)) - float(corners[:, 0].mean())
    assert mean_x > 0.4 * middle
