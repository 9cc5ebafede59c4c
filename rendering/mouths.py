"""The person's own mouths: a library of mouth appearances taken from a template, chosen and
warped per output frame (the idea of Video Rewrite and "Synthesizing Obama": real pixels,
not a drawing).

A template is analysed once (cached beside its face track, keyed by its content hash):
every frame whose face the engine trusts is described by its mouth's opening, width,
visible teeth, sharpness and head turn, and a small set covering the shapes it shows is
kept as patches in a face-aligned frame ("canonical" coordinates: the face frame of
:mod:`rendering.faces` shifted to the template's median mouth centre).

For each output frame the engine asks for a shape (opening and width, in face units);
:func:`choose` picks one appearance per frame with a dynamic programme whose cost grows
with the shape mismatch and with every switch, so the choice does not flicker. Candidate
``OWN`` is the template frame's own mouth, which wins whenever it is close enough: its
light and pose are right by definition. :func:`warp_patch` then bends the chosen patch so
its lip contours land exactly on the wanted contours (a thin-plate spline), and
:func:`shade_match` removes the difference in light between the patch's frame and this one.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np

from rendering import faces, media
from rendering.cache import Cache

if TYPE_CHECKING:
    from rendering.faces import FaceTrack

LIBRARY_VERSION = "3"
LIBRARY_RUNS = 0  # real analyses in this process (cache hits do not count)

OWN = -1  # "use the template frame's own mouth"

# The canonical box around the mouth centre, in face units (1 = eye distance).
BOX_X = (-0.62, 0.62)
BOX_Y = (-0.40, 0.62)
MAX_DENSITY = 320.0  # patch pixels per face unit: a 1080x1920 close-up is not scaled down
MIN_DENSITY = 40.0
GAP_STEP = 0.012  # library bins: inner-lip opening ...
WIDTH_STEP = 0.03  # ... and mouth half-width, in face units
MAX_ENTRIES = 48
OPEN_ENOUGH = 0.03  # a template whose mouth never opens this far has no interior to show

CONTOURS = (faces.K_OUTER_UPPER, faces.K_INNER_UPPER, faces.K_INNER_LOWER, faces.K_OUTER_LOWER)


@dataclass
class MouthLibrary:
    """A template's own mouth appearances, face-aligned."""

    centre: np.ndarray  # (2,) median mouth centre, face coordinates
    density: float  # patch pixels per face unit
    patches: np.ndarray  # (K, H, W, 3) uint8
    contours: (
        np.ndarray
    )  # (K, 4, 11, 2) lip contours in patch pixels (outer up, inner up/low, outer low)
    gap: np.ndarray  # (K,) inner-lip opening at the centre, face units
    width: np.ndarray  # (K,) half the corner-to-corner width, face units
    teeth: np.ndarray  # (K,) share of the opening that is bright (teeth)
    sharpness: np.ndarray  # (K,) variance of the Laplacian of the lip area
    turn: np.ndarray  # (K,) signed yaw
    frames: np.ndarray  # (K,) template frame index each came from

    def __len__(self) -> int:
        return len(self.gap)

    @property
    def size(self) -> tuple[int, int]:
        return self.patches.shape[2], self.patches.shape[1]

    @property
    def opens(self) -> bool:
        """Whether the template ever shows an open mouth (an interior to reuse)."""
        return bool(len(self) and float(self.gap.max()) >= OPEN_ENOUGH)

    def to_image(self, landmarks: np.ndarray) -> np.ndarray:
        """2x3 affine from this library's patch pixels to a frame with ``landmarks``."""
        return canonical_to_image(faces.face_frame(landmarks), self.centre, self.density)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            centre=self.centre,
            density=np.float64(self.density),
            patches=self.patches,
            contours=self.contours,
            gap=self.gap,
            width=self.width,
            teeth=self.teeth,
            sharpness=self.sharpness,
            turn=self.turn,
            frames=self.frames,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MouthLibrary:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return cls(
                    centre=npz["centre"],
                    density=float(npz["density"]),
                    patches=npz["patches"],
                    contours=npz["contours"],
                    gap=npz["gap"],
                    width=npz["width"],
                    teeth=npz["teeth"],
                    sharpness=npz["sharpness"],
                    turn=npz["turn"],
                    frames=npz["frames"],
                )
        except Exception as exc:  # damaged cache entry: recomputed by the caller
            raise ValueError(f"unreadable mouth library: {exc!r}") from exc


