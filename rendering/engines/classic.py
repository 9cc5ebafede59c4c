"""The classic engine: re-animate the lower face from the audio with image warping (CPU only).

For every output frame we take the template frame (played forward then backward to cover
the audio), and inside a feathered lower-face region only:

1. build a backward map in a face-aligned frame (x along the eyes, unit = eye distance):
   per column, a monotone piecewise-linear map of y through seven knots (nose base, outer
   upper lip, inner upper lip, inner lower lip, outer lower lip, chin, under the chin),
   and a horizontal stretch around the mouth centre for width and rounding. The knots move
   by "desired opening minus the template's own opening", which both cancels the
   template's mouth motion and applies the audio's; monotone knots mean no fold-overs,
   so the lips never tear;
2. evaluate that map on a coarse grid and upsample it (the field is smooth), then
   ``cv2.remap`` a small region of interest;
3. paint the mouth interior (dark cavity, a hint of upper teeth) inside the target
   inner-lip polygon, with soft edges;
4. alpha-blend into the template frame through a feathered mask that lies inside the
   lower-face polygon, so every pixel outside it is the template's own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rendering import faces
from rendering.engines.base import (
    CHIN_MARGIN,
    CancelCheck,
    Engine,
    ProgressCallback,
    RenderResult,
)
from rendering.engines.playback import finished, template_output
from rendering.errors import RenderCanceled

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack

# --- shape constants (face units: 1.0 = outer eye-corner distance) -----------------------
MAX_OPEN = 0.20  # inner-lip gap at openness 1 (~18 mm on an adult face)
SEAM = 0.008  # gap left between closed lips: reads as the dark lip line
UPPER_SHARE = 0.15  # share of the opening taken by the upper lip moving up
OUTER_UPPER_SHARE = 0.08
OUTER_LOWER_SHARE = 0.85  # the lower lip's body follows its inner edge
JAW_SHARE = 0.6  # the chin drops a bit less than the lower lip
WIDTH_GAIN = 0.16  # mouth half-width change across width 0..1
ROUNDING_GAIN = 0.20  # narrowing at full rounding
TOP_MARGIN = 0.03  # repaint region starts this far under the nose base
TEETH_HEIGHT = 0.05
CHUNK = 12  # frames between cancel checks and progress reports


@dataclass(frozen=True)
class MouthPose:
    """What the audio asks of one frame's mouth (all in 0..1)."""

    openness: float
    width: float = 0.5
    rounding: float = 0.0


@dataclass(frozen=True)
class MouthReference:
    """Per-template constants: the resting mouth half-width the audio's width scales."""

    half_width: float

    @classmethod
    def from_track(cls, track: FaceTrack) -> MouthReference:
        widths = []
        for i in np.flatnonzero(track.present):
            frame = faces.face_frame(track.landmarks[i])
            corners = frame.to_face(track.landmarks[i, [faces.K_MOUTH_L, faces.K_MOUTH_R]])
            widths.append((corners[1, 0] - corners[0, 0]) / 2.0)
        return cls(half_width=float(np.median(widths)) if widths else 0.25)


def _smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / np.maximum(np.asarray(edge1) - edge0, 1e-6), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def _contour_fn(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0], kind="stable")
    return points[order, 0], points[order, 1]


