"""Face tracking for templates: one face box and a small set of landmarks per frame.

The landmark model is mediapipe's face mesh (shipped inside the ``mediapipe==0.10.21`` wheel,
so nothing is downloaded). We keep only the points the engines and the sync measure need:
the lips, the jaw line and a few points that stay put while the mouth moves (eyes, nose).

A track is computed once per template (by content hash) and cached as an ``.npz`` file
through :mod:`rendering.cache`; ``TRACK_RUNS`` counts real tracking runs so tests and
benchmarks can tell a cache hit from a recomputation.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import cv2
import numpy as np

from rendering import face_model, media
from rendering.cache import Cache
from rendering.errors import FaceError
from rendering.face_model import HeadPose

if TYPE_CHECKING:
    from rendering.media import Limits

T = TypeVar("T")

# Bump when the landmark set, the smoothing or the selection rules change: cached tracks
# made by an older version are then ignored rather than misread.
TRACK_VERSION = "3"

# Real tracking runs in this process (cache hits do not count). Tests and bench read it.
TRACK_RUNS = 0

# --- the landmark subset (mediapipe face-mesh indices) -----------------------------------
# Contours run from the image-left mouth corner to the image-right one, so each is a
# function of x for an upright face.
OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
JAW = (
    234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
    377, 400, 378, 379, 365, 397, 288, 361, 323, 454,
)  # fmt: skip
# Points that do not move with the mouth: eye corners, nose bridge, tip, base and wings.
STABLE = (33, 133, 362, 263, 168, 6, 1, 2, 98, 327)

MESH_IDS: tuple[int, ...] = tuple(
    dict.fromkeys(OUTER_UPPER + OUTER_LOWER + INNER_UPPER + INNER_LOWER + JAW + STABLE)
)
_POS = {mesh_id: k for k, mesh_id in enumerate(MESH_IDS)}


def _at(ids: Iterable[int]) -> np.ndarray:
    return np.array([_POS[i] for i in ids], dtype=np.intp)


# Positions inside a FaceTrack landmark row (K = len(MESH_IDS)).
K_OUTER_UPPER = _at(OUTER_UPPER)
K_OUTER_LOWER = _at(OUTER_LOWER)
K_INNER_UPPER = _at(INNER_UPPER)
K_INNER_LOWER = _at(INNER_LOWER)
K_JAW = _at(JAW)
K_EYE_OUTER_L, K_EYE_OUTER_R = _POS[33], _POS[263]
K_EYE_INNER_L, K_EYE_INNER_R = _POS[133], _POS[362]
K_NOSE_TIP, K_NOSE_BASE = _POS[1], _POS[2]
K_NOSE_WING_L, K_NOSE_WING_R = _POS[98], _POS[327]
K_MOUTH_L, K_MOUTH_R = _POS[61], _POS[291]
K_CHIN = _POS[152]
K_FACE_L, K_FACE_R = _POS[234], _POS[454]  # the face's side edges at the cheekbones
# Inner-lip pairs around the middle of the mouth (upper, lower) used for the lip gap.
_GAP_PAIRS = (_at((81, 82, 13, 312, 311)), _at((178, 87, 14, 317, 402)))

N_LANDMARKS = len(MESH_IDS)


# --- geometry on one landmark row ---------------------------------------------------------
@dataclass(frozen=True)
class FaceFrame:
    """A face-aligned coordinate frame: x along the eye line, y down, unit = eye distance.

    Built from points that do not move with the mouth, so mouth shapes from different
    frames (and heads at slightly different rolls and sizes) can be compared.
    """

    origin: np.ndarray  # (2,) image coordinates of the eye midpoint
    axes: np.ndarray  # (2, 2) rows: unit x axis, unit y axis, in image coordinates
    scale: float  # pixels per face unit (outer eye-corner distance)

    def to_face(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.origin) @ self.axes.T) / self.scale

    def to_image(self, points: np.ndarray) -> np.ndarray:
        return (points * self.scale) @ self.axes + self.origin


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    left, right = landmarks[K_EYE_OUTER_L], landmarks[K_EYE_OUTER_R]
    span = right - left
    scale = float(np.hypot(span[0], span[1]))
    if not np.isfinite(scale) or scale < 1e-3:
        raise ValueError("landmarks do not describe a face (eye corners coincide)")
    ux = span / scale
    uy = np.array([-ux[1], ux[0]])
    return FaceFrame(origin=(left + right) / 2.0, axes=np.stack([ux, uy]), scale=scale)


def lip_gap(landmarks: np.ndarray) -> float:
    """Inner-lip opening at the middle of the mouth, in eye-distance units (0 = closed)."""
    frame = face_frame(landmarks)
    upper = frame.to_face(landmarks[_GAP_PAIRS[0]])
    lower = frame.to_face(landmarks[_GAP_PAIRS[1]])
    return float(np.mean(np.maximum(lower[:, 1] - upper[:, 1], 0.0)))


def mouth_centre(landmarks: np.ndarray) -> np.ndarray:
    return np.asarray((landmarks[K_MOUTH_L] + landmarks[K_MOUTH_R]) / 2.0, dtype=np.float32)


def lower_face_polygon(landmarks: np.ndarray, *, chin_margin: float = 0.3) -> np.ndarray:
    """The region an engine may repaint, as an image-space polygon (P x 2 float32).

    It runs from just under the nose, out to the jaw line, and below the chin by
    ``chin_margin`` eye distances so a dropped jaw stays inside it.
    """
    frame = face_frame(landmarks)
    jaw = frame.to_face(landmarks[K_JAW])
    nose_base = frame.to_face(landmarks[K_NOSE_BASE][None])[0]
    top = nose_base[1] + 0.04
    lower = jaw[jaw[:, 1] > top]
    if len(lower) < 3:
        raise ValueError("landmarks do not describe a face (jaw above the nose)")
    # Follow the face's own contour; only around the chin reach lower, by what the moving
    # jaw needs. Pushing the sides out would take in hair, ears or background.
    lower = lower.copy()
    lower[:, 1] += chin_margin * np.clip((lower[:, 1] - top) / 0.6, 0.0, 1.0)
    left_x, right_x = float(lower[0, 0]), float(lower[-1, 0])
    poly = np.vstack([[[left_x, top]], lower, [[right_x, top]]])
    return np.asarray(frame.to_image(poly), dtype=np.float32)


# Points the pose is fitted on: the eyes, the nose and the face's sides by the ears, which
# stay put while the mouth moves (the lips and the chin would tilt the fit as they speak).
_POSE_IDS = _at(STABLE + JAW[:3] + JAW[-3:])


class ByLandmarks(Generic[T]):
    """``make(landmarks)`` kept by the landmarks' bytes, the last ``kept`` of them.

    One frame's face is asked about again and again: the face check, the plan and the
    mouth library of a render each read every frame's head pose, and a template looped
    under a longer audio comes back to each frame (ping-pong). Threads may share one: a
    lost race only computes a value twice."""

    def __init__(self, make: Callable[[np.ndarray], T], kept: int) -> None:
        self._make = make
        self._kept = kept
        self._values: dict[bytes, T] = {}

    def __call__(self, landmarks: np.ndarray) -> T:
        key = np.ascontiguousarray(landmarks, dtype=np.float64).tobytes()
        try:
            return self._values[key]
        except KeyError:
            pass
        value = self._make(landmarks)
        if len(self._values) >= self._kept:
            self._values.pop(next(iter(self._values), b""), None)  # the oldest
        self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        self._values.clear()


def _fit_head_pose(landmarks: np.ndarray) -> HeadPose | None:
    return face_model.head_pose(landmarks, MESH_IDS, use=_POSE_IDS)


# Three PnP fits each: 0.3-0.7 ms a frame, asked three times per template frame and render.
_HEAD_POSES: ByLandmarks[HeadPose | None] = ByLandmarks(_fit_head_pose, 2048)


def head_pose(landmarks: np.ndarray) -> HeadPose | None:
    """Yaw, pitch and roll in degrees (``rendering.face_model``), None for no face."""
    return _HEAD_POSES(landmarks)


def yaw(landmarks: np.ndarray) -> float:
    """How far the head is turned, as the sine of its yaw: 0 frontal, 0.5 at 30 degrees,
    signed (> 0: the nose points to the image's right); NaN when it cannot be measured.

    A unitless measure for comparing mouths seen at different turns; limits are in degrees
    (``head_pose``)."""
    pose = head_pose(landmarks)
    return float("nan") if pose is None else math.sin(math.radians(pose.yaw))


# Below these a face is left as the template shows it (see ``frame_trust``).
MIN_EYE_DISTANCE = 18.0  # pixels: a smaller mouth cannot be re-animated believably
# Degrees of head turn: edited fully up to FULL_YAW, the edit fades out by MAX_YAW (beyond
# it the far half of the mouth is mostly hidden behind the cheek). Nods are wider.
FULL_YAW, MAX_YAW = 30.0, 45.0
FULL_PITCH, MAX_PITCH = 30.0, 45.0
MAX_JITTER = 0.035  # eye distances: landmark noise of a face mediapipe is unsure of


@dataclass(frozen=True)
class TrustParts:
    """Why a frame's face is or is not trusted: each factor is 0 (refuse) .. 1 (fine)."""

    size: float
    turn: float
    steady: float

    @property
    def trust(self) -> float:
        return self.size * self.turn * self.steady


def trust_parts(
    landmarks: np.ndarray, jitter: float = 0.0, *, min_eye_distance: float = MIN_EYE_DISTANCE
) -> TrustParts:
    """The three factors of ``frame_trust``, so a report can say which one refused a frame."""
    try:
        scale = face_frame(landmarks).scale
    except ValueError:
        return TrustParts(0.0, 0.0, 0.0)
    pose = head_pose(landmarks)
    if pose is None:
        return TrustParts(0.0, 0.0, 0.0)
    # The outer eye corners come closer as the head turns: the size of the face is the eye
    # distance it would have seen from the front, so a turned head is not also "too small".
    frontal_scale = scale / max(math.cos(math.radians(min(abs(pose.yaw), 80.0))), 0.2)
    size = float(np.clip((frontal_scale - min_eye_distance) / (0.5 * min_eye_distance), 0.0, 1.0))
    turn = float(np.clip((MAX_YAW - abs(pose.yaw)) / (MAX_YAW - FULL_YAW), 0.0, 1.0))
    turn *= float(np.clip((MAX_PITCH - abs(pose.pitch)) / (MAX_PITCH - FULL_PITCH), 0.0, 1.0))
    steady = float(np.clip((MAX_JITTER - jitter) / (0.5 * MAX_JITTER), 0.0, 1.0))
    return TrustParts(size, turn, steady)


def frame_trust(
    landmarks: np.ndarray, jitter: float = 0.0, *, min_eye_distance: float = MIN_EYE_DISTANCE
) -> float:
    """How far an engine may edit this frame's face, 0 (leave it) .. 1 (edit fully).

    Small faces, heads turned past FULL_YAW degrees and landmarks that jump about
    (mediapipe's sign that it is guessing) all lower it; the values in between make the
    edit fade in and out.
    """
    return trust_parts(landmarks, jitter, min_eye_distance=min_eye_distance).trust


# --- the track ----------------------------------------------------------------------------
@dataclass
class FaceTrack:
    """One face per frame of a template, at the frame rate the engine renders at."""

    fps: float
    width: int
    height: int
    n_frames: int
    content_hash: str
    boxes: np.ndarray  # (N, 4) float32 x0 y0 x1 y1, NaN where no face
    landmarks: np.ndarray  # (N, K, 2) float32 image coordinates, NaN where no face
    present: np.ndarray  # (N,) bool
    # (N,) float32: how far the raw landmarks sat from the smoothed ones (eye distances);
    # large where mediapipe was unsure. Zeros for tracks made without it.
    jitter: np.ndarray | None = None
    # trust() by min_eye_distance: a head pose fit per frame (milliseconds each), asked for
    # by the face check, the plan and the mouth library of every render.
    _trust: dict[float, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def trust(self, *, min_eye_distance: float = MIN_EYE_DISTANCE) -> np.ndarray:
        """Per-frame edit weight in 0..1 (``frame_trust``), 0 where there is no face."""
        known = self._trust.get(float(min_eye_distance))
        if known is None:
            known = np.zeros(self.n_frames, dtype=np.float32)
            jitter = self.jitter if self.jitter is not None else np.zeros(self.n_frames)
            for i in np.flatnonzero(self.present):
                known[i] = frame_trust(
                    self.landmarks[i], float(jitter[i]), min_eye_distance=min_eye_distance
                )
            self._trust[float(min_eye_distance)] = known
        return known.copy()

    def lip_gaps(self) -> np.ndarray:
        """Per-frame inner-lip opening in eye-distance units, NaN where no face."""
        out = np.full(self.n_frames, np.nan, dtype=np.float32)
        for i in np.flatnonzero(self.present):
            out[i] = lip_gap(self.landmarks[i])
        return out

    def mouth_centres(self) -> np.ndarray:
        return np.asarray(
            (self.landmarks[:, K_MOUTH_L] + self.landmarks[:, K_MOUTH_R]) / 2.0, dtype=np.float32
        )

    def lower_face_polygon(self, index: int, *, chin_margin: float = 0.3) -> np.ndarray | None:
        if not self.present[index]:
            return None
        return lower_face_polygon(self.landmarks[index], chin_margin=chin_margin)

    # Stored as .npz without pickle so a cache file can never execute code.
    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            fps=np.float64(self.fps),
            width=np.int64(self.width),
            height=np.int64(self.height),
            n_frames=np.int64(self.n_frames),
            content_hash=np.str_(self.content_hash),
            boxes=self.boxes.astype(np.float32),
            landmarks=self.landmarks.astype(np.float32),
            present=self.present.astype(bool),
            jitter=(self.jitter if self.jitter is not None else np.zeros(self.n_frames)).astype(
                np.float32
            ),
            mesh_ids=np.array(MESH_IDS, dtype=np.int32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FaceTrack:
        """Parse a saved track; any damage (truncated zip, bad CRC, missing array) is a ValueError."""
        try:
            return cls._parse(data)
        except ValueError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, zlib.error, KeyError, EOFError...
            raise ValueError(f"unreadable face track: {exc!r}") from exc

    @classmethod
    def _parse(cls, data: bytes) -> FaceTrack:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if tuple(int(i) for i in npz["mesh_ids"]) != MESH_IDS:
                raise ValueError("face track was saved with a different landmark set")
            return cls(
                fps=float(npz["fps"]),
                width=int(npz["width"]),
                height=int(npz["height"]),
                n_frames=int(npz["n_frames"]),
                content_hash=str(npz["content_hash"]),
                boxes=npz["boxes"],
                landmarks=npz["landmarks"],
                present=npz["present"],
                jitter=npz["jitter"] if "jitter" in npz.files else None,
            )

    def save(self, path: Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> FaceTrack:
        return cls.from_bytes(Path(path).read_bytes())


# --- how much of a template can be edited ---------------------------------------------------
# Below this share of frames with a usable face a render is refused: at upload (the face
# check) and at render, by the same function (``check_usable``), so a template that passes
# the one never fails the other for its face.
MIN_USABLE_SHARE = 0.25
_FADE = 2  # frames: an untrusted frame also fades its neighbours, so the edit never pops
TOO_LITTLE_FACE = (
    "The face is usable in only {percent} % of this video (too small, turned away or out of "
    "the picture), so we did not render it. Use a clip where the speaker faces the camera "
    "for most of the time."
)


def edit_strength(trust: np.ndarray) -> np.ndarray:
    """Per-frame edit weight from per-frame trust: eroded in time, then ramped.

    A frame next to one the engine cannot trust is weakened too, and the weight moves over
    about five frames, so the edit fades out before a head turns away and back in after.
    """
    if len(trust) == 0:
        return trust
    # Plain numpy (edges repeated): scipy.ndimage would cost every render its import time.
    window = 2 * _FADE + 1
    padded = np.pad(trust.astype(np.float32), _FADE, mode="edge")
    eroded = np.lib.stride_tricks.sliding_window_view(padded, window).min(axis=1)
    padded = np.pad(eroded, _FADE, mode="edge")
    averaged = np.lib.stride_tricks.sliding_window_view(padded, window).mean(axis=1)
    return np.asarray(averaged, np.float32)


def usable_share(track: FaceTrack) -> float:
    """Share of the template's frames an engine edits at half strength or more."""
    if track.n_frames == 0:
        return 0.0
    return float(np.mean(edit_strength(track.trust()) >= 0.5))


def check_usable(track: FaceTrack, *, min_share: float = MIN_USABLE_SHARE) -> float:
    """The usable share, or a FaceError (code ``face_too_little``) when it is below
    ``min_share``: the one test the upload check and the render both apply."""
    share = usable_share(track)
    if share < min_share:
        percent = round(100 * share)
        raise FaceError(
            TOO_LITTLE_FACE.format(percent=percent),
            detail=f"usable share {share:.3f} < {min_share}",
            code="face_too_little",
            params={"percent": percent},
        )
    return share


# Eye distances of inner-lip opening: a template whose mouth never opens this far shows
# no teeth or mouth interior an engine could reuse (mouths.OPEN_ENOUGH is the same).
MOUTH_SHOWN_OPEN = 0.03


def track_notes(track: FaceTrack) -> list[str]:
    """Advice on a usable template that does not stop a render, as codes:
    ``mouth_never_open`` when no usable frame shows the mouth open (the engine must then
    invent the inside of the mouth, which looks far less natural than the person's own)."""
    usable = np.flatnonzero(track.present & (track.trust() >= 0.5))
    if not len(usable):
        return []
    widest = max(lip_gap(track.landmarks[i]) for i in usable)
    return ["mouth_never_open"] if widest < MOUTH_SHOWN_OPEN else []


@dataclass(frozen=True)
class Unusable:
    """Frames left unedited for one cause: ``absent`` (no face found), ``small``,
    ``turned`` or ``unsteady`` (the mesh was guessing); times in seconds."""

    cause: str
    share: float
    ranges: tuple[tuple[float, float], ...]


def unusable_spans(
    track: FaceTrack, frames: np.ndarray | None = None, *, fps: float | None = None
) -> list[Unusable]:
    """Why frames are not edited, cause by cause, with the share of ``frames`` (template
    frame indices, by default all of them, in order: an output's ping-pong) and the time
    ranges where it happens. A frame counts under its weakest factor."""
    index = np.arange(track.n_frames) if frames is None else np.asarray(frames)
    rate = fps or track.fps
    strength = edit_strength(track.trust())
    jitter = track.jitter if track.jitter is not None else np.zeros(track.n_frames)
    cause_of: dict[int, str] = {}
    for i in np.unique(index):
        if strength[i] >= 0.5:
            continue
        if not track.present[i]:
            cause_of[int(i)] = "absent"
            continue
        parts = trust_parts(track.landmarks[i], float(jitter[i]))
        weakest = min(
            (("small", parts.size), ("turned", parts.turn), ("unsteady", parts.steady)),
            key=lambda item: item[1],
        )
        # A frame faded only because a neighbour is bad takes that neighbour's cause.
        cause_of[int(i)] = weakest[0] if weakest[1] < 0.999 else "near"
    out = []
    for cause in ("absent", "small", "turned", "unsteady"):
        hit = np.array([cause_of.get(int(i)) in (cause,) for i in index], dtype=bool)
        near = np.array([cause_of.get(int(i)) == "near" for i in index], dtype=bool)
        # Fold fading frames into the cause next to them.
        grown = hit.copy()
        for shift in range(1, _FADE + 1):
            grown[shift:] |= hit[:-shift] & near[shift:]
            grown[:-shift] |= hit[shift:] & near[:-shift]
        if not grown.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], grown.astype(np.int8), [0]])))
        ranges = tuple(
            (round(start / rate, 2), round(stop / rate, 2))
            for start, stop in zip(edges[::2], edges[1::2], strict=True)
        )
        out.append(Unusable(cause, float(grown.mean()), ranges))
    return out


