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

import contextlib
import functools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from rendering import face_model, faces, mouths, visemes
from rendering.articulation import mouth_shapes
from rendering.cache import Cache
from rendering.engines.base import (
    CancelCheck,
    Engine,
    FrameOverlay,
    ProgressCallback,
    RenderResult,
    output_frame_count,
    ping_pong_index,
)
from rendering.engines.playback import finished, template_output
from rendering.errors import RenderCanceled
from rendering.media import pixels

if TYPE_CHECKING:
    from rendering.articulation import ArticulationModel
    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack

# --- shape constants (face units: 1.0 = outer eye-corner distance) -----------------------
MAX_OPEN = 0.18  # inner-lip gap at openness 1 (~16 mm on an adult face: a clear spoken "ah")
SEAM = 0.008  # gap left between closed lips: reads as the dark lip line
UPPER_SHARE = 0.15  # share of the opening taken by the upper lip moving up
OUTER_UPPER_SHARE = 0.08
OUTER_LOWER_SHARE = 0.85  # the lower lip's body follows its inner edge
JAW_SHARE = 0.6  # the chin drops a bit less than the lower lip
WIDTH_GAIN = 0.16  # mouth half-width change across width 0..1
ROUNDING_GAIN = 0.20  # narrowing at full rounding
CHIN_PAD = 0.08  # beyond the chin's drop in this frame: room for the feathered edge
TOP_MARGIN = 0.03  # repaint region starts this far under the nose base
TEETH_HEIGHT = 0.065
TEETH_HINT = 0.8  # opacity of painted teeth
# A template that never shows its mouth open gets this share of the wanted opening: the
# painted interior is a guess, and a modest one is far less noticeable than a wide one.
PAINTED_OPENING = 0.6
SHUT_COVER = 0.025  # face units of the lower lip's inner edge the closed lips' line covers
SQUEEZED_GAP = 0.03  # wanted openings under this, from a source twice as open, are redrawn
OPENING_PROFILE = 0.9  # exponent of the opening's width profile (0.5: ellipse, 1: parabola)
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


def _smoothstep(
    edge0: float | np.floating[Any] | np.ndarray,
    edge1: float | np.floating[Any] | np.ndarray,
    x: np.ndarray,
) -> np.ndarray:
    # np.minimum / np.maximum, not np.clip: the same values without np.clip's Python-level
    # checks, which cost more than the arithmetic on a face's few hundred columns.
    t = np.minimum(np.maximum((x - edge0) / np.maximum(np.asarray(edge1) - edge0, 1e-6), 0.0), 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


class _Across:
    """Positions across a turned head's mouth: ``u`` as the image shows them (relative to
    the corners' midpoint, -1 and 1 the corners) and ``s`` as a frontal camera would
    (``face_model.mouth_profile``). Outside the corners the two are the same."""

    def __init__(self, yaw: float, contour: tuple[int, ...]) -> None:
        self.s, self.u = face_model.mouth_profile(yaw, contour)

    def frontal(self, u: np.ndarray) -> np.ndarray:
        return np.where(np.abs(u) <= 1.0, np.interp(u, self.u, self.s), u)


def _contour_fn(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0], kind="stable")
    return points[order, 0], points[order, 1]


@dataclass(frozen=True)
class _MouthShape:
    """What one template frame's landmarks say of its mouth, whatever the audio asks: the
    face's frame, the head's turn and the lip contours in face coordinates. A looping
    template shows each frame many times, so these are kept (:func:`_mouth_shape`)."""

    frame: faces.FaceFrame
    yaw: float
    across: _Across
    ou: tuple[np.ndarray, np.ndarray]
    iu: tuple[np.ndarray, np.ndarray]
    il: tuple[np.ndarray, np.ndarray]
    ol: tuple[np.ndarray, np.ndarray]
    jaw: tuple[np.ndarray, np.ndarray]
    jaw_half_width: float
    xm: float
    c_src: float
    ci_src: float
    top: float
    lip_top: float
    lip_bottom: float
    chin: float
    gap_src_centre: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> _MouthShape:
        frame = faces.face_frame(landmarks)
        to_face = frame.to_face
        # The head's turn places the opening: the lips curve round the teeth, so a turned
        # mouth's middle (where it opens most) sits towards the far corner and its far half
        # is foreshortened. Drawn as if frontal, the opening of a head turned 25 degrees
        # peaked a third of the half-width off the real middle of the lips.
        head = faces.head_pose(landmarks)
        yaw = 0.0 if head is None else float(head.yaw)
        ou = _contour_fn(to_face(landmarks[faces.K_OUTER_UPPER]))
        iu = _contour_fn(to_face(landmarks[faces.K_INNER_UPPER]))
        il = _contour_fn(to_face(landmarks[faces.K_INNER_LOWER]))
        ol = _contour_fn(to_face(landmarks[faces.K_OUTER_LOWER]))
        nose = to_face(landmarks[faces.K_NOSE_BASE][None])[0]
        jaw_points = to_face(landmarks[faces.K_JAW])
        jaw_points = jaw_points[jaw_points[:, 1] > nose[1] + TOP_MARGIN]
        jaw = _contour_fn(jaw_points)
        corners = to_face(landmarks[[faces.K_MOUTH_L, faces.K_MOUTH_R]])
        inner = to_face(landmarks[[faces.K_INNER_UPPER[0], faces.K_INNER_UPPER[-1]]])
        xm = float(corners[:, 0].mean())
        # The opening the template itself shows at the mouth centre (what we cancel).
        gap_src_centre = max(float(np.interp(xm, *il) - np.interp(xm, *iu)), 0.0)
        return cls(
            frame=frame,
            yaw=yaw,
            across=_Across(yaw, faces.INNER_UPPER),
            ou=ou,
            iu=iu,
            il=il,
            ol=ol,
            jaw=jaw,
            jaw_half_width=float(np.max(np.abs(jaw_points[:, 0] - xm))),
            xm=xm,
            c_src=max(float(corners[1, 0] - corners[0, 0]) / 2.0, 0.05),
            ci_src=max(float(inner[1, 0] - inner[0, 0]) / 2.0, 0.04),
            top=float(nose[1]) + TOP_MARGIN,
            lip_top=float(np.min(ou[1])),
            lip_bottom=float(np.max(ol[1])),
            chin=float(np.interp(xm, *jaw)),
            gap_src_centre=gap_src_centre,
        )


# Shapes of the template frames seen last: a template looped under a longer audio comes back
# to each frame (ping-pong).
_mouth_shape = faces.ByLandmarks(_MouthShape.of, 512)