class _MouthModel:
    """The mouth of one template frame in face coordinates, and where the pose moves it."""

    def __init__(self, landmarks: np.ndarray, pose: MouthPose, reference: MouthReference) -> None:
        self.frame = faces.face_frame(landmarks)
        to_face = self.frame.to_face
        self.ou = _contour_fn(to_face(landmarks[faces.K_OUTER_UPPER]))
        self.iu = _contour_fn(to_face(landmarks[faces.K_INNER_UPPER]))
        self.il = _contour_fn(to_face(landmarks[faces.K_INNER_LOWER]))
        self.ol = _contour_fn(to_face(landmarks[faces.K_OUTER_LOWER]))
        nose = to_face(landmarks[faces.K_NOSE_BASE][None])[0]
        jaw = to_face(landmarks[faces.K_JAW])
        jaw = jaw[jaw[:, 1] > nose[1] + TOP_MARGIN]
        self.jaw = _contour_fn(jaw)
        corners = to_face(landmarks[[faces.K_MOUTH_L, faces.K_MOUTH_R]])
        inner = to_face(landmarks[[faces.K_INNER_UPPER[0], faces.K_INNER_UPPER[-1]]])
        self.xm = float(corners[:, 0].mean())
        self.c_src = max(float(corners[1, 0] - corners[0, 0]) / 2.0, 0.05)
        ci_src = max(float(inner[1, 0] - inner[0, 0]) / 2.0, 0.04)
        spread = 1.0 + WIDTH_GAIN * (pose.width - 0.5) - ROUNDING_GAIN * pose.rounding
        self.c_dst = reference.half_width * spread
        self.ci_dst = self.c_dst * min(ci_src / self.c_src, 1.0)
        self.gap = MAX_OPEN * pose.openness * (1.0 + 0.25 * pose.rounding)
        self.reach = 1.9 * max(self.c_dst, self.c_src)  # horizontal stretch fades out here
        self.jaw_reach = max(float(np.max(np.abs(jaw[:, 0] - self.xm))) * 0.9, self.reach)
        self.top = float(nose[1]) + TOP_MARGIN
        self.lip_top = float(np.min(self.ou[1]))
        self.lip_bottom = float(np.max(self.ol[1]))
        self.chin = float(np.interp(self.xm, *self.jaw))
        # The opening the template itself shows at the mouth centre (what we cancel).
        centre = self.xm + 0.0
        self.gap_src_centre = max(
            float(np.interp(centre, *self.il) - np.interp(centre, *self.iu)), 0.0
        )

    def source_x(self, xr: np.ndarray) -> np.ndarray:
        """Horizontal backward map in the lip band (relative to the mouth centre)."""
        reach = self.reach
        return np.interp(
            xr, [-reach, -self.c_dst, self.c_dst, reach], [-reach, -self.c_src, self.c_src, reach]
        )

    def knots(self, xr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target and source y of the seven knots for columns at target ``xr`` (7 x M each)."""
        xs = self.xm + self.source_x(xr)
        s_ou = np.interp(xs, *self.ou)
        s_iu = np.interp(xs, *self.iu)
        s_il = np.maximum(np.interp(xs, *self.il), s_iu)
        s_ol = np.maximum(np.interp(xs, *self.ol), s_il)
        s_ch = np.maximum(np.interp(xs, *self.jaw), s_ol + 0.02)
        ellipse = np.sqrt(np.clip(1.0 - (xr / self.ci_dst) ** 2, 0.0, 1.0))
        lateral = 1.0 - _smoothstep(self.c_dst, self.reach, np.abs(xr))
        delta = (SEAM + self.gap * ellipse - (s_il - s_iu)) * lateral
        jaw_delta = SEAM + self.gap - self.gap_src_centre
        jaw_weight = 1.0 - _smoothstep(self.c_dst, self.jaw_reach, np.abs(xr))
        top = np.full_like(xr, self.top)
        bottom = s_ch + CHIN_MARGIN * 0.8
        src = np.stack([top, s_ou, s_iu, s_il, s_ol, s_ch, bottom])
        dst = np.stack(
            [
                top,
                s_ou - OUTER_UPPER_SHARE * delta,
                s_iu - UPPER_SHARE * delta,
                s_il + (1.0 - UPPER_SHARE) * delta,
                s_ol + OUTER_LOWER_SHARE * delta,
                s_ch + JAW_SHARE * jaw_delta * jaw_weight,
                bottom,
            ]
        )
        # Strictly increasing knots on both sides make the column map monotone: no fold-over.
        eps = 1e-3
        for row in (src, dst):
            for k in range(1, 7):
                row[k] = np.maximum(row[k], row[k - 1] + eps)
        return dst, src

    def lip_band_weight(self, y: np.ndarray) -> np.ndarray:
        rise = _smoothstep(self.top, self.lip_top, y)
        fall = 1.0 - _smoothstep(self.lip_bottom, self.chin, y)
        return rise * fall

    def backward_map(self, u: np.ndarray) -> np.ndarray:
        """Source face coordinates for target face coordinates ``u`` (M x 2)."""
        xr = u[:, 0] - self.xm
        y = u[:, 1]
        dst, src = self.knots(xr)
        y_src = y.copy()
        for k in range(6):
            t0, t1, s0, s1 = dst[k], dst[k + 1], src[k], src[k + 1]
            inside = (y >= t0) & (y < t1)
            y_src = np.where(inside, s0 + (y - t0) * (s1 - s0) / (t1 - t0), y_src)
        x_src = self.xm + xr + self.lip_band_weight(y) * (self.source_x(xr) - xr)
        return np.stack([x_src, y_src], axis=1)

    def inner_polygon(self, samples: int = 21) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target inner-lip contours sampled across the opening: xr, upper y, lower y."""
        xr = np.linspace(-self.ci_dst, self.ci_dst, samples)
        dst, _ = self.knots(xr)
        return xr, dst[2], dst[3]


def _grid_map(model: _MouthModel, x0: int, y0: int, w: int, h: int, step: float) -> np.ndarray:
    """Backward map (h x w x 2 float32, absolute image coordinates) via a coarse grid."""
    gw, gh = max(2, math.ceil(w / step)), max(2, math.ceil(h / step))
    # Coarse sample centres placed where cv2.resize's linear upsampling expects them.
    xs = x0 + (np.arange(gw) + 0.5) * (w / gw) - 0.5
    ys = y0 + (np.arange(gh) + 0.5) * (h / gh) - 0.5
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    src = model.frame.to_image(model.backward_map(model.frame.to_face(grid)))
    coarse = src.reshape(gh, gw, 2).astype(np.float32)
    return np.asarray(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR))