# --- mediapipe ------------------------------------------------------------------------------
_MAX_FACES = 5  # the whole-frame mesh; more faces come from the detector
_STATIC_LOCK = threading.Lock()


def _new_mesh(*, static: bool) -> Any:
    # Imported lazily: mediapipe pulls in a lot and only tracking needs it.
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=_MAX_FACES,
        refine_landmarks=False,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


@functools.lru_cache(maxsize=1)
def _static_mesh() -> Any:
    """One still-image face mesh per process, created on first use (its graph is costly)."""
    return _new_mesh(static=True)


def _faces_in(mesh: Any, frame: np.ndarray) -> list[np.ndarray]:
    """All faces mediapipe finds in an RGB frame, as (468, 2) image-coordinate arrays."""
    height, width = frame.shape[:2]
    # A read-only view lets mediapipe skip a copy without freezing the caller's array.
    view = np.ascontiguousarray(frame).view()
    view.flags.writeable = False
    result = mesh.process(view)
    faces = []
    for face in result.multi_face_landmarks or ():
        xy = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float32)
        xy *= np.array([width, height], dtype=np.float32)
        faces.append(xy)
    return faces


def _box(points: np.ndarray) -> np.ndarray:
    return np.array([*points.min(axis=0), *points.max(axis=0)], dtype=np.float32)


