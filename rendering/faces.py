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
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rendering.errors import FaceError

if TYPE_CHECKING:
    from rendering.cache import Cache
    from rendering.media import Limits

# Bump when the landmark set, the smoothing or the selection rules change: cached tracks
# made by an older version are then ignored rather than misread.
TRACK_VERSION = "1"

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
    centre_x = float(frame.to_face(mouth_centre(landmarks)[None])[0, 0])
    lower = jaw[jaw[:, 1] > top]
    if len(lower) < 3:
        raise ValueError("landmarks do not describe a face (jaw above the nose)")
    # Push the jaw outwards (sideways a little, down more) so the warp's moving chin fits.
    lower = lower.copy()
    lower[:, 1] += chin_margin * np.clip((lower[:, 1] - top) / 0.6, 0.0, 1.0)
    lower[:, 0] += 0.05 * np.sign(lower[:, 0] - centre_x)
    left_x, right_x = float(lower[0, 0]), float(lower[-1, 0])
    poly = np.vstack([[[left_x, top]], lower, [[right_x, top]]])
    return np.asarray(frame.to_image(poly), dtype=np.float32)


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
            )

    def save(self, path: Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> FaceTrack:
        return cls.from_bytes(Path(path).read_bytes())


# --- mediapipe ------------------------------------------------------------------------------
_MAX_FACES = 3
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


def _pick(faces: list[np.ndarray], previous: np.ndarray | None) -> np.ndarray | None:
    """The largest face, preferring one that overlaps the face picked in the last frame.

    Without the overlap rule a second person of similar size could steal the track for a
    frame, and the engine would paint a mouth onto the wrong face.
    """
    if not faces:
        return None
    boxes = [_box(f) for f in faces]
    order = sorted(range(len(faces)), key=lambda i: _area(boxes[i]), reverse=True)
    if previous is not None:
        following = [i for i in order if _iou(boxes[i], previous) > 0.3]
        if following:
            return faces[following[0]]
    return faces[order[0]]


def detect_landmarks(frame: np.ndarray) -> np.ndarray | None:
    """Landmarks (K x 2, image coordinates) of the largest face in one RGB frame, or None."""
    with _STATIC_LOCK:  # a mediapipe graph is not safe to call from two threads at once
        faces = _faces_in(_static_mesh(), frame)
    face = _pick(faces, None)
    return None if face is None else face[list(MESH_IDS)]


def track_frames(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray] | None]:
    """Yield (box, K x 2 landmarks) or None per frame, following one face through a video."""
    mesh = _new_mesh(static=False)
    previous: np.ndarray | None = None
    try:
        for frame in frames:
            face = _pick(_faces_in(mesh, frame), previous)
            if face is None:
                previous = None
                yield None
                continue
            previous = _box(face)
            yield previous, face[list(MESH_IDS)]
    finally:
        mesh.close()


def _smooth(values: np.ndarray, present: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along time, run by run, so it adds no lag.

    The whole track is known in advance, so a symmetric filter (unlike a causal One-Euro
    filter) removes landmark jitter without delaying the mouth. Runs are smoothed
    separately so frames without a face never bleed into their neighbours.
    """
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


def track_arrays(frames: Iterable[np.ndarray], *, fps: float, content_hash: str = "") -> FaceTrack:
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

    for found in track_frames(remember_size(frames)):
        boxes.append(nan_box if found is None else found[0])
        points.append(nan_points if found is None else found[1])
    present = np.array([not np.isnan(b[0]) for b in boxes], dtype=bool)
    if not present.any():
        raise FaceError(_NO_FACE, detail=f"no face in {len(boxes)} frames")
    n = len(boxes)
    landmarks = _smooth(np.stack(points), present, _SMOOTH_SIGMA).astype(np.float32)
    return FaceTrack(
        fps=float(fps),
        width=width,
        height=height,
        n_frames=n,
        content_hash=content_hash,
        boxes=_smooth(np.stack(boxes), present, _SMOOTH_SIGMA).astype(np.float32),
        landmarks=landmarks,
        present=present,
    )


def track(
    path: Path,
    *,
    cache_dir: Path | None,
    fps: float | None = None,
    limits: Limits | None = None,
) -> FaceTrack:
    """Track the main face through a template video, using the cache when it can.

    1. Probe the file (a clear MediaError for anything that is not a usable video).
    2. Look the track up by the file's content hash, the frame rate and ``TRACK_VERSION``.
    3. Otherwise decode at a constant frame rate, run the face mesh, pick and smooth.
    4. Raise FaceError when no frame shows a face; store the track when one does.
    """
    from rendering import media

    limits = media.Limits() if limits is None else limits
    info = media.probe_video(Path(path), limits=limits)
    assert info.video is not None  # probe_video guarantees a video stream
    content_hash = media.file_sha256(Path(path))
    cache = _cache(cache_dir)
    # Decode at an explicit rate so the engine, decoding with track.fps, sees the same
    # frames. The rate is part of the key: the same file tracked at 25 and 30 fps differs.
    used_fps = float(fps) if fps else media.default_fps(info.video.fps)
    key = f"{content_hash}-{used_fps:.6g}"
    if cache is not None:
        data = cache.load("face-track", key, TRACK_VERSION)
        if data is not None:
            try:
                return FaceTrack.from_bytes(data)
            except ValueError:
                pass  # an unreadable cache entry is recomputed and overwritten
    frames = media.iter_frames(Path(path), fps=used_fps, limits=limits)
    result = track_arrays(frames, fps=used_fps, content_hash=content_hash)
    if cache is not None:
        cache.store("face-track", key, TRACK_VERSION, result.to_bytes())
    return result


def _cache(cache_dir: Path | None) -> Cache | None:
    if cache_dir is None:
        return None
    from rendering.cache import Cache

    return Cache(Path(cache_dir))