def _fill(
    shape: tuple[int, int], polygon: np.ndarray, offset: np.ndarray, *, supersample: int = 1
) -> np.ndarray:
    """Rasterise a polygon (255 inside); with ``supersample`` > 1, with antialiased edges.

    Antialiasing by drawing at ``supersample`` times the size and area-averaging down, not
    with ``LINE_AA``: OpenCV's polygon fill leaves one-pixel spikes at sub-pixel extrema,
    which showed as dark drips under the lips.
    """
    h, w = shape
    k = supersample
    mask = np.zeros((h * k, w * k), dtype=np.uint8)
    # Pixel centres sit at integer coordinates: map them to the centres of the k x k blocks.
    pts = np.round(((polygon - offset) * k + (k - 1) / 2) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], (255,), lineType=cv2.LINE_8, shift=4)
    if k > 1:
        return np.asarray(cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA))
    return mask


def _paint_interior(
    roi: np.ndarray, model: _MouthModel, origin: np.ndarray, source_roi: np.ndarray
) -> None:
    """Draw the mouth cavity and upper teeth into ``roi`` (in place)."""
    xr, upper, lower = model.inner_polygon()
    frame = model.frame
    # Reach ~0.7 px past the lip edges: antialiased edges of a nearly closed mouth would
    # otherwise let the template's squeezed teeth show through as a light line.
    pad = 0.7 / frame.scale
    upper, lower = upper - pad, lower + pad
    poly_face = np.concatenate(
        [np.stack([model.xm + xr, upper], 1), np.stack([model.xm + xr, lower], 1)[::-1]]
    )
    poly = frame.to_image(poly_face)
    lo = np.floor(poly.min(axis=0) - origin).astype(int) - 2
    hi = np.ceil(poly.max(axis=0) - origin).astype(int) + 3
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [roi.shape[1], roi.shape[0]])
    if np.any(hi - lo < 2):
        return
    box_origin = origin + lo
    bh, bw = int(hi[1] - lo[1]), int(hi[0] - lo[0])
    alpha = _fill((bh, bw), poly, box_origin, supersample=4).astype(np.float32) / 255.0
    if float(alpha.max()) == 0.0:
        return
    # Face coordinates of each pixel in the box (affine, so built from one row and one
    # column by broadcasting), to shade by depth and place the teeth.
    axes = (frame.axes / frame.scale).astype(np.float32)
    rel = (box_origin - frame.origin).astype(np.float32)
    cols = np.arange(bw, dtype=np.float32)[None, :] + rel[0]
    rows = np.arange(bh, dtype=np.float32)[:, None] + rel[1]
    pxr = (axes[0, 0] * cols + axes[0, 1] * rows) - np.float32(model.xm)
    py = axes[1, 0] * cols + axes[1, 1] * rows
    top = np.interp(pxr, xr, upper).astype(np.float32)
    across = np.minimum(np.abs(pxr) / np.float32(model.ci_dst), 1.0)

    # Colours come from this frame's own lips, so the cavity matches the light and grade.
    lip_colour = _lip_colour(source_roi, model, origin).astype(np.float32)
    brightness = float(np.clip(lip_colour.mean() / 170.0, 0.4, 1.2))
    # A fixed dark red-brown, lit like the lips: sampled colours would be grey on pale lips.
    cavity = np.array([70.0, 24.0, 26.0], dtype=np.float32) * brightness
    shade = 0.55 + 0.45 * across  # darker in the middle, towards the throat
    colour = cavity * shade[..., None]
    teeth_weight = float(np.clip((model.gap - 0.02) / 0.05, 0.0, 1.0))
    if teeth_weight > 0:
        teeth_h = min(TEETH_HEIGHT, 0.45 * float(model.gap + SEAM))
        teeth = (1.0 - _smoothstep(teeth_h * 0.7, teeth_h * 1.15, py - top)) * (
            1.0 - _smoothstep(0.55, 0.85, across)
        )
        teeth = (teeth * teeth_weight)[..., None]
        teeth_colour = np.array([222.0, 216.0, 204.0], dtype=np.float32) * (brightness * 0.85)
        teeth_colour = teeth_colour * (0.8 + 0.2 * (1.0 - across))[..., None]
        colour = colour * (1.0 - teeth) + teeth_colour * teeth
    tongue_weight = float(np.clip((model.gap - 0.08) / 0.1, 0.0, 0.5))
    if tongue_weight > 0:  # a slightly lighter floor (tongue) when the mouth is wide open
        bottom = np.interp(pxr, xr, lower).astype(np.float32)
        depth = (py - top) / np.maximum(bottom - top, 1e-4)
        tongue = (_smoothstep(0.6, 1.0, depth) * tongue_weight)[..., None]
        colour = colour * (1.0 - tongue) + (lip_colour * 0.55) * tongue

    # Closed lips meet in a soft shadow line, not a painted slot: as the mouth closes the
    # cavity colour turns into a darker shade of the lips themselves.
    closing = 1.0 - float(np.clip((model.gap + SEAM) / 0.04, 0.0, 1.0))
    if closing > 0:
        colour = colour * (1.0 - closing) + (lip_colour * 0.5) * closing
    box = roi[lo[1] : hi[1], lo[0] : hi[0]]
    painted = np.clip(colour, 0, 255).astype(np.uint8)
    alpha *= 0.96
    roi[lo[1] : hi[1], lo[0] : hi[0]] = cv2.blendLinear(painted, box, alpha, 1.0 - alpha)