def _area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = _area(np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class FaceHint:
    """Which face to follow when a template shows several: where it is in a frame.

    Coordinates are fractions of the frame (centre x, centre y, box width), so a hint
    survives a different decoding size. ``time`` is the fraction of the video where it was
    seen, used only to show the user which face they picked.
    """

    x: float
    y: float
    size: float
    time: float = 0.0

    def key(self) -> str:
        return f"{self.x:.3f}_{self.y:.3f}_{self.size:.3f}"

    def to_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "size": self.size, "time": self.time}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceHint:
        return cls(
            x=float(data["x"]),
            y=float(data["y"]),
            size=float(data["size"]),
            time=float(data.get("time", 0.0)),
        )


def _hint_distance(box: np.ndarray, hint: FaceHint, shape: tuple[int, ...]) -> float:
    """How far a face box is from a hint, in hint-sized units (position and size)."""
    height, width = shape[0], shape[1]
    cx, cy = (box[0] + box[2]) / 2.0 / width, (box[1] + box[3]) / 2.0 / height
    size = (box[2] - box[0]) / width
    reach = max(hint.size, 1e-3)
    moved = float(np.hypot(cx - hint.x, (cy - hint.y) * height / width)) / reach
    return moved + abs(math.log(max(size, 1e-4) / reach))