class _MouthModel:
    """The mouth of one template frame in face coordinates, and where the pose moves it."""

    def __init__(self, landmarks: np.ndarray, pose: MouthPose, reference: MouthReference) -> None:
        shape = _mouth_shape(landmarks)
        self.frame = shape.frame
        self.yaw = shape.yaw
        self.across = shape.across
        self.ou, self.iu, self.il, self.ol, self.jaw = (
            shape.ou, shape.iu, shape.il, shape.ol, shape.jaw
        )  # fmt: skip
        self.xm = shape.xm
        self.c_src = shape.c_src
        spread = 1.0 + WIDTH_GAIN * (pose.width - 0.5) - ROUNDING_GAIN * pose.rounding
        self.c_dst = reference.half_width * spread
        self.ci_dst = self.c_dst * min(shape.ci_src / self.c_src, 1.0)
        self.gap = MAX_OPEN * pose.openness * (1.0 + 0.25 * pose.rounding)
        self.reach = 1.9 * max(self.c_dst, self.c_src)  # horizontal stretch fades out here
        self.jaw_reach = max(shape.jaw_half_width * 0.9, self.reach)
        self.top = shape.top
        self.lip_top = shape.lip_top
        self.lip_bottom = shape.lip_bottom
        self.chin = shape.chin
        self.gap_src_centre = shape.gap_src_centre

    def source_x(self, xr: np.ndarray) -> np.ndarray:
        """Horizontal backward map in the lip band (relative to the mouth centre)."""
        reach = self.reach
        # Identity beyond the reach on both sides: np.interp holds its end values, which
        # made every column past the reach copy the one at it (a smear over the cheek, hair
        # or background beside a wide or tilted face).
        far = 1e3
        return np.interp(
            xr,
            [-far, -reach, -self.c_dst, self.c_dst, reach, far],
            [-far, -reach, -self.c_src, self.c_src, reach, far],
        )

    def knots(self, xr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target and source y of the seven knots for columns at target ``xr`` (7 x M each)."""
        xs = self.xm + self.source_x(xr)
        s_ou = np.interp(xs, *self.ou)
        s_iu = np.interp(xs, *self.iu)
        s_il = np.maximum(np.interp(xs, *self.il), s_iu)
        s_ol = np.maximum(np.interp(xs, *self.ol), s_il)
        s_ch = np.maximum(np.interp(xs, *self.jaw), s_ol + 0.02)
        # The opening across the mouth: full at the centre, closing to a point at the inner
        # corners (a parabola; an ellipse's blunt ends read as a cartoon grin).
        ellipse = np.minimum(np.maximum(1.0 - self.inner_s(xr) ** 2, 0.0), 1.0) ** OPENING_PROFILE
        lateral = 1.0 - _smoothstep(self.c_dst, self.reach, np.abs(xr))
        delta = (SEAM + self.gap * ellipse - (s_il - s_iu)) * lateral
        jaw_delta = SEAM + self.gap - self.gap_src_centre
        jaw_weight = 1.0 - _smoothstep(self.c_dst, self.jaw_reach, np.abs(xr))
        top = np.full_like(xr, self.top)
        bottom = s_ch + JAW_SHARE * max(jaw_delta, 0.0) * jaw_weight + 0.6 * CHIN_PAD
        knots = np.stack(
            [
                top,
                s_ou - OUTER_UPPER_SHARE * delta,
                s_iu - UPPER_SHARE * delta,
                s_il + (1.0 - UPPER_SHARE) * delta,
                s_ol + OUTER_LOWER_SHARE * delta,
                s_ch + JAW_SHARE * jaw_delta * jaw_weight,
                bottom,
                top,
                s_ou,
                s_iu,
                s_il,
                s_ol,
                s_ch,
                bottom,
            ]
        ).reshape(2, 7, -1)  # target, source
        # Strictly increasing knots on both sides make the column map monotone: no fold-over.
        eps = 1e-3
        for k in range(1, 7):
            np.maximum(knots[:, k], knots[:, k - 1] + eps, out=knots[:, k])
        return knots[0], knots[1]

    def inner_s(self, xr: np.ndarray) -> np.ndarray:
        """Frontal position across the opening (-1 and 1 its inner corners) of target
        columns ``xr`` (face units from the corners' midpoint)."""
        return np.asarray(self.across.frontal(xr / max(self.ci_dst, 1e-3)))

    def lip_band_weight(self, y: np.ndarray) -> np.ndarray:
        rise = _smoothstep(self.top, self.lip_top, y)
        fall = 1.0 - _smoothstep(self.lip_bottom, self.chin, y)
        return rise * fall

    def backward_map(self, u: np.ndarray) -> np.ndarray:
        """Source face coordinates for target face coordinates ``u`` (M x 2)."""
        xr = u[:, 0] - self.xm
        y = u[:, 1]
        dst, src = self.knots(xr)
        # Each point's segment between two knots of its column (knots increase strictly);
        # points above the first knot or past the last stay where they are.
        k = np.count_nonzero(y >= dst, axis=0) - 1
        inside = (k >= 0) & (k < 6)
        at = np.minimum(np.maximum(k, 0), 5)[None]
        t0, t1 = np.take_along_axis(dst, at, 0)[0], np.take_along_axis(dst, at + 1, 0)[0]
        s0, s1 = np.take_along_axis(src, at, 0)[0], np.take_along_axis(src, at + 1, 0)[0]
        y_src = np.where(inside, s0 + (y - t0) * (s1 - s0) / (t1 - t0), y)
        x_src = self.xm + xr + self.lip_band_weight(y) * (self.source_x(xr) - xr)
        return np.stack([x_src, y_src], axis=1)

    def target_contours(self) -> np.ndarray:
        """The wanted lip contours (outer upper, inner upper, inner lower, outer lower), each
        sampled at 11 evenly spaced columns, in image coordinates (4 x 11 x 2; computed once
        per frame, read-only)."""
        return self._sampled[0]

    def inner_polygon(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target inner-lip contours sampled at 21 columns across the opening: xr, upper y,
        lower y (face units; computed once per frame, with the contours)."""
        return self._sampled[1]

    @functools.cached_property
    def _sampled(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        samples = 11
        outer = np.linspace(-self.c_dst, self.c_dst, samples)
        inner = np.linspace(-self.ci_dst, self.ci_dst, samples)
        across = np.linspace(-self.ci_dst, self.ci_dst, 21)
        # One knots() call for every set of columns: each column's knots are its own.
        dst, _ = self.knots(np.concatenate([outer, inner, across]))
        dst_outer, dst_inner = dst[:, :samples], dst[:, samples : 2 * samples]
        xr = np.stack([outer, inner, inner, outer])
        y = np.stack([dst_outer[1], dst_inner[2], dst_inner[3], dst_outer[4]])
        face = np.stack([self.xm + xr, y], axis=-1)  # 4 x S x 2
        contours = self.frame.to_image(face.reshape(-1, 2)).reshape(4, samples, 2)
        contours.flags.writeable = False
        return contours, (across, dst[2, 2 * samples :], dst[3, 2 * samples :])


def _grid_map(model: _MouthModel, x0: int, y0: int, w: int, h: int, step: float) -> np.ndarray:
    """Backward map (h x w x 2 float32, absolute image coordinates) via a coarse grid."""
    gw, gh = max(2, math.ceil(w / step)), max(2, math.ceil(h / step))
    # Coarse sample centres placed where cv2.resize's linear upsampling expects them.
    xs = x0 + (np.arange(gw) + 0.5) * (w / gw) - 0.5
    ys = y0 + (np.arange(gh) + 0.5) * (h / gh) - 0.5
    grid = np.empty((gh, gw, 2))
    grid[..., 0], grid[..., 1] = xs, ys[:, None]
    src = model.frame.to_image(model.backward_map(model.frame.to_face(grid.reshape(-1, 2))))
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
    roi: np.ndarray,
    model: _MouthModel,
    origin: np.ndarray,
    source_roi: np.ndarray,
    *,
    shut: bool = False,
    squeezed: bool = False,
) -> np.ndarray | None:
    """Draw the mouth cavity and upper teeth into ``roi`` (in place); with ``shut``, only
    the soft shadow line where closed lips meet. ``squeezed``: the template (or the shown
    appearance) has an open mouth here, whose teeth must not lend the paint their edges.
    Returns the paint's opacity over ``roi`` (None where nothing was painted)."""
    xr, upper, lower = model.inner_polygon()
    frame = model.frame
    # Reach ~0.7 px past the lip edges: antialiased edges of a nearly closed mouth would
    # otherwise let the template's squeezed teeth show through as a light line.
    pad = 0.7 / frame.scale
    meet = (upper + lower) / 2.0  # where closed lips meet
    upper, lower = upper - pad, lower + pad
    if shut or squeezed:
        # Closing an open mouth: its teeth reach past the inner lips' landmarks (the lips
        # roll over them), so the paint also covers the lips' inner edges (in lip colour),
        # thinning towards the corners.
        taper = 1.0 - np.minimum(model.inner_s(xr) ** 2, 1.0)
        upper = upper - 0.5 * SHUT_COVER * taper
        lower = lower + SHUT_COVER * taper
    poly_face = np.concatenate(
        [np.stack([model.xm + xr, upper], 1), np.stack([model.xm + xr, lower], 1)[::-1]]
    )
    poly = frame.to_image(poly_face)
    lo = np.floor(poly.min(axis=0) - origin).astype(int) - 2
    hi = np.ceil(poly.max(axis=0) - origin).astype(int) + 3
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [roi.shape[1], roi.shape[0]])
    if np.any(hi - lo < 2):
        return None
    box_origin = origin + lo
    bh, bw = int(hi[1] - lo[1]), int(hi[0] - lo[0])
    alpha = _fill((bh, bw), poly, box_origin, supersample=4).astype(np.float32) / 255.0
    if float(alpha.max()) == 0.0:
        return None
    # Face coordinates of each pixel in the box (affine, so built from one row and one
    # column by broadcasting), to shade by depth and place the teeth.
    axes = (frame.axes / frame.scale).astype(np.float32)
    rel = (box_origin - frame.origin).astype(np.float32)
    cols = np.arange(bw, dtype=np.float32)[None, :] + rel[0]
    rows = np.arange(bh, dtype=np.float32)[:, None] + rel[1]
    pxr = (axes[0, 0] * cols + axes[0, 1] * rows) - np.float32(model.xm)
    py = axes[1, 0] * cols + axes[1, 1] * rows
    top = np.interp(pxr, xr, upper).astype(np.float32)
    # Across the opening as a frontal camera would see it: on a turned head the far half's
    # shading and teeth are foreshortened with it.
    frontal = model.inner_s(pxr).astype(np.float32)
    across = np.minimum(np.abs(frontal), 1.0)

    # Colours come from this frame's own lips, so the opening matches the light and grade:
    # a fixed colour reads as painted on. From the lips inwards: the lips' wet inner
    # surface (a darker lip colour), the upper teeth under the upper lip, the cavity (the
    # lips' hue at depth) and, when the mouth is well open, the tongue's lighter floor.
    lip_colour = _lip_colour(source_roi, model, origin).astype(np.float32)
    skin, cast = _skin_light(source_roi)
    hsv = cv2.cvtColor(np.clip(lip_colour, 0, 255).astype(np.uint8)[None, None], cv2.COLOR_RGB2HSV)
    hsv = hsv.astype(np.float32)
    # A mouth's inside is a dark, warm red-brown whatever the lips' make-up: pale or
    # greyish lips (an older face, a cold grade) gave a grey cavity, a smudge. Their hue is
    # kept when it is a red (OpenCV hue 0-180: reds wrap around 0), else a warm one is used.
    hue = float(hsv[0, 0, 0])
    if 20.0 < hue < 150.0:
        hsv[..., 0] = 5.0
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.1 + 40.0, 110, 200)
    hsv[..., 2] = np.clip(hsv[..., 2] * 0.26, 14, 56)  # dark: a lit cavity reads as painted
    cavity = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    bottom = np.interp(pxr, xr, lower).astype(np.float32)
    gap = np.maximum(bottom - top, np.float32(1e-4))
    below = py - top  # distance under the upper inner lip (face units)
    depth = below / gap  # 0 at the upper lip, 1 at the lower
    # Deepest in the corners, where the cheeks close over the opening, and under the teeth.
    shade = (1.0 - 0.35 * across * across) * (0.75 + 0.25 * _smoothstep(0.0, 0.6, depth))
    colour = cavity * shade[..., None]
    tongue_weight = float(np.clip((model.gap - 0.08) / 0.08, 0.0, 0.45))
    if tongue_weight > 0:  # the tongue's floor, in the mouth's shade, when it is well open
        tongue = (_smoothstep(0.7, 1.0, depth) * tongue_weight)[..., None]
        colour = colour * (1.0 - tongue) + (lip_colour * 0.45) * tongue
    band = np.float32(min(0.012, 0.15 * float(model.gap + SEAM)))  # the lips' inner surface
    # A hint of teeth, never a solid bar: no frame of this person shows them, so their
    # shape is a guess and a crisp white band is the first thing a viewer calls painted.
    teeth_weight = TEETH_HINT * float(np.clip((model.gap - 0.04) / 0.04, 0.0, 1.0))
    if teeth_weight > 0:
        teeth_h = min(TEETH_HEIGHT, 0.25 * float(model.gap + SEAM))
        teeth = (1.0 - _smoothstep(band + teeth_h * 0.8, band + teeth_h * 1.2, below)) * (
            1.0 - _smoothstep(0.35, 0.7, across)
        )
        # Separate teeth: faint darker lines about a tooth's width apart, fading sideways.
        tooth = np.float32(0.055 * max(model.ci_dst, 0.1) / 0.25)
        along = frontal * np.float32(model.ci_dst)
        lines = 1.0 - 0.1 * np.exp(-(((along / tooth + 0.5) % 1.0 - 0.5) ** 2) / 0.012)
        teeth = (teeth * teeth_weight)[..., None]
        level = float(np.clip(0.75 * skin, 100.0, 200.0))
        # Ivory, lit by the same light as the skin: half the skin's colour cast, so the
        # teeth of a warm-graded video are not a cold grey beside its skin; inside the
        # mouth they also take a little of the lips' warmth (a grey band reads as paint).
        ivory = np.array([0.97, 0.93, 0.86], dtype=np.float32)
        warm = lip_colour / max(float(lip_colour.max()), 1.0)
        teeth_colour = (0.4 * ivory + 0.4 * cast + 0.2 * warm).astype(np.float32) * level
        # The upper lip shades the teeth's top; they turn away (darker) towards the corners.
        lit = (0.8 + 0.2 * _smoothstep(band, band + teeth_h * 0.4, below)) * (
            0.85 + 0.15 * (1 - across)
        )
        teeth_colour = teeth_colour * (lit * lines)[..., None]
        colour = colour * (1.0 - teeth) + teeth_colour * teeth
    lips_inside = np.maximum(
        1.0 - _smoothstep(0.0, band, below),
        1.0 - _smoothstep(0.0, np.float32(1.4) * band, bottom - py),
    )[..., None]
    colour = colour * (1.0 - lips_inside) + (lip_colour * 0.72) * lips_inside
    # The lower lip's wet inner edge catches the light: a thin, soft highlight just above it,
    # strongest in the middle, once the opening is wide enough to show the lip's inside (a
    # painted opening without it reads as a hole cut in the face).
    wet = 0.4 * float(np.clip((model.gap - 0.03) / 0.05, 0.0, 1.0))
    if wet > 0:
        rise = (bottom - py) / np.float32(max(float(band), 1e-4))  # lip insides above the edge
        shine = np.exp(-(((rise - 0.9) / 0.6) ** 2)) * (1.0 - across * across) * np.float32(wet)
        gloss = np.minimum(lip_colour * np.float32(1.2) + np.float32(25.0), np.float32(255.0))
        colour = colour * (1.0 - shine[..., None]) + gloss * shine[..., None]

    # Closed lips meet in a soft shadow line, not a painted slot: as the mouth closes the
    # cavity colour turns into a darker shade of the lips themselves.
    closing = 1.0 if shut else 1.0 - float(np.clip((model.gap + SEAM) / 0.04, 0.0, 1.0))
    if closing > 0:
        shadow = lip_colour * np.float32(0.5)
        if shut:
            shadow, cover = _closed_lips(lip_colour, pxr, py, xr, meet, bottom, frame.scale)
            alpha *= cover
        colour = colour * (1.0 - closing) + shadow * closing
    box = roi[lo[1] : hi[1], lo[0] : hi[0]]
    source_box = source_roi[lo[1] : hi[1], lo[0] : hi[0]]
    # The template's fine texture at this place is its lips' when its mouth is closed; when
    # it is open, it is the edges of its teeth, which would draw them back in.
    painted = _match_texture(colour, None if squeezed else source_box, frame.scale)
    alpha *= 0.97
    roi[lo[1] : hi[1], lo[0] : hi[0]] = cv2.blendLinear(painted, box, alpha, 1.0 - alpha)
    opacity = np.zeros(roi.shape[:2], np.float32)
    opacity[lo[1] : hi[1], lo[0] : hi[0]] = alpha
    return opacity


def _skin_light(roi: np.ndarray) -> tuple[float, np.ndarray]:
    """The lit skin's brightness and the light's colour in an RGB region.

    The brightness is the 80th percentile of each pixel's brightest channel (the region also
    holds shadow, beard, collar or background; the mean of a warm, saturated skin's channels
    would make teeth under the same light look grey). The colour is the median of the pixels
    at or above the 60th percentile, scaled to a maximum of 1: white teeth under it take its
    cast. Counted in 256-bin histograms, which gives numpy's percentiles exactly at a seventh
    of their cost (sorting a face's box took most of a painted frame's time).
    """
    red, green, blue = cv2.split(roi)
    brightest = cv2.max(cv2.max(red, green), blue)
    counts = cv2.calcHist([brightest], [0], None, [256], [0, 256])[:, 0]
    skin = _percentile_u8(counts, 80.0)
    lit = (brightest >= _percentile_u8(counts, 60.0)).astype(np.uint8)
    cast = np.array(
        [
            _percentile_u8(cv2.calcHist([channel], [0], lit, [256], [0, 256])[:, 0], 50.0)
            for channel in (red, green, blue)
        ],
        dtype=np.float32,
    )
    return skin, (cast / max(float(cast.max()), 1.0)).astype(np.float32)


def _percentile_u8(counts: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation) of uint8 values from their
    256-bin histogram ``counts``."""
    cumulative = np.cumsum(counts)
    position = q / 100.0 * (float(cumulative[-1]) - 1.0)
    below = math.floor(position)
    low = int(np.searchsorted(cumulative, below, side="right"))
    high = int(np.searchsorted(cumulative, below + 1, side="right")) if position > below else low
    return low + (high - low) * (position - below)


def _closed_lips(
    lip_colour: np.ndarray,
    pxr: np.ndarray,
    py: np.ndarray,
    xr: np.ndarray,
    meet: np.ndarray,
    bottom: np.ndarray,
    scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Closed lips over a squeezed-shut opening: their colour and the paint's opacity.

    The lips' own colour, with a thin dark contact line where they meet: the crevice
    between lips is a deeper, more saturated shade of them, about a pixel wide. A darkened
    copy of the whole band (what was drawn before: a lip colour scaled to half) kept the
    pale lips' low saturation and so read as a lilac-grey tube with its own outline on a
    smiling face. The opacity is full over the middle of the band, where the squeezed teeth
    lie and above it (where the squeezed cavity's dark edge ends up), and fades over the
    lower part into the lower lip it covers.
    """
    at = np.interp(pxr, xr, meet).astype(np.float32)
    d = py - at  # face units below the meeting line
    width = np.float32(max(1.5 / scale, 0.007))
    hsv = cv2.cvtColor(np.clip(lip_colour, 0, 255).astype(np.uint8)[None, None], cv2.COLOR_RGB2HSV)
    hsv = hsv.astype(np.float32)
    if 20.0 < float(hsv[0, 0, 0]) < 150.0:  # not a red: a warm one (as the cavity's)
        hsv[..., 0] = 5.0
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.4 + 60.0, 110, 210)
    hsv[..., 2] = np.clip(hsv[..., 2] * 0.45, 30, 110)
    crevice = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    dark = np.exp(-((d / width) ** 2))[..., None]
    # The upper lip faces down, away from most light: a little darker than the lower.
    body = np.where((d < 0)[..., None], lip_colour * np.float32(0.9), lip_colour)
    colour = body * (1.0 - dark) + crevice * dark
    rel = np.maximum(d, 0.0) / np.maximum(bottom - at, np.float32(1e-4))
    cover = (1.0 - 0.85 * _smoothstep(0.3, 1.0, rel)).astype(np.float32)
    return colour.astype(np.float32), cover


