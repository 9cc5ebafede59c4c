"""Head pose in degrees from face-mesh landmarks, against mediapipe's canonical 3D face.

The 3D points are the vertices of ``canonical_face_model.obj`` from mediapipe's face
geometry module (Apache License 2.0, Copyright The MediaPipe Authors), in its units
(centimetres; x to the face's left as seen by the camera, y up, z towards the camera),
for the mesh vertices a :class:`rendering.faces.FaceTrack` keeps. The 0.10.21 wheel does
not ship that file, so the few points we need are copied here.

``head_pose`` fits the model to a frame's landmarks with ``cv2.solvePnP`` and reads yaw,
pitch and roll off the fitted rotation. The camera is unknown: we assume a focal length that
puts the face about 60 cm from the lens, which is what phone and webcam clips show; the
angles barely depend on it (a face is shallow next to its distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Mesh vertex -> (x, y, z) of the canonical face model.
CANONICAL: dict[int, tuple[float, float, float]] = {
    61: (-2.4562, -4.3426, 4.2839),
    185: (-2.2853, -4.0512, 4.5824),
    40: (-1.9149, -3.8031, 5.0289),
    39: (-1.4316, -3.5010, 5.4962),
    37: (-0.7115, -3.3294, 5.8770),
    0: (0.0000, -3.4064, 5.9795),
    267: (0.7115, -3.3294, 5.8770),
    269: (1.4316, -3.5010, 5.4962),
    270: (1.9149, -3.8031, 5.0289),
    409: (2.2853, -4.0512, 4.5824),
    291: (2.4562, -4.3426, 4.2839),
    146: (-2.1961, -4.5983, 4.4798),
    91: (-1.8386, -4.8287, 4.8237),
    181: (-1.3251, -5.1065, 5.2050),
    84: (-0.6996, -5.2919, 5.4483),
    17: (0.0000, -5.3651, 5.5354),
    314: (0.6996, -5.2919, 5.4483),
    405: (1.3251, -5.1065, 5.2050),
    321: (1.8386, -4.8287, 4.8237),
    375: (2.1961, -4.5983, 4.4798),
    78: (-2.1531, -4.2763, 4.0381),
    191: (-1.8451, -4.0989, 4.2473),
    80: (-1.4691, -4.0364, 4.6049),
    81: (-1.0243, -3.9899, 4.9267),
    82: (-0.5334, -3.9932, 5.1382),
    13: (0.0000, -3.9944, 5.2195),
    312: (0.5334, -3.9932, 5.1382),
    311: (1.0243, -3.9899, 4.9267),
    310: (1.4691, -4.0364, 4.6049),
    415: (1.8451, -4.0989, 4.2473),
    308: (2.1531, -4.2763, 4.0381),
    95: (-1.8266, -4.3995, 4.3990),
    88: (-1.5372, -4.4232, 4.7455),
    178: (-1.0988, -4.4588, 5.1207),
    87: (-0.5832, -4.5180, 5.3399),
    14: (0.0000, -4.5424, 5.4048),
    317: (0.5832, -4.5180, 5.3399),
    402: (1.0988, -4.4588, 5.1207),
    318: (1.5372, -4.4232, 4.7455),
    324: (1.8266, -4.3995, 4.3990),
    234: (-7.6642, 0.6731, -2.4359),
    93: (-7.5422, -1.0493, -2.4313),
    132: (-7.2709, -2.8909, -2.2525),
    58: (-6.7197, -4.7886, -1.7454),
    172: (-5.9405, -6.2236, -0.6315),
    136: (-5.0853, -7.1786, 0.7147),
    150: (-4.0689, -7.9931, 1.9251),
    149: (-3.2107, -8.5333, 2.8020),
    176: (-2.3090, -8.9742, 3.6091),
    148: (-1.2929, -9.2959, 4.0941),
    152: (0.0000, -9.4034, 4.2645),
    377: (1.2929, -9.2959, 4.0941),
    400: (2.3090, -8.9742, 3.6091),
    378: (3.2107, -8.5333, 2.8020),
    379: (4.0689, -7.9931, 1.9251),
    365: (5.0853, -7.1786, 0.7147),
    397: (5.9405, -6.2236, -0.6315),
    288: (6.7197, -4.7886, -1.7454),
    361: (7.2709, -2.8909, -2.2525),
    323: (7.5422, -1.0493, -2.4313),
    454: (7.6642, 0.6731, -2.4359),
    33: (-4.4459, 2.6640, 3.1734),
    133: (-1.8564, 2.5852, 3.7579),
    362: (1.8564, 2.5852, 3.7579),
    263: (4.4459, 2.6640, 3.1734),
    168: (0.0000, 3.2710, 5.2360),
    6: (0.0000, 2.4733, 5.7886),
    1: (0.0000, -1.1269, 7.4756),
    2: (0.0000, -2.0890, 6.0583),
    98: (-1.4056, -1.7142, 5.2411),
    327: (1.4056, -1.7142, 5.2411),
}

_EYE_SPAN_CM = float(np.hypot(*(np.subtract(CANONICAL[263], CANONICAL[33])[:2])))
_DISTANCE_CM = 60.0


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees, 0 0 0 looking straight into the camera.

    yaw > 0: the nose points to the image's right; pitch > 0: the face looks up;
    roll > 0: the eye line turns clockwise on screen.
    """

    yaw: float
    pitch: float
    roll: float