def canonical_to_image(frame: faces.FaceFrame, centre: np.ndarray, density: float) -> np.ndarray:
    """2x3 affine taking patch pixel (c, r) to image coordinates."""
    # patch pixel p -> face u = p / density + (BOX_X[0], BOX_Y[0]) + centre -> image.
    offset = np.array([BOX_X[0], BOX_Y[0]]) + centre
    linear = (frame.axes.T * frame.scale) / density  # columns: image delta per patch pixel
    origin = frame.to_image(offset[None])[0]
    return np.hstack([linear, origin[:, None]]).astype(np.float64)


def _to_patch(
    frame: faces.FaceFrame, centre: np.ndarray, density: float, pts: np.ndarray
) -> np.ndarray:
    return (frame.to_face(pts) - centre - np.array([BOX_X[0], BOX_Y[0]])) * density


def _patch_shape(density: float) -> tuple[int, int]:
    return (
        math.ceil((BOX_Y[1] - BOX_Y[0]) * density),
        math.ceil((BOX_X[1] - BOX_X[0]) * density),
    )


def _even(contour: np.ndarray, samples: int = 11) -> np.ndarray:
    """A lip contour resampled at evenly spaced columns between its two ends.

    The wanted contours are sampled that way too, so point k of a patch and point k of the
    target sit at the same place along the lip; the mesh's own points are unevenly spaced,
    and pairing them as they are slid the corners (dark smudges beside a closing mouth).
    """
    order = np.argsort(contour[:, 0], kind="stable")
    x, y = contour[order, 0], contour[order, 1]
    xs = np.linspace(x[0], x[-1], samples)
    return np.stack([xs, np.interp(xs, x, y)], 1)


def describe(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(opening, half-width, yaw) of one frame's mouth, face units."""
    frame = faces.face_frame(landmarks)
    corners = frame.to_face(landmarks[[faces.K_MOUTH_L, faces.K_MOUTH_R]])
    return (
        faces.lip_gap(landmarks),
        float(corners[1, 0] - corners[0, 0]) / 2.0,
        faces.yaw(landmarks),
    )


def _inner_polygon(contours: np.ndarray) -> np.ndarray:
    return np.concatenate([contours[1], contours[2][::-1]])


def _teeth_share(patch: np.ndarray, contours: np.ndarray) -> float:
    mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(_inner_polygon(contours)).astype(np.int32)], (1,))
    inside = patch[mask.astype(bool)]
    if len(inside) < 4:
        return 0.0
    hsv = cv2.cvtColor(inside[None], cv2.COLOR_RGB2HSV)[0].astype(np.float32)
    bright = (hsv[:, 2] > 150) & (hsv[:, 1] < 90)
    return float(bright.mean())


def _plan(track: FaceTrack, trust: np.ndarray) -> dict[int, float]:
    """Template frames worth decoding for the library: per shape bin, the steadiest few."""
    picks: dict[tuple[int, int], list[tuple[float, int]]] = {}
    centres = track.mouth_centres()
    for i in np.flatnonzero(trust > 0.9):
        gap, half_width, turn = describe(track.landmarks[i])
        scale = faces.face_frame(track.landmarks[i]).scale
        lo, hi = max(i - 1, 0), min(i + 1, track.n_frames - 1)
        motion = float(np.nan_to_num(np.hypot(*(centres[hi] - centres[lo])))) / scale
        key = (int(gap / GAP_STEP), int(half_width / WIDTH_STEP))
        picks.setdefault(key, []).append((motion + abs(turn), int(i)))
    chosen: dict[int, float] = {}
    for entries in picks.values():
        for rank, (_score, index) in enumerate(sorted(entries)[:3]):
            chosen[index] = float(rank)
    return chosen