def _match_texture(colour: np.ndarray, around: np.ndarray | None, scale: float) -> np.ndarray:
    """A painted layer made no sharper and no cleaner than the face it goes into.

    1. Blur by a share of the eye distance: a face's softness grows with its size in
       pixels (lens, scaling, compression).
    2. Lend it the template's own fine texture at the same place (its high frequencies,
       damped): grain, compression blocks and skin detail of this very frame, so the
       painted area carries the same noise as the face around it.
    """
    sigma = 0.35 + 0.008 * scale
    soft = cv2.GaussianBlur(colour.astype(np.float32), (0, 0), sigma)
    if around is not None and around.shape[:2] == soft.shape[:2]:
        grey = cv2.cvtColor(around, cv2.COLOR_RGB2GRAY).astype(np.float32)
        detail = grey - cv2.GaussianBlur(grey, (0, 0), 1.2)
        # Damped and scaled with the paint's brightness: dark areas show less grain.
        gain = 0.6 * soft.mean(axis=2, keepdims=True) / max(float(grey.mean()), 1.0)
        soft = soft + detail[..., None] * gain
    return np.clip(soft, 0, 255).astype(np.uint8)


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


MAX_SHARPEN = 1.2  # unsharp-mask amount at most: beyond it halos show on the lip line
SHARPEN_SIGMA = 1.0  # pixels: the detail resampling removes is the finest