def model_points(mesh_ids: tuple[int, ...]) -> np.ndarray:
    """The model's 3D points for these mesh vertices in camera axes (x right, y down, z away
    from the camera), so a frontal face has no rotation."""
    return np.array([CANONICAL[i] for i in mesh_ids], dtype=np.float64) * np.array(
        [1.0, -1.0, -1.0]
    )


def head_pose(
    landmarks: np.ndarray, mesh_ids: tuple[int, ...], *, use: np.ndarray | None = None
) -> HeadPose | None:
    """Yaw, pitch and roll of the face whose landmarks (K x 2 image coordinates, in the
    order of ``mesh_ids``) are given, or None when they do not describe a face.

    ``use``: the positions (into ``mesh_ids``) to fit on; by default all of them.
    """
    picked = np.arange(len(mesh_ids)) if use is None else np.asarray(use)
    image = np.asarray(landmarks, dtype=np.float64)[picked]
    if not np.isfinite(image).all() or len(image) < 6:
        return None
    world = model_points(mesh_ids)[picked]
    # Pixels per centimetre at the face, from its less foreshortened extent (a turn narrows
    # it, a nod shortens it), so the focal length puts it _DISTANCE_CM away.
    extent = np.ptp(image, axis=0) / np.maximum(np.ptp(world[:, :2], axis=0), 1e-6)
    if float(extent.max()) < 1e-3:
        return None
    focal = float(extent.max()) * _DISTANCE_CM
    # The camera's centre is unknown: assume it looks at the head (the model's origin, inside
    # the head behind the nose, on the optical axis), found by fitting twice.
    centre = image.mean(axis=0)
    rvec: np.ndarray = np.zeros((3, 1))
    tvec: np.ndarray = np.array([[0.0], [0.0], [_DISTANCE_CM]])
    for _ in range(3):
        camera = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
        ok, found_r, found_t = cv2.solvePnP(
            world, image, camera, np.zeros(4), rvec=rvec, tvec=tvec, useExtrinsicGuess=True,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )  # fmt: skip
        rvec, tvec = np.asarray(found_r, np.float64), np.asarray(found_t, np.float64)
        if not ok or tvec[2, 0] <= 0:
            return None
        # Where the head's origin appears: the centre for the next fit.
        centre = centre + focal * tvec[:2, 0] / tvec[2, 0]
        tvec = np.array([[0.0], [0.0], [tvec[2, 0]]])
    rotation, _ = cv2.Rodrigues(rvec)
    return _angles(rotation)