def _lip_colour(roi: np.ndarray, model: _MouthModel, origin: np.ndarray) -> np.ndarray:
    """Mean colour of the lower lip's middle in the (unwarped) template region."""
    xs = model.xm + np.linspace(-0.3, 0.3, 5) * model.c_src
    ys = (np.interp(xs, *model.il) + np.interp(xs, *model.ol)) / 2.0
    pts = model.frame.to_image(np.stack([xs, ys], 1)) - origin
    pts = np.clip(np.round(pts).astype(int), 0, [roi.shape[1] - 1, roi.shape[0] - 1])
    return np.asarray(roi[pts[:, 1], pts[:, 0]].astype(np.float64).mean(axis=0))


def _feathered_mask(
    shape: tuple[int, int], polygon: np.ndarray, origin: np.ndarray, feather: float
) -> np.ndarray:
    """Blend weights (float32, 0..1) that fall to zero inside ``polygon``'s edge.

    Eroding by two feather widths before blurring keeps the whole soft edge inside the
    polygon, so nothing outside it changes. The mask is smooth, so it is built at reduced
    resolution (erosion and blur cost grow with the square of the radius) and upsampled.
    """
    h, w = shape
    down = max(1, round(feather / 1.5))
    small = (max(1, math.ceil(h / down)), max(1, math.ceil(w / down)))
    mask = _fill(small, polygon / down, origin / down)
    f = feather / down
    radius = math.ceil(2 * f)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    mask = cv2.GaussianBlur(mask, (0, 0), f)
    if down > 1:
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.asarray(mask, dtype=np.float32) * np.float32(1.0 / 255.0)