def _laplacian_moments(grey: np.ndarray, detail: np.ndarray) -> tuple[float, float, float]:
    """Variance of the Laplacian of ``grey``, its covariance with that of ``detail``, and
    the variance of the latter (the covariance from the variance of the sum: three C-level
    reductions instead of float64 products over the box)."""
    a = cv2.Laplacian(grey, cv2.CV_32F)
    b = cv2.Laplacian(detail, cv2.CV_32F)
    va, vb = _variance(a), _variance(b)
    return va, (_variance(a + b) - va - vb) / 2.0, vb


def _laplacian_variance(grey: np.ndarray) -> float:
    """The variance of the Laplacian of ``grey`` (how crisp it is)."""
    return _variance(cv2.Laplacian(grey, cv2.CV_32F))


def _variance(x: np.ndarray) -> float:
    return float(cv2.meanStdDev(x)[1][0, 0]) ** 2


def _lips_box(
    points: np.ndarray, origin: np.ndarray, margin: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The points' bounding box grown by ``margin`` pixels, relative to ``origin``, clipped."""
    x0, y0 = np.maximum(np.floor(points.min(axis=0) - origin - margin).astype(int), 0)
    x1, y1 = np.ceil(points.max(axis=0) - origin + margin).astype(int)
    return int(x0), int(y0), int(min(x1, shape[1])), int(min(y1, shape[0]))


def _match_sharpness(
    roi: np.ndarray,
    source_roi: np.ndarray,
    model: _MouthModel,
    landmarks: np.ndarray,
    origin: np.ndarray,
    spare: np.ndarray | None = None,
) -> None:
    """Give the new mouth (in ``roi``, in place) the fine detail of the person's own.

    Every resampling on the way (cutting a library patch, bending it, the column warp)
    and the blends soften the lips a little; on real faces the mouth came out with 60-90 %
    of the template's Laplacian variance. The template frame's own mouth says how crisp
    this face is at this moment, so an unsharp mask is applied with the amount that brings
    the new mouth's Laplacian variance up to it (a quadratic in the amount, solved in
    closed form), never sharper, never more than MAX_SHARPEN, and faded out over a tenth
    of the eye distance around the lips so it has no edge of its own. ``spare`` (0..1 over
    ``roi``) is left as it is: closed lips painted over a squeezed opening are soft by
    design, and sharpened they grew a dark outline.
    """
    scale = float(model.frame.scale)
    own = landmarks[np.concatenate([faces.K_OUTER_UPPER, faces.K_OUTER_LOWER])]
    sx0, sy0, sx1, sy1 = _lips_box(own, origin, 0.06 * scale, source_roi.shape)
    target = model.target_contours()
    lips = np.concatenate([target[0], target[3][::-1]])
    x0, y0, x1, y1 = _lips_box(lips, origin, 0.06 * scale, roi.shape)
    if min(sx1 - sx0, sy1 - sy0, x1 - x0, y1 - y0) < 6:
        return
    want = _laplacian_variance(
        cv2.cvtColor(source_roi[sy0:sy1, sx0:sx1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    )
    box = roi[y0:y1, x0:x1]
    colour = box.astype(np.float32)
    weight, _ = _lip_masks((y1 - y0, x1 - x0), lips, origin + np.array([x0, y0]), scale)
    if spare is not None:
        weight = weight * (1.0 - spare[y0:y1, x0:x1])
    # The detail as it will be added (faded around the lips), so the amount solved for is
    # the one that reaches the template's crispness over the whole box.
    detail = (colour - cv2.GaussianBlur(colour, (0, 0), SHARPEN_SIGMA)) * weight[..., None]
    grey = cv2.cvtColor(box, cv2.COLOR_RGB2GRAY).astype(np.float32)
    v00, c01, v11 = _laplacian_moments(grey, cv2.cvtColor(detail, cv2.COLOR_RGB2GRAY))
    if v11 <= 1e-6 or v00 >= want:
        return
    # var(L(g + a d)) = v00 + 2 a c01 + a^2 v11 = want, the positive root.
    b = c01 / v11
    amount = -b + math.sqrt(max(b * b + (want - v00) / v11, 0.0))
    amount = min(max(amount, 0.0), MAX_SHARPEN)
    if amount < 0.02:
        return
    sharpened = colour + detail * np.float32(amount)
    roi[y0:y1, x0:x1] = np.clip(sharpened, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Appearance:
    """Where one output frame's mouth pixels come from: a library entry, or (``entry`` is
    ``mouths.OWN``) the template frame's own mouth, warped."""

    library: mouths.MouthLibrary | None = None
    entry: int = mouths.OWN

    @property
    def gap(self) -> float | None:
        if self.library is None or self.entry == mouths.OWN:
            return None
        return float(self.library.gap[self.entry])


_OWN = Appearance()


def _lip_masks(
    shape: tuple[int, int], lips: np.ndarray, origin: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The blend weight of a placed mouth (float32 0..1) and the ring (bool) to match light on.

    Both come from one distance transform of the outer-lip polygon at reduced resolution
    (the masks are smooth; a full-size dilation by a tenth of the face cost more than the
    rest of the frame): the weight is 1 over the lips and falls off over the next ~0.1 eye
    distance; the ring lies just beyond that, on skin the new mouth does not cover.
    """
    h, w = shape
    down = max(1, round(scale / 60.0))
    small = (max(1, math.ceil(h / down)), max(1, math.ceil(w / down)))
    inside = _fill(small, lips / down, origin / down)
    distance = cv2.distanceTransform(255 - inside, cv2.DIST_L2, 3) * np.float32(down / scale)
    alpha = (1.0 - _smoothstep(0.02, 0.12, distance)).astype(np.float32)
    ring = ((distance > 0.13) & (distance < 0.2)).astype(np.uint8)
    if down > 1:
        alpha = np.asarray(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR))
        ring = np.asarray(cv2.resize(ring, (w, h), interpolation=cv2.INTER_NEAREST))
    return alpha, ring.astype(bool)


def _place_appearance(
    warped: np.ndarray,
    model: _MouthModel,
    landmarks: np.ndarray,
    appearance: Appearance,
    origin: np.ndarray,
    step: float,
) -> None:
    """Replace the mouth in ``warped`` (the ROI, in place) with a library appearance.

    1. Bend the patch so its lips land on the wanted lip contours (thin-plate spline).
    2. Match its light to this frame on a ring around the lips.
    3. Blend it in through a soft mask that covers the lips and a margin around them, so
       nothing of the template's own mouth is left showing beside or below the new one.
    """
    library = appearance.library
    assert library is not None
    scale = model.frame.scale
    target = model.target_contours()
    lips = np.concatenate([target[0], target[3][::-1]])
    # Work in the box the blend and the light ring can reach (0.2 eye distances around the
    # lips), not the whole lower face: half the pixels or fewer.
    margin = 0.21 * scale
    lo = np.maximum(np.floor(lips.min(axis=0) - origin - margin).astype(int), 0)
    hi = np.minimum(
        np.ceil(lips.max(axis=0) - origin + margin).astype(int),
        [warped.shape[1], warped.shape[0]],
    )
    if np.any(hi - lo < 4):
        return
    box = warped[lo[1] : hi[1], lo[0] : hi[0]]
    box_origin = origin + lo
    h, w = box.shape[:2]
    matrix = library.to_image(landmarks)
    patch = mouths.warp_patch(
        library, appearance.entry, target, matrix, box_origin, (h, w), step=max(3.0, step)
    )
    alpha, ring = _lip_masks((h, w), lips, box_origin, scale)
    patch = mouths.shade_match(patch, box, ring)
    box[:] = cv2.blendLinear(patch, box, alpha, 1.0 - alpha)


def _region(landmarks: np.ndarray, model: _MouthModel) -> np.ndarray:
    # The chin moves down to open, or up to close a template that shows an open mouth;
    # either way the region must reach past where the chin was and where it goes.
    drop = JAW_SHARE * abs(model.gap + SEAM - model.gap_src_centre)
    return faces.lower_face_polygon(landmarks, chin_margin=drop + CHIN_PAD)


def edit_region(landmarks: np.ndarray, pose: MouthPose, reference: MouthReference) -> np.ndarray:
    """The polygon ``animate_frame`` may repaint for this frame and pose (image coordinates);
    every pixel outside it is the template's own. Raises ValueError on degenerate landmarks."""
    return _region(landmarks, _MouthModel(landmarks, pose, reference))


def wanted_lips(landmarks: np.ndarray, pose: MouthPose, reference: MouthReference) -> np.ndarray:
    """The lip contours ``animate_frame`` draws for this frame and pose: outer upper, inner
    upper, inner lower, outer lower, each at 11 evenly spaced columns between the mouth
    corners (4 x 11 x 2, image coordinates). Raises ValueError on degenerate landmarks."""
    return _MouthModel(landmarks, pose, reference).target_contours()


def animate_frame(
    frame: np.ndarray,
    landmarks: np.ndarray,
    pose: MouthPose,
    reference: MouthReference,
    *,
    inplace: bool = False,
    appearance: Appearance = _OWN,
    strength: float = 1.0,
) -> np.ndarray:
    """The template frame with its lower face re-animated to ``pose``.

    ``appearance`` says whose mouth pixels to show (the template frame's own, warped, or
    one of its library's); ``strength`` (0..1) fades the whole edit, for frames whose face
    the engine does not fully trust. Returns a new array unless ``inplace`` (the caller
    will not need the original again).
    """
    out = frame if inplace else frame.copy()
    if strength <= 0.01:
        return out
    if (appearance.library is None or not appearance.library.opens) and faces.lip_gap(
        landmarks
    ) < mouths.OPEN_ENOUGH:
        pose = MouthPose(pose.openness * PAINTED_OPENING, pose.width, pose.rounding)
    try:
        model = _MouthModel(landmarks, pose, reference)
        polygon = _region(landmarks, model)
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

    step = max(3.0, scale / 20.0)
    maps = _grid_map(model, x0, y0, w, h, step=step)
    warped = mouths.remap(frame, maps, cv2.INTER_LINEAR)
    # Around the mouth, bicubic: bilinear sampling at half-pixel offsets averages
    # neighbours, which took a quarter to a third of the mouth's fine detail on real faces
    # (bench/seams.py). Only there: bicubic costs 2.5x, and cheek and chin move little.
    target = model.target_contours()
    bx0, by0, bx1, by1 = _lips_box(target.reshape(-1, 2), origin, 0.15 * scale, (h, w))
    if bx1 - bx0 > 2 and by1 - by0 > 2:
        warped[by0:by1, bx0:bx1] = mouths.remap(frame, maps[by0:by1, bx0:bx1], cv2.INTER_CUBIC)
    source_roi = frame[y0:y1, x0:x1]
    shown_gap = appearance.gap
    if shown_gap is not None:
        _place_appearance(warped, model, landmarks, appearance, origin, step)
    # Paint an interior only where no real one is shown: the appearance (or the template
    # frame) is closed but the audio asks for an opening.
    source_gap = model.gap_src_centre if shown_gap is None else shown_gap
    painting = source_gap < mouths.OPEN_ENOUGH and model.gap > 0.012
    # An open mouth squeezed (nearly) shut keeps its teeth as a jagged light line between
    # the lips (teeth showing through a doubled lower lip, on smiling templates): there
    # the narrow opening, or the closed lips' shadow line, is drawn instead.
    squeezed = model.gap < SQUEEZED_GAP and source_gap > max(2.0 * model.gap, model.gap + 0.02)
    if painting:
        # Sharpened first: a synthesised opening stays as soft as the face around it.
        _match_sharpness(warped, source_roi, model, landmarks, origin)
    painted = None
    if painting or squeezed:
        painted = _paint_interior(
            warped,
            model,
            origin,
            source_roi,
            shut=not painting and model.gap < 0.012,
            squeezed=not painting,
        )
    if not painting:
        # After the closed lips' line is drawn, so it is as crisp as the lips it lies on.
        shut_paint = painted if model.gap < 0.012 else None
        _match_sharpness(warped, source_roi, model, landmarks, origin, spare=shut_paint)

    alpha = _feathered_mask((h, w), polygon, origin, feather)
    if strength < 0.999:
        alpha *= np.float32(strength)
    # cv2.blendLinear does the weighted sum in C, ~10x faster than float numpy here.
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, source_roi, alpha, 1.0 - alpha)
    return out


# The box converted to RGB around an edit: the lower face with room for the widest jaw drop
# (chin margin, face units) and for what the warp samples beyond the region (share of the
# eye distance). animate_frame on the box equals it on the whole frame
# (tests/rendering/test_classic_picture.py).
EDIT_BOX_CHIN = 0.7
EDIT_BOX_MARGIN = 0.3
EDIT_BOX_STEP = 32


def edit_box(landmarks: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)``, even and inside a frame of ``size`` = (height, width): the part
    of the frame ``animate_frame`` reads and writes, with a margin; None for landmarks that
    describe no face."""
    try:
        scale = faces.face_frame(landmarks).scale
        polygon = faces.lower_face_polygon(landmarks, chin_margin=EDIT_BOX_CHIN)
    except ValueError:
        return None
    height, width = size
    margin = EDIT_BOX_MARGIN * scale + 2 * pixels.EDGE
    lo = np.floor(polygon.min(axis=0) - margin)
    hi = np.ceil(polygon.max(axis=0) + margin)
    x0, x1 = pixels.even_span(int(lo[0]), int(hi[0]) + 1, width, EDIT_BOX_STEP)
    y0, y1 = pixels.even_span(int(lo[1]), int(hi[1]) + 1, height, EDIT_BOX_STEP)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return x0, y0, x1, y1


def animate_picture(
    picture: np.ndarray,
    landmarks: np.ndarray,
    pose: MouthPose,
    reference: MouthReference,
    *,
    inplace: bool = False,
    appearance: Appearance = _OWN,
    strength: float = 1.0,
    face_box: FaceBox | None = None,
) -> np.ndarray:
    """:func:`animate_frame` on an RGB frame or an I420 picture (``rendering.media.pixels``).

    An I420 picture is edited in its face's box only (:func:`edit_box`): the box goes to RGB,
    is re-animated, and the pixels that changed go back, so the rest of the frame keeps the
    decoder's pixels and no whole-frame colour conversion is made. ``face_box``: that box
    and its RGB pixels when the caller kept them (:class:`FaceBoxes`). Returns a new array
    unless ``inplace``."""
    if not pixels.is_i420(picture):
        return animate_frame(
            picture,
            landmarks,
            pose,
            reference,
            inplace=inplace,
            appearance=appearance,
            strength=strength,
        )
    edit = edit_picture(
        picture,
        landmarks,
        pose,
        reference,
        appearance=appearance,
        strength=strength,
        face_box=face_box,
    )
    if edit is None:
        return picture
    return edit.apply(picture if inplace else picture.copy())


@dataclass(frozen=True)
class PictureEdit:
    """The new pixels of an I420 picture's face box, to be written into it later: the render
    hands them to the encoder's thread with the picture (:meth:`VideoWriter.write`'s
    ``finish``), which converts and copies them back while this thread draws the next frame."""

    box: tuple[int, int, int, int]
    pixels: np.ndarray  # the box's RGB pixels, re-animated
    before: np.ndarray  # the box's RGB pixels as decoded

    def apply(self, picture: np.ndarray) -> np.ndarray:
        """``picture`` (the I420 picture the edit was made from, or a copy) with the edit
        written into it, in place."""
        pixels.put_rgb(picture, self.box, self.pixels, before=self.before)
        return picture


def edit_picture(
    picture: np.ndarray,
    landmarks: np.ndarray,
    pose: MouthPose,
    reference: MouthReference,
    *,
    appearance: Appearance = _OWN,
    strength: float = 1.0,
    face_box: FaceBox | None = None,
) -> PictureEdit | None:
    """:func:`animate_picture`'s edit of an I420 picture, not yet written into it (None where
    the picture has no face box)."""
    if face_box is None:
        face_box = _face_box(picture, landmarks)
    if face_box is None:
        return None
    box, region = face_box
    shift = np.array(box[:2], dtype=landmarks.dtype)
    edited = animate_frame(
        region, landmarks - shift, pose, reference, appearance=appearance, strength=strength
    )
    return PictureEdit(box, edited, region)


FaceBox = tuple[tuple[int, int, int, int], np.ndarray]


def _face_box(picture: np.ndarray, landmarks: np.ndarray) -> FaceBox | None:
    """The I420 picture's :func:`edit_box` and its pixels in RGB (read-only)."""
    box = edit_box(landmarks, pixels.picture_size(picture))
    if box is None:
        return None
    region = pixels.region_rgb(picture, box)
    region.flags.writeable = False
    return box, region


class FaceBoxes:
    """The RGB face boxes of the template frames a render has edited, kept while it may come
    back to them: a template looped under a longer audio shows each frame again and again
    (forward, then backward), and its box need not be converted to RGB each time. Kept up
    to ``budget`` bytes, the most recently used first (0: none kept, for a render that
    shows each frame once)."""

    # About 100 face boxes at 512x512, 20 of a 1080x1920 phone video (near the turns of its
    # ping-pong, where frames come back soonest).
    BUDGET = 32 << 20

    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self._kept: dict[int, FaceBox | None] = {}
        self._bytes = 0

    def get(self, index: int, picture: np.ndarray, landmarks: np.ndarray) -> FaceBox | None:
        """Template frame ``index``'s box (``picture`` and ``landmarks`` are that frame's)."""
        if index in self._kept:
            found = self._kept.pop(index)
            self._kept[index] = found  # most recently used last
            return found
        found = _face_box(picture, landmarks)
        size = 0 if found is None else found[1].nbytes
        if self.budget and size <= self.budget:
            while self._kept and self._bytes + size > self.budget:
                dropped = self._kept.pop(next(iter(self._kept)))  # the least recently used
                self._bytes -= 0 if dropped is None else dropped[1].nbytes
            self._kept[index] = found
            self._bytes += size
        return found


@contextlib.contextmanager
def _opencv_single_threaded() -> Iterator[None]:
    """OpenCV on the calling thread only, for the duration (a process-wide setting, put back
    after). A frame's edit is many small operations on a face's box: OpenCV's worker
    threads cost more to wake than they save, and the encoder's threads need the cores
    (0.6 ms more CPU a frame at 512x512 for no shorter edit)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


# --- the engine -----------------------------------------------------------------------------
# Below this share of usable-face frames a render fails (the upload check uses the same).
MIN_COVERAGE = faces.MIN_USABLE_SHARE
# Whether mouth shapes follow the transcript's words by default: off, since the energy
# sync measure drops 0.02-0.05 with them (bench/visemes.py, docs/rendering-engine.md).
WORD_SHAPES = False
edit_strength = faces.edit_strength  # where it lived before the face check needed it too


@dataclass
class FramePlan:
    """What each output frame is made from: template frame, pose, appearance, strength."""

    template_index: np.ndarray  # (n,) template frame (ping-pong)
    poses: list[MouthPose]
    choice: np.ndarray  # (n,) library entry or mouths.OWN
    strength: np.ndarray  # (n,) 0..1
    coverage: float  # share of output frames edited at half strength or more


def plan_frames(
    track: FaceTrack,
    audio: AudioFeatures,
    library: mouths.MouthLibrary | None,
    n_out: int,
    *,
    words: bool = False,
    articulation: bool = True,
    model: ArticulationModel | None = None,
    cache: Cache | None = None,
) -> FramePlan:
    """Decide, before decoding anything, what every output frame will show.

    1. Poses from the audio, and the template frame each output frame plays (ping-pong).
    2. Strength from the face's trust in that frame, faded in time.
    3. Appearances: the wanted opening and width against the library's (and the template
       frame's own), chosen for the whole video at once so they do not flicker.

    The poses come from the sounds (``rendering.articulation``: the transcript's phones and
    their timings through the learned model, ``model`` or the shipped one) when ``audio``
    has timed words and ``articulation`` is on; otherwise from the loudness controls
    (``AudioFeatures.mouth_controls``), into which ``words`` blends the words' visemes.
    ``cache`` keeps the words' phones for the next render of the same audio.
    """
    controls = None
    if articulation:
        controls = mouth_shapes(audio, track.fps, n_out, model=model, cache=cache)
    learned = controls is not None
    if controls is None:  # no words or no model: the loudness controls
        controls = audio.mouth_controls(track.fps, n_out)
    openness = np.asarray(controls.openness, dtype=np.float32)
    width = np.asarray(controls.width, dtype=np.float32)
    rounding = np.asarray(controls.rounding, dtype=np.float32)
    if words and audio.words and not learned:
        wanted = visemes.targets(audio.words, track.fps, n_out, energy=audio.energy)
        openness, width, rounding = visemes.apply_visemes(openness, width, rounding, wanted)
    n_template = max(track.n_frames, 1)
    loops = n_out > n_template
    index = np.array(
        [ping_pong_index(j, n_template) if loops else min(j, n_template - 1) for j in range(n_out)],
        dtype=np.intp,
    )
    poses = [
        MouthPose(float(openness[j]), float(width[j]), float(rounding[j])) for j in range(n_out)
    ]
    strength = edit_strength(track.trust()[index])
    coverage = float(np.mean(strength >= 0.5)) if n_out else 0.0
    choice = np.full(n_out, mouths.OWN, dtype=np.int32)
    if library is not None and len(library):
        reference = MouthReference.from_track(track)
        wanted_gap = MAX_OPEN * openness * (1.0 + 0.25 * rounding)
        spread = 1.0 + WIDTH_GAIN * (width - 0.5) - ROUNDING_GAIN * rounding
        wanted_width = reference.half_width * spread
        own = np.full((n_template, 3), np.nan)
        for i in np.flatnonzero(track.present):
            own[i] = mouths.describe(track.landmarks[i])
        own = own[index]
        choice = mouths.choose(
            library, wanted_gap, wanted_width, own[:, 0], own[:, 1], np.nan_to_num(own[:, 2])
        )
    return FramePlan(index, poses, choice, strength, coverage)


_TOO_LITTLE_FACE = faces.TOO_LITTLE_FACE


class ClassicEngine(Engine):
    """CPU lip-sync from the person's own mouths, see the module docstring.

    Options: ``crf``, ``preset``, ``cache_dir`` (where template mouth libraries are kept;
    None analyses each render afresh), ``library`` (False: only warp and paint, the old
    behaviour, kept for comparison), ``min_coverage``, ``words`` (shape the mouth from the
    transcript's words as well as the sound, when the audio has timed words and
    ``articulation`` is off), ``articulation`` (plan the mouth from the sounds with the
    learned model of ``rendering.articulation``: on by default, off gives the loudness
    controls, kept for comparison), ``articulation_model`` (another fitted model than the
    shipped one: the bench renders with models that never saw the speaker).

    The default crf is 18, not the writer's 20: outputs re-encode already compressed
    templates, and at 20 the generation loss alone takes the untouched upper face below
    40 dB PSNR against the template.
    """

    name = "classic"

    def __init__(
        self,
        *,
        crf: int = 18,
        preset: str = "veryfast",
        cache_dir: Path | str | None = None,
        library: bool = True,
        min_coverage: float = MIN_COVERAGE,
        words: bool = WORD_SHAPES,
        articulation: bool = True,
        articulation_model: ArticulationModel | None = None,
    ) -> None:
        self.crf = crf
        self.words = words
        self.articulation = articulation
        self.articulation_model = articulation_model
        self.preset = preset
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.use_library = library
        self.min_coverage = min_coverage

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
        overlay: FrameOverlay | None = None,
        frame_range: tuple[int, int] | None = None,
    ) -> RenderResult:
        """Write the re-animated template to ``out_path``.

        1. Analyse the template's own mouths (cached) and plan every output frame: pose,
           appearance, edit strength. Too little usable face fails here, before encoding.
        2. Decode the template at the track's frame rate as I420 pictures (kept in memory or
           on disk when the output loops over it).
        3. For each output frame: take its template frame, re-animate its face's box (the
           only part converted to RGB and back), write it; every CHUNK frames report
           progress and check for cancel.
        4. Mux the driving audio; publish the file only once it is complete.

        With ``frame_range`` the plan is still made for the whole output (the mouth
        choice is one path over all frames), so a segment shows exactly the frames the
        whole render would: no jump where segments meet.
        """
        started = time.perf_counter()
        template, out_path = Path(template), Path(out_path)
        n_out = output_frame_count(audio.duration, track.fps)
        # Refused on the template's usable share, as the upload check refuses (the output's
        # own coverage differs a little when the audio loops the template).
        faces.check_usable(track, min_share=self.min_coverage)
        library = (
            mouths.analyse(template, track, cache_dir=self.cache_dir) if self.use_library else None
        )
        plan = plan_frames(
            track,
            audio,
            library,
            n_out,
            words=self.words,
            articulation=self.articulation,
            model=self.articulation_model,
            cache=Cache(self.cache_dir) if self.cache_dir else None,
        )
        reference = MouthReference.from_track(track)
        with (
            _opencv_single_threaded(),
            template_output(
                template=template,
                track=track,
                audio=audio,
                audio_path=audio_path,
                out_path=out_path,
                crf=self.crf,
                preset=self.preset,
                overlay=overlay,
                frame_range=frame_range,
                i420=True,
            ) as out,
        ):
            boxes = FaceBoxes(FaceBoxes.BUDGET if out.loops else 0)
            for j in out.indices:
                if (j - out.start) % CHUNK == 0:
                    if should_cancel is not None and should_cancel():
                        raise RenderCanceled()
                    if progress is not None:
                        progress(out.fraction(j))
                i = out.template_index(j)
                frame, owned = out.frames.get(i)
                ti = min(i, track.n_frames - 1)
                k = min(j, n_out - 1)
                finish = None
                if track.present[ti] and plan.strength[k] > 0.01:
                    appearance = Appearance(library, int(plan.choice[k]))
                    strength = float(plan.strength[k])
                    if pixels.is_i420(frame):
                        # Drawn here; converted and written back on the encoder's thread.
                        edit = edit_picture(
                            frame,
                            track.landmarks[ti],
                            plan.poses[k],
                            reference,
                            appearance=appearance,
                            strength=strength,
                            face_box=boxes.get(ti, frame, track.landmarks[ti]),
                        )
                        finish = None if edit is None else edit.apply
                    else:
                        frame = animate_frame(
                            frame,
                            track.landmarks[ti],
                            plan.poses[k],
                            reference,
                            inplace=owned,
                            appearance=appearance,
                            strength=strength,
                        )
                out.writer.write(frame, finish=finish)
        result = finished(out, out_path, started, progress)
        result.coverage = plan.coverage
        return result