def _pick(
    faces: list[np.ndarray],
    previous: np.ndarray | None,
    *,
    hint: FaceHint | None = None,
    shape: tuple[int, ...] = (1, 1),
) -> np.ndarray | None:
    """The face to follow in one frame.

    1. The face overlapping the one picked in the last frame, so a second person of
       similar size cannot steal the track for a frame.
    2. Otherwise, with a hint, the face nearest it; none when every face is far from it
       (the chosen person is out of the picture: better no edit than the wrong face).
    3. Otherwise the largest face.
    """
    if not faces:
        return None
    boxes = [_box(f) for f in faces]
    order = sorted(range(len(faces)), key=lambda i: _area(boxes[i]), reverse=True)
    if previous is not None:
        following = [i for i in order if _iou(boxes[i], previous) > 0.3]
        if following:
            return faces[following[0]]
    if hint is not None:
        distance = {i: _hint_distance(boxes[i], hint, shape) for i in order}
        best = min(order, key=lambda i: distance[i])
        return faces[best] if distance[best] < 1.5 else None
    return faces[order[0]]


def detect_landmarks(frame: np.ndarray, *, hint: FaceHint | None = None) -> np.ndarray | None:
    """Landmarks (K x 2, image coordinates) of the main face in one RGB frame, or None."""
    with _STATIC_LOCK:  # a mediapipe graph is not safe to call from two threads at once
        faces = _faces_in(_static_mesh(), frame)
    face = _pick(faces, None, hint=hint, shape=frame.shape[:2])
    return None if face is None else face[list(MESH_IDS)]