def build_library(frames: Iterable[np.ndarray], track: FaceTrack) -> MouthLibrary:
    """Analyse a template's frames (at ``track.fps``) into its mouth library.

    1. From the landmarks alone, pick up to three steady, frontal frames per shape bin.
    2. Decode once; cut each picked frame's mouth into a face-aligned patch.
    3. Keep the sharpest patch per bin, at most MAX_ENTRIES bins (the most open first,
       then the widest spread of shapes).
    """
    global LIBRARY_RUNS
    LIBRARY_RUNS += 1
    trust = track.trust()
    present = np.flatnonzero(track.present)
    scales = [faces.face_frame(track.landmarks[i]).scale for i in present]
    density = float(np.clip(np.median(scales) if scales else MIN_DENSITY, MIN_DENSITY, MAX_DENSITY))
    centre = np.zeros(2)
    if len(present):
        mouth = track.mouth_centres()  # every frame's, once: not once per frame
        centre = np.median(
            [faces.face_frame(track.landmarks[i]).to_face(mouth[i][None])[0] for i in present],
            axis=0,
        )
    wanted = _plan(track, trust)
    h, w = _patch_shape(density)
    found: dict[tuple[int, int], tuple[float, dict[str, object]]] = {}
    for index, frame in enumerate(frames):
        if index >= track.n_frames:
            break
        if index not in wanted:
            continue
        landmarks = track.landmarks[index]
        face = faces.face_frame(landmarks)
        matrix = canonical_to_image(face, centre, density)
        patch = cv2.warpAffine(
            frame,
            matrix,
            (w, h),
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        contours = np.stack(
            [_even(_to_patch(face, centre, density, landmarks[k])) for k in CONTOURS]
        )
        gap, half_width, turn = describe(landmarks)
        lips = cv2.boundingRect(np.round(contours.reshape(-1, 2)).astype(np.int32))
        x, y, bw, bh = lips
        grey = cv2.cvtColor(patch[max(y, 0) : y + bh, max(x, 0) : x + bw], cv2.COLOR_RGB2GRAY)
        sharp = float(cv2.Laplacian(grey, cv2.CV_32F).var()) if grey.size else 0.0
        key = (int(gap / GAP_STEP), int(half_width / WIDTH_STEP))
        entry = {
            "patch": patch, "contours": contours, "gap": gap, "width": half_width,
            "teeth": _teeth_share(patch, contours), "sharp": sharp, "turn": turn, "frame": index,
        }  # fmt: skip
        # Sharpness, less a little for every rank down the steadiness order.
        score = sharp * (1.0 - 0.15 * wanted[index])
        if key not in found or score > found[key][0]:
            found[key] = (score, entry)
    entries = [e for _, e in found.values()]
    entries.sort(key=lambda e: -float(e["gap"]))  # type: ignore[arg-type]
    entries = entries[:MAX_ENTRIES]
    if not entries:
        return MouthLibrary(
            centre=np.asarray(centre, np.float64), density=density,
            patches=np.zeros((0, h, w, 3), np.uint8), contours=np.zeros((0, 4, 11, 2), np.float32),
            gap=np.zeros(0, np.float32), width=np.zeros(0, np.float32), teeth=np.zeros(0, np.float32),
            sharpness=np.zeros(0, np.float32), turn=np.zeros(0, np.float32), frames=np.zeros(0, np.int32),
        )  # fmt: skip

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array([e[name] for e in entries], dtype=dtype)

    return MouthLibrary(
        centre=np.asarray(centre, np.float64),
        density=density,
        patches=np.stack([cast(np.ndarray, e["patch"]) for e in entries]).astype(np.uint8),
        contours=np.stack([cast(np.ndarray, e["contours"]) for e in entries]).astype(np.float32),
        gap=column("gap", np.float32),
        width=column("width", np.float32),
        teeth=column("teeth", np.float32),
        sharpness=column("sharp", np.float32),
        turn=column("turn", np.float32),
        frames=column("frame", np.int32),
    )


def analyse(
    template: Path, track: FaceTrack, *, cache_dir: Path | None, fps: float | None = None
) -> MouthLibrary:
    """The template's mouth library, from the cache when it was analysed before."""
    key = f"{track.content_hash}-{track.fps:.6g}-{track.n_frames}-{_track_key(track)}"
    cache = None
    if cache_dir is not None and track.content_hash:
        cache = Cache(Path(cache_dir))
        data = cache.load("mouth-library", key, LIBRARY_VERSION)
        if data is not None:
            try:
                return MouthLibrary.from_bytes(data)
            except ValueError:
                pass
    library = build_library(media.iter_frames(Path(template), fps=fps or track.fps), track)
    if cache is not None:
        cache.store("mouth-library", key, LIBRARY_VERSION, library.to_bytes())
    return library


def _track_key(track: FaceTrack) -> str:
    """A short digest of the landmarks: a track of another face gives another library."""
    data = np.nan_to_num(track.landmarks[:, :4]).round(1).tobytes()
    return hashlib.sha256(data).hexdigest()[:12]


# --- choosing one appearance per output frame ------------------------------------------------
SWITCH_COST = 3.0  # in units of a squared shape mismatch: a switch must buy this much
OWN_BONUS = 1.0  # the template's own mouth is right in light and pose: prefer it
SHUT_GAP = 0.03  # face units: a wanted opening under this closes the mouth (engine's SQUEEZED_GAP)


def choose(
    library: MouthLibrary,
    gap: np.ndarray,
    width: np.ndarray,
    own_gap: np.ndarray,
    own_width: np.ndarray,
    own_turn: np.ndarray,
) -> np.ndarray:
    """One appearance per output frame (index into ``library``, or OWN), via Viterbi.

    ``gap``/``width``: the wanted inner-lip opening and half-width per output frame;
    ``own_*``: the same measured on the template frame each output frame is made from.
    """
    n = len(gap)
    k = len(library)
    gap_scale, width_scale, turn_scale = 0.025, 0.05, 0.12
    cost = np.empty((n, k + 1), dtype=np.float64)
    cost[:, 0] = (
        ((own_gap - gap) / gap_scale) ** 2 + ((own_width - width) / width_scale) ** 2 - OWN_BONUS
    )
    if k:
        # Too little opening cannot be stretched into teeth; too much can be closed by the
        # warp, within reason: squeezed (nearly) shut, an open mouth's tongue and teeth
        # are smeared into a squashed lower lip (a singer's wide-open frames shown for a
        # brief closure), so there extra opening costs as much as missing opening.
        short = np.maximum(gap[:, None] - library.gap[None, :], 0.0)
        extra = np.maximum(library.gap[None, :] - gap[:, None], 0.0)
        extra_scale = np.where(gap[:, None] < SHUT_GAP, gap_scale, 2 * gap_scale)
        cost[:, 1:] = (
            (short / gap_scale) ** 2
            + (extra / extra_scale) ** 2
            + ((library.width[None, :] - width[:, None]) / width_scale) ** 2
            + ((library.turn[None, :] - own_turn[:, None]) / turn_scale) ** 2
        )
    cost = np.nan_to_num(cost, nan=1e6)
    total = cost[0].copy()
    back = np.zeros((n, k + 1), dtype=np.int32)
    for j in range(1, n):
        best = int(np.argmin(total))
        switch = total[best] + SWITCH_COST
        stay = total
        back[j] = np.where(stay <= switch, np.arange(k + 1), best)
        total = np.minimum(stay, switch) + cost[j]
    path = np.empty(n, dtype=np.int32)
    path[-1] = int(np.argmin(total))
    for j in range(n - 1, 0, -1):
        path[j - 1] = back[j, path[j]]
    return path - 1  # column 0 is OWN (-1)


# --- bending a patch onto this frame ----------------------------------------------------------
def _tps_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Thin-plate spline coefficients mapping ``src`` points to ``dst`` (both N x 2)."""
    n = len(src)
    kernel = _tps_kernel(src, src)
    p = np.hstack([np.ones((n, 1)), src])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = kernel + np.eye(n) * 1e-6
    a[:n, n:] = p
    a[n:, :n] = p.T
    b = np.zeros((n + 3, 2))
    b[:n] = dst
    # OpenCV's LU: single-threaded, so it does not wake BLAS threads that then compete
    # with the encoder's (numpy's solve cost ten times more inside a render).
    ok, coef = cv2.solve(a, b, flags=cv2.DECOMP_LU)
    if not ok:
        coef = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.asarray(coef)


def _tps_kernel(pts: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The spline's radial basis r^2 log r between ``pts`` (M x 2) and ``src`` (N x 2)."""
    dx = pts[:, None, 0] - src[None, :, 0]
    dy = pts[:, None, 1] - src[None, :, 1]
    # sqrt(dx^2 + dy^2) as np.linalg.norm sums it, at a fifth of its cost.
    d = np.sqrt(dx * dx + dy * dy)
    return np.where(d > 0, d * d * np.log(np.maximum(d, 1e-12)), 0.0)


def _tps_apply(coef: np.ndarray, src: np.ndarray, pts: np.ndarray) -> np.ndarray:
    kernel = _tps_kernel(pts, src)
    n = len(src)
    return np.asarray(kernel @ coef[:n] + coef[n] + pts @ coef[n + 1 :])


def warp_patch(
    library: MouthLibrary,
    entry: int,
    target: np.ndarray,
    matrix: np.ndarray,
    origin: np.ndarray,
    shape: tuple[int, int],
    step: float,
) -> np.ndarray:
    """Library patch ``entry`` bent onto this frame's region of interest.

    ``target``: the wanted lip contours (4 x 11 x 2, image coordinates); ``matrix``: this
    frame's patch-to-image affine; ``origin``/``shape``: the region of interest. The spline
    takes the wanted contours (and a ring of fixed points on the patch border) back to the
    patch's own contours, so its lips land on the wanted lips and its border stays put.
    """
    h, w = shape
    ph, pw = library.patches.shape[1:3]
    to_image = np.vstack([matrix, [0, 0, 1]])
    # Control points in ROI pixels (target) and patch pixels (source).
    # Every other contour point (both ends kept) is enough for a smooth spline, and the
    # solve's cost grows with the cube of the point count.
    target_roi = target[:, ::2].reshape(-1, 2) - origin
    source = library.contours[entry][:, ::2].reshape(-1, 2).astype(np.float64)
    ring_patch = _ring(pw, ph, per_side=4)
    ring_roi = (np.hstack([ring_patch, np.ones((len(ring_patch), 1))]) @ to_image[:2].T) - origin
    ctrl_roi = np.vstack([target_roi, ring_roi])
    ctrl_src = np.vstack([source, ring_patch])
    coef = _tps_fit(ctrl_roi, ctrl_src)
    gw, gh = max(2, math.ceil(w / step)), max(2, math.ceil(h / step))
    xs = (np.arange(gw) + 0.5) * (w / gw) - 0.5
    ys = (np.arange(gh) + 0.5) * (h / gh) - 0.5
    grid = np.empty((gh, gw, 2))
    grid[..., 0], grid[..., 1] = xs, ys[:, None]
    coarse = _tps_apply(coef, ctrl_roi, grid.reshape(-1, 2)).reshape(gh, gw, 2).astype(np.float32)
    maps = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    return remap(library.patches[entry], maps, cv2.INTER_CUBIC)


# OpenCV's stubs want a second map; an empty one stands for none.
_NO_MAP = np.empty((0, 0), np.float32)


def remap(picture: np.ndarray, maps: np.ndarray, interpolation: int) -> np.ndarray:
    """``picture`` sampled at ``maps`` (h x w x 2 float32 source x, y; the border repeated).
    One two-channel map as it is: separate x and y maps would be strided views of it, which
    OpenCV copies on every call."""
    return np.asarray(
        cv2.remap(picture, maps, _NO_MAP, interpolation, borderMode=cv2.BORDER_REPLICATE)
    )


@functools.lru_cache(maxsize=8)
def _ring(w: int, h: int, per_side: int = 5) -> np.ndarray:
    """Fixed points along a w x h patch's border (read-only: one per patch size is kept)."""
    ring = _ring_points(w, h, per_side)
    ring.flags.writeable = False
    return ring


def _ring_points(w: int, h: int, per_side: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    top = np.stack([t * (w - 1), np.zeros_like(t)], 1)
    right = np.stack([np.full_like(t, w - 1), t * (h - 1)], 1)
    bottom = np.stack([(1 - t) * (w - 1), np.full_like(t, h - 1)], 1)
    left = np.stack([np.zeros_like(t), (1 - t) * (h - 1)], 1)
    return np.vstack([top, right, bottom, left])


def shade_match(patch: np.ndarray, base: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """``patch`` with the low-frequency difference to ``base`` removed, measured on ``ring``.

    A plane per channel (offset plus a gradient across the region) fitted where ``ring`` is
    set: light from another moment of the video, or a slightly different exposure, is
    brought to this frame's without touching the patch's detail.
    """
    ys, xs = np.nonzero(ring)
    if len(xs) < 12:
        return patch
    diff = base[ys, xs].astype(np.float64) - patch[ys, xs].astype(np.float64)
    h, w = ring.shape
    design = np.stack([np.ones_like(xs), xs / w - 0.5, ys / h - 0.5], 1).astype(np.float64)
    ok, coef = cv2.solve(design, diff, flags=cv2.DECOMP_LU | cv2.DECOMP_NORMAL)
    if not ok:
        return patch
    coef[1:] = np.clip(coef[1:], -40, 40)
    # The plane added row by row and column by column in float32: one w x h x 3 pass less
    # than adding it up in float64 first (a level's difference in a few pixels at most).
    across = (coef[0] + (np.arange(w) / w - 0.5)[:, None] * coef[1]).astype(np.float32)
    down = ((np.arange(h) / h - 0.5)[:, None] * coef[2]).astype(np.float32)
    out = patch.astype(np.float32)
    out += across[None]
    out += down[:, None]
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