def _angles(rotation: np.ndarray) -> HeadPose:
    r"""Split a rotation into roll (on screen) after pitch after yaw: R = Rz Rx Ry, the
    order \`\`project\`\` builds, so each angle reads as a person would name it."""
    pitch = math.asin(float(np.clip(-rotation[2, 1], -1.0, 1.0)))
    roll = math.atan2(-rotation[0, 1], rotation[1, 1])
    unrolled = _turn_z(-roll) @ rotation
    unpitched = _turn_x(-pitch) @ unrolled
    yaw = math.atan2(-unpitched[0, 2], unpitched[0, 0])
    return HeadPose(yaw=math.degrees(yaw), pitch=math.degrees(pitch), roll=math.degrees(roll))


def _turn_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _turn_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def _turn_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def project(
    mesh_ids: tuple[int, ...],
    pose: HeadPose,
    *,
    eye_distance: float = 100.0,
    centre: tuple[float, float] = (256.0, 256.0),
    distance_cm: float = _DISTANCE_CM,
) -> np.ndarray:
    """Image coordinates (K x 2) of the canonical face turned by ``pose`` and seen by a
    pinhole camera from ``distance_cm``: faces at known angles, for tests and benches.
    ``eye_distance`` is the frontal face's outer eye-corner distance in pixels."""
    yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    # Nose to the image right for yaw > 0 (about y), up for pitch > 0 (about x),
    # clockwise for roll > 0 (about z), in camera axes (x right, y down, z away).
    rotation = _turn_z(roll) @ _turn_x(pitch) @ _turn_y(yaw)
    # The head's origin sits on the optical axis, as the fit assumes.
    points = model_points(mesh_ids) @ rotation.T
    points[:, 2] += distance_cm
    focal = eye_distance / _EYE_SPAN_CM * distance_cm
    xy = focal * points[:, :2] / points[:, 2:3]
    return np.asarray(xy + np.asarray(centre), dtype=np.float32)


# Past this turn the lips' far corner slips behind the lip's own curve (the canonical outer
# lip's projection stops being monotone at about 36 degrees): the profile stops turning.
PROFILE_MAX_YAW = 34.0


def mouth_profile(
    yaw: float, mesh_ids: tuple[int, ...], *, samples: int = 21
) -> tuple[np.ndarray, np.ndarray]:
    """Where points across a lip contour appear when the head is turned by ``yaw`` degrees.

    ``mesh_ids``: one lip contour's vertices, from one mouth corner to the other. Returns
    ``(s, u)``, both increasing from -1 to 1: ``s`` is a point's position across the lip as
    a frontal camera sees it (-1 and 1 the corners), ``u`` where it appears in a camera
    that sees the head turned (-1 and 1 again the corners, 0 their midpoint). The lips curve
    round the teeth, so a turned mouth's middle moves towards the far corner: at 25 degrees
    it sits about a third of the half-width off the corners' midpoint, and the far half of
    the mouth is narrower than the near half. At 0 the two are the same.
    """
    model = model_points(mesh_ids)
    if model[0, 0] > model[-1, 0]:
        model = model[::-1]
    turned = model @ _turn_y(math.radians(float(np.clip(yaw, -PROFILE_MAX_YAW, PROFILE_MAX_YAW)))).T
    frontal_x, turned_x = model[:, 0], turned[:, 0]  # orthographic: the mouth is small
    s_known = 2.0 * (frontal_x - frontal_x[0]) / (frontal_x[-1] - frontal_x[0]) - 1.0
    u_known = 2.0 * (turned_x - turned_x[0]) / (turned_x[-1] - turned_x[0]) - 1.0
    # Kept strictly increasing so it inverts (it is, up to PROFILE_MAX_YAW, but barely).
    u_known = np.maximum.accumulate(u_known + np.linspace(0.0, 1e-4, len(u_known)))
    u_known = (u_known - u_known[0]) / (u_known[-1] - u_known[0]) * 2.0 - 1.0
    s = np.linspace(-1.0, 1.0, samples)
    return s, np.interp(s, s_known, u_known)