# --- small faces and groups: a detector, then the mesh on each face's crop ------------------
# The mesh's own detector is short-range (faces filling much of the picture) and it follows
# at most _MAX_FACES: a group shot or a full-body clip needs mediapipe's full-range
# detector, then the mesh on an enlarged crop of each face, where it sees the face large.
_CROP = 256  # pixels: the side of the square crop the mesh sees
_CROP_SPAN = 2.2  # the crop's side over the detected face's side
SMALL_FACE = 60.0  # eye distance (pixels) under which the mesh is run on a crop instead


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    # Imported lazily: mediapipe pulls in a lot and only tracking needs it.
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=0.5
    )


def detect_faces(frame: np.ndarray) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1 pixels) of every face the full-range detector finds.

    A large frame is also searched in overlapping halves, each seen at the detector's own
    scale, so the small faces of a group shot are not lost in the downscaling.
    """
    height, width = frame.shape[:2]
    tiles = [(0, 0, width, height)]
    if max(width, height) > 640:
        half_w, half_h = int(width * 0.6), int(height * 0.6)
        tiles += [
            (x, y, x + half_w, y + half_h)
            for x in (0, width - half_w)
            for y in (0, height - half_h)
        ]
    boxes: list[np.ndarray] = []
    for x0, y0, x1, y1 in tiles:
        tile = np.ascontiguousarray(frame[y0:y1, x0:x1])
        tile.flags.writeable = False
        with _STATIC_LOCK:
            result = _detector().process(tile)
        for found in result.detections or ():
            rel = found.location_data.relative_bounding_box
            tw, th = x1 - x0, y1 - y0
            box = np.array(
                [
                    x0 + rel.xmin * tw,
                    y0 + rel.ymin * th,
                    x0 + (rel.xmin + rel.width) * tw,
                    y0 + (rel.ymin + rel.height) * th,
                ],
                dtype=np.float32,
            )
            if all(_iou(box, other) < 0.3 for other in boxes):
                boxes.append(box)
    return boxes


def mesh_on_crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The full mesh (468 x 2, image coordinates) of the face in ``box``, found on an
    enlarged square crop around it; None when the mesh sees no face there."""
    side = _CROP_SPAN * max(float(box[2] - box[0]), float(box[3] - box[1]), 8.0)
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    zoom = _CROP / side
    matrix = np.array([[zoom, 0.0, _CROP / 2.0 - zoom * cx], [0.0, zoom, _CROP / 2.0 - zoom * cy]])
    crop = cv2.warpAffine(
        frame, matrix, (_CROP, _CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    with _STATIC_LOCK:
        found = _faces_in(_static_mesh(), crop)
    if not found:
        return None
    middle = np.array([_CROP / 2.0, _CROP / 2.0])
    face = min(found, key=lambda f: float(np.hypot(*(f.mean(axis=0) - middle))))
    return np.asarray((face - matrix[:, 2]) / zoom, dtype=np.float32)


def all_faces(frame: np.ndarray) -> list[np.ndarray]:
    """Every face in one RGB frame (468 x 2 meshes): the full-frame mesh's, and the
    full-range detector's that it missed, each meshed on its crop."""
    with _STATIC_LOCK:
        meshed = _faces_in(_static_mesh(), frame)
    found = list(meshed)
    for box in detect_faces(frame):
        if any(_iou(box, _box(face)) > 0.2 for face in found):
            continue
        face = mesh_on_crop(frame, box)
        if face is not None and all(_iou(_box(face), _box(other)) < 0.3 for other in found):
            found.append(face)
    return found


def _eye_distance(face: np.ndarray) -> float:
    return float(np.hypot(*(face[263] - face[33])))


def track_frames(
    frames: Iterable[np.ndarray], *, hint: FaceHint | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray] | None]:
    """Yield (box, K x 2 landmarks) or None per frame, following one face through a video.

    1. The video-mode mesh on the whole frame, as long as it finds the face followed.
    2. A small face is meshed again on an enlarged crop around it: the whole-frame mesh
       sees it at a few dozen pixels and its landmarks jump about.
    3. When the whole-frame mesh misses the face (a group beyond its five faces, a face
       too small for its detector), the full-range detector finds it and the mesh runs on
       its crop.
    """
    mesh = _new_mesh(static=False)
    previous: np.ndarray | None = None
    try:
        for frame in frames:
            shape = frame.shape[:2]
            face = _pick(_faces_in(mesh, frame), previous, hint=hint, shape=shape)
            if face is None:
                candidates = []
                for box in detect_faces(frame):
                    meshed = mesh_on_crop(frame, box)
                    if meshed is not None:
                        candidates.append(meshed)
                face = _pick(candidates, previous, hint=hint, shape=shape)
            elif _eye_distance(face) < SMALL_FACE:
                sharper = mesh_on_crop(frame, _box(face))
                if sharper is not None and _iou(_box(sharper), _box(face)) > 0.5:
                    face = sharper
            if face is None:
                previous = None
                yield None
                continue
            previous = _box(face)
            yield previous, face[list(MESH_IDS)]
    finally:
        mesh.close()


# --- which faces a template shows ------------------------------------------------------------
@dataclass
class FaceCandidate:
    """One person seen in a template, for the user to pick who speaks."""

    hint: FaceHint
    visible: float  # share of the sampled frames showing this face
    size: float  # median box width over frame width
    turn: float  # median |yaw| in degrees: 0 frontal
    score: float  # higher is a better default speaker
    thumbnail: np.ndarray  # RGB uint8, THUMB x THUMB

    def to_dict(self) -> dict[str, float]:
        return {
            **self.hint.to_dict(),
            "visible": round(self.visible, 3),
            "turn": round(self.turn, 1),
            "score": round(self.score, 4),
        }


THUMB = 96
_SAMPLES = 8


def _thumbnail(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    side = 1.5 * max(box[2] - box[0], box[3] - box[1])
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    x1, y1 = int(min(cx + side / 2, width)), int(min(cy + side / 2, height))
    crop = frame[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    return np.asarray(cv2.resize(crop, (THUMB, THUMB), interpolation=cv2.INTER_AREA))


def faces_in_frames(frames: list[np.ndarray]) -> list[FaceCandidate]:
    """The people seen in a few frames of a video, best default speaker first.

    1. Find every face in each frame (``all_faces``: the still-image mesh, and the
       full-range detector for the small faces of a group).
    2. Group sightings across frames: the same person stays near the same place and size.
    3. Score each person by how often they are seen, how large and how frontal they are.
    """
    people: list[list[tuple[int, np.ndarray, float]]] = []  # (frame, box, |yaw|)
    for index, frame in enumerate(frames):
        found = all_faces(frame)
        shape = frame.shape[:2]
        for face in found:
            box = _box(face)
            pose = head_pose(face[list(MESH_IDS)])
            turn = abs(pose.yaw) if pose is not None else 90.0  # unmeasurable: turned away
            near = [
                (min(_hint_distance(box, _box_hint(b, shape), shape) for _, b, _ in sightings), k)
                for k, sightings in enumerate(people)
                if all(f != index for f, _, _ in sightings)
            ]
            near = [(d, k) for d, k in near if d < 1.0]
            if near:
                people[min(near)[1]].append((index, box, turn))
            else:
                people.append([(index, box, turn)])
    out = []
    for sightings in people:
        boxes = np.stack([b for _, b, _ in sightings])
        first_frame, first_box, _ = max(sightings, key=lambda s: _area(s[1]))
        shape = frames[first_frame].shape[:2]
        median_box = np.median(boxes, axis=0)
        hint = _box_hint(median_box, shape)
        visible = len(sightings) / max(len(frames), 1)
        turn = float(np.median([t for _, _, t in sightings]))
        frontal = float(np.clip((MAX_YAW - turn) / (MAX_YAW - FULL_YAW), 0.05, 1.0))
        out.append(
            FaceCandidate(
                hint=FaceHint(hint.x, hint.y, hint.size, first_frame / max(len(frames), 1)),
                visible=visible,
                size=hint.size,
                turn=turn,
                score=visible * hint.size * frontal,
                thumbnail=_thumbnail(frames[first_frame], first_box),
            )
        )
    return sorted(out, key=lambda c: c.score, reverse=True)


def _box_hint(box: np.ndarray, shape: tuple[int, ...]) -> FaceHint:
    height, width = shape[0], shape[1]
    return FaceHint(
        x=float((box[0] + box[2]) / 2.0 / width),
        y=float((box[1] + box[3]) / 2.0 / height),
        size=float((box[2] - box[0]) / width),
    )


def list_faces(
    path: Path, *, limits: Limits | None = None, samples: int = _SAMPLES
) -> list[FaceCandidate]:
    """The people a template video shows, best default speaker first (empty: no face)."""
    limits = media.Limits() if limits is None else limits
    info = media.probe_video(Path(path), limits=limits)
    assert info.video is not None
    # A low constant rate picks frames spread over the whole video (the decoder still reads
    # every packet, but converts only the frames it keeps).
    rate = max(samples / max(info.video.duration, 1e-3), 1e-3)
    frames = list(media.iter_frames(Path(path), fps=rate, limits=limits))[:samples]
    return faces_in_frames(frames)


def _smooth(values: np.ndarray, present: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along time, run by run, so it adds no lag.

    The whole track is known in advance, so a symmetric filter (unlike a causal One-Euro
    filter) removes landmark jitter without delaying the mouth. Runs are smoothed
    separately so frames without a face never bleed into their neighbours.
    """
    # scipy is no dependency of ours (mediapipe brings it, through jax): only tracking uses it.
    from scipy.ndimage import gaussian_filter1d

    out = values.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= 3:
            out[start:stop] = gaussian_filter1d(values[start:stop], sigma, axis=0, mode="nearest")
    return out


_SMOOTH_SIGMA = 1.0  # frames; enough to hide mesh jitter, small next to a syllable (~5 frames)
_NO_FACE = (
    "We could not find a face in this video. Use a clip where one face is clearly visible "
    "and facing the camera."
)


def track_arrays(
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    content_hash: str = "",
    hint: FaceHint | None = None,
) -> FaceTrack:
    """Track the main face through in-memory frames (the work behind :func:`track`)."""
    global TRACK_RUNS
    TRACK_RUNS += 1
    boxes: list[np.ndarray] = []
    points: list[np.ndarray] = []
    width = height = 0
    nan_box = np.full(4, np.nan, dtype=np.float32)
    nan_points = np.full((N_LANDMARKS, 2), np.nan, dtype=np.float32)

    def remember_size(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        nonlocal width, height
        for frame in frames:
            height, width = frame.shape[:2]
            yield frame

    for found in track_frames(remember_size(frames), hint=hint):
        boxes.append(nan_box if found is None else found[0])
        points.append(nan_points if found is None else found[1])
    present = np.array([not np.isnan(b[0]) for b in boxes], dtype=bool)
    if not present.any():
        raise FaceError(_NO_FACE, detail=f"no face in {len(boxes)} frames", code="no_face")
    n = len(boxes)
    raw = np.stack(points)
    smooth = _smooth(raw, present, _SMOOTH_SIGMA)
    landmarks = _follow_motion(raw, smooth, present)
    jitter = _jitter(raw, smooth, present)
    boxes_out = _boxes_of(landmarks, smooth, np.stack(boxes), present)
    present = _bridge(landmarks, boxes_out, jitter, present)
    return FaceTrack(
        fps=float(fps),
        width=width,
        height=height,
        n_frames=n,
        content_hash=content_hash,
        boxes=boxes_out,
        landmarks=landmarks.astype(np.float32),
        present=present,
        jitter=jitter,
    )


MAX_BRIDGE = 3  # frames: a shorter lapse of the mesh is filled in from its neighbours


def _bridge(
    landmarks: np.ndarray, boxes: np.ndarray, jitter: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Fill short lapses of the mesh (in place) and return the new ``present``.

    Up to MAX_BRIDGE frames where mediapipe guessed wildly (jitter over MAX_JITTER / 2),
    or one frame where it lost the face, between frames it saw well, are a blink of the
    tracker, not of the face:
    the landmarks there are interpolated from the good frames around, so the edit goes on
    rather than fading out and in over five frames for one bad frame.
    """
    good = present & (jitter <= 0.5 * MAX_JITTER)
    present = present.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[1], good.astype(np.int8), [1]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start > MAX_BRIDGE or start == 0 or stop >= len(good):
            continue
        # A face not found at all is bridged for one frame only: longer, it may really be
        # gone (a cut, a hand in front), and a mouth painted on whatever is there would show.
        if not present[start:stop].all() and stop - start > 1:
            continue
        before, after = start - 1, stop
        for i in range(start, stop):
            t = (i - before) / (after - before)
            landmarks[i] = (1 - t) * landmarks[before] + t * landmarks[after]
            boxes[i] = (1 - t) * boxes[before] + t * boxes[after]
            jitter[i] = max(jitter[before], jitter[after])
            present[i] = True
    return present


_RIGID = _at(STABLE + JAW[:3] + JAW[-3:])  # points that move only with the head
# Eye distances: how far the smoothed face may sit from the raw one before the smoothing is
# taken to be lagging behind a real head movement (mesh noise is ~0.005-0.01).
_FOLLOW_FROM, _FOLLOW_FULLY = 0.012, 0.03


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity (rotation, scale, shift) taking ``src`` points nearest ``dst``."""
    matrix, _ = cv2.estimateAffinePartial2D(
        src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS
    )
    if matrix is None:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return np.asarray(matrix, dtype=np.float64)


def _follow_motion(raw: np.ndarray, smooth: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Smoothed landmarks that keep up with fast head movements.

    Smoothing along time removes mesh jitter but lags behind a head that shakes or nods
    quickly (25 fps clips of lively speakers move 20-60 px a frame): the edit would then sit
    beside the mouth. Per frame, the head's rigid motion between the smoothed and the raw
    points (rotation, scale, shift fitted on points that do not move with the mouth) is put
    back where it is larger than mesh noise, so the shape stays smoothed and the position
    follows the face.
    """
    out = smooth.copy()
    for i in np.flatnonzero(present):
        matrix = _similarity(smooth[i, _RIGID], raw[i, _RIGID])
        moved = smooth[i] @ matrix[:, :2].T + matrix[:, 2]
        eyes = smooth[i, K_EYE_OUTER_R] - smooth[i, K_EYE_OUTER_L]
        scale = max(float(np.hypot(eyes[0], eyes[1])), 1e-3)
        lag = float(np.median(np.hypot(*(moved - smooth[i]).T))) / scale
        weight = float(np.clip((lag - _FOLLOW_FROM) / (_FOLLOW_FULLY - _FOLLOW_FROM), 0.0, 1.0))
        if weight > 0.0:
            out[i] = smooth[i] + weight * (moved - smooth[i])
    return out


def _boxes_of(
    followed: np.ndarray, smooth: np.ndarray, boxes: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Smoothed boxes, shifted as ``_follow_motion`` shifted the landmarks."""
    out = _smooth(boxes, present, _SMOOTH_SIGMA)
    for i in np.flatnonzero(present):
        dx, dy = (followed[i] - smooth[i]).mean(axis=0)
        out[i] += np.array([dx, dy, dx, dy], dtype=out.dtype)
    return out.astype(np.float32)


def _jitter(raw: np.ndarray, smooth: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per frame, how far the raw landmarks' *shape* sat from the smoothed one, in eye
    distances: the head's own motion is fitted out first (a lively speaker is not an unsure
    mesh), and only points that do not move with the mouth count (speech is not noise)."""
    out = np.zeros(len(raw), dtype=np.float32)
    for i in np.flatnonzero(present):
        matrix = _similarity(raw[i, _RIGID], smooth[i, _RIGID])
        aligned = raw[i, _RIGID] @ matrix[:, :2].T + matrix[:, 2]
        eyes = smooth[i, K_EYE_OUTER_R] - smooth[i, K_EYE_OUTER_L]
        scale = max(float(np.hypot(eyes[0], eyes[1])), 1e-3)
        shape_noise = float(np.median(np.hypot(*(aligned - smooth[i, _RIGID]).T))) / scale
        # A face that grows or shrinks by a fifth in a frame is the mesh losing it.
        jump = abs(math.log(max(float(np.hypot(*matrix[:, 0])), 1e-3)))
        out[i] = shape_noise + max(jump - 0.08, 0.0)
    return out


def track(
    path: Path,
    *,
    cache_dir: Path | None,
    fps: float | None = None,
    limits: Limits | None = None,
    face: FaceHint | None = None,
) -> FaceTrack:
    """Track one face through a template video, using the cache when it can.

    1. Probe the file (a clear MediaError for anything that is not a usable video).
    2. Look the track up by the file's content hash, the frame rate, the chosen face and
       ``TRACK_VERSION``.
    3. Without a chosen face, pick the best default speaker (``list_faces``) when the video
       shows more than one person, so a larger face in the back row never wins by chance.
    4. Decode at a constant frame rate, run the face mesh, follow that face and smooth.
    5. Raise FaceError when no frame shows it; store the track when one does.
    """
    limits = media.Limits() if limits is None else limits
    info = media.probe_video(Path(path), limits=limits)
    assert info.video is not None  # probe_video guarantees a video stream
    content_hash = media.file_sha256(Path(path))
    cache = _cache(cache_dir)
    # Decode at an explicit rate so the engine, decoding with track.fps, sees the same
    # frames. The rate is part of the key: the same file tracked at 25 and 30 fps differs.
    used_fps = float(fps) if fps else media.default_fps(info.video.fps)
    key = f"{content_hash}-{used_fps:.6g}" + (f"-{face.key()}" if face else "")
    if cache is not None:
        data = cache.load("face-track", key, TRACK_VERSION)
        if data is not None:
            try:
                return FaceTrack.from_bytes(data)
            except ValueError:
                pass  # an unreadable cache entry is recomputed and overwritten
    if face is None:
        candidates = list_faces(Path(path), limits=limits)
        if len(candidates) > 1:
            face = candidates[0].hint
    frames = media.iter_frames(Path(path), fps=used_fps, limits=limits)
    result = track_arrays(frames, fps=used_fps, content_hash=content_hash, hint=face)
    if cache is not None:
        cache.store("face-track", key, TRACK_VERSION, result.to_bytes())
    return result


def _cache(cache_dir: Path | None) -> Cache | None:
    if cache_dir is None:
        return None
    return Cache(Path(cache_dir))