def animate_frame(
    frame: np.ndarray,
    landmarks: np.ndarray,
    pose: MouthPose,
    reference: MouthReference,
    *,
    inplace: bool = False,
) -> np.ndarray:
    """The template frame with its lower face re-animated to ``pose``.

    Returns a new array unless ``inplace`` (the caller will not need the original again).
    """
    out = frame if inplace else frame.copy()
    try:
        model = _MouthModel(landmarks, pose, reference)
        polygon = faces.lower_face_polygon(landmarks, chin_margin=CHIN_MARGIN)
    except ValueError:
        return out  # degenerate landmarks: leave the frame as it is
    scale = model.frame.scale
    if scale < 12.0:
        return out  # too small a face to re-animate visibly
    height, width = frame.shape[:2]
    feather = max(1.0, 0.025 * scale)
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 2
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), width), min(int(y1), height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return out
    w, h = x1 - x0, y1 - y0
    origin = np.array([x0, y0], dtype=np.float64)

    maps = _grid_map(model, x0, y0, w, h, step=max(3.0, scale / 20.0))
    warped = cv2.remap(
        frame, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    source_roi = frame[y0:y1, x0:x1]
    _paint_interior(warped, model, origin, source_roi)

    alpha = _feathered_mask((h, w), polygon, origin, feather)
    # cv2.blendLinear does the weighted sum in C, ~10x faster than float numpy here.
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, source_roi, alpha, 1.0 - alpha)
    return out


# --- the engine -----------------------------------------------------------------------------
class ClassicEngine(Engine):
    """CPU lip-sync by warping, see the module docstring. Options: ``crf``, ``preset``.

    The default crf is 18, not the writer's 20: outputs re-encode already compressed
    templates, and at 20 the generation loss alone takes the untouched upper face below
    40 dB PSNR against the template.
    """

    name = "classic"

    def __init__(self, *, crf: int = 18, preset: str = "veryfast") -> None:
        self.crf = crf
        self.preset = preset

    def render(
        self,
        *,
        template: Path,
        track: FaceTrack,
        audio: AudioFeatures,
        audio_path: Path,
        out_path: Path,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> RenderResult:
        """Write the re-animated template to ``out_path``.

        1. Work out the output length from the audio and the per-frame mouth poses.
        2. Decode the template at the track's frame rate (kept in memory or on disk when
           the output loops over it).
        3. For each output frame: pick the ping-pong template frame, re-animate it when it
           has a face, write it; every CHUNK frames report progress and check for cancel.
        4. Mux the driving audio; publish the file only once it is complete.
        """
        started = time.perf_counter()
        template, out_path = Path(template), Path(out_path)
        n_out = max(1, round(audio.duration * track.fps))
        controls = audio.mouth_controls(track.fps, n_out)
        openness = np.asarray(controls.openness, dtype=np.float32)
        width = np.asarray(controls.width, dtype=np.float32)
        rounding = np.asarray(controls.rounding, dtype=np.float32)
        reference = MouthReference.from_track(track)
        with template_output(
            template=template,
            track=track,
            audio=audio,
            audio_path=audio_path,
            out_path=out_path,
            crf=self.crf,
            preset=self.preset,
        ) as out:
            for j in range(out.n_out):
                if j % CHUNK == 0:
                    if should_cancel is not None and should_cancel():
                        raise RenderCanceled()
                    if progress is not None:
                        progress(j / out.n_out)
                i = out.template_index(j)
                frame, owned = out.frames.get(i)
                ti = min(i, track.n_frames - 1)
                if track.present[ti]:
                    pose = MouthPose(float(openness[j]), float(width[j]), float(rounding[j]))
                    frame = animate_frame(
                        frame, track.landmarks[ti], pose, reference, inplace=owned
                    )
                out.writer.write(frame)
        return finished(out, out_path, started, progress)
