"""MuseTalk 1.5's face crop, computed from a face track's landmarks, and the paste-back.

**The crop.** MuseTalk's inference cuts, per frame, a box from its 68-point landmarks
(the 300-W layout of its DWPose model) and resizes it to 256 x 256, x and y scaled apart:

- x from the leftmost to the rightmost landmark (the jaw outline);
- y from ``2 * y29 - y_chin`` down to ``y_chin + extra_margin`` (10 px), where point 29 lies
  on the nose bridge two thirds of the way from the nasion (27) to the nose tip (30): the
  middle of the landmark box is that nose-bridge point;
- the UNet repaints the crop's lower half, so the nose base is regenerated too;
- ``bbox_shift`` moves point 29 down (positive: a shorter box, more mouth movement) or up.

:meth:`CropGeometry.box` builds the same box from the face-mesh points the track carries:
the jaw outline (mesh 234 ... 152 ... 454) for the width and the chin, and point 29 as
mesh 168 (between the eyes) plus two thirds of the way to mesh 1 (the nose tip). It works
in the face frame of :mod:`rendering.faces` (x along the eye line), so a rolled head gives
an upright crop; for an upright head it is MuseTalk's box. The bottom margin is a share
of the landmark box's height (10 px of a 256-px box) rather than source pixels, and
``bbox_shift`` counts pixels of a 256-px box, so both mean the same at any video size.

**Paste-back.** MuseTalk blends through a face-parsing mask of the lower face (skin,
lips and mouth, not the nose, cut at the box's middle row, blurred by a few pixels).
Without a parsing model we use the face's own outline: :func:`lower_face_region` runs
from just under the nose along the jaw outline (a little inside it) and round the chin
down to the crop's bottom edge, so a mouth opened wider than the template's still fits.
The weight fades in over a few pixels *inside* that polygon and is exactly zero outside
it, so neck, hair and background never see the VAE's round trip; the generated colours
are shifted to match the frame in the fade band, so the seam does not show.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rendering import faces

# Point 29 of MuseTalk's 68 lies two thirds of the way down the nose bridge, from the
# nasion (27; mesh 168, between the eyes) to the tip (30; mesh 1).
_NASION = faces.MESH_IDS.index(168)
_BRIDGE = 2.0 / 3.0
BOTTOM_MARGIN = 10 / 256  # MuseTalk's 10 px under the chin, as a share of a 256-px box
BBOX_SHIFT_LIMIT = 64  # pixels of a 256-px box: the nose-bridge point stays above the mouth
_NOSE_GAP = 0.03  # face units between the nose base and the top of the pasted region
_INSET = 0.02  # share of the crop width the pasted region keeps inside the jaw outline
_FEATHER = 0.03  # share of the crop height over which the pasted region fades in
_MAX_SHIFT = 40.0  # the colour match never moves a channel's mean by more than this


@dataclass(frozen=True)
class FaceBox:
    """One frame's crop box: a rectangle in that frame's face units (x along the eyes)."""

    frame: faces.FaceFrame
    left: float
    top: float
    right: float
    bottom: float
    size: int  # the crop is size x size pixels
    mask_top: float  # share of the crop height where repainting starts

    @property
    def mask_line(self) -> float:
        """Face-unit y of the first repainted row."""
        return self.top + self.mask_top * (self.bottom - self.top)

    @property
    def height_px(self) -> float:
        """The box's height in image pixels."""
        return (self.bottom - self.top) * self.frame.scale

    def affine(self) -> np.ndarray:
        """2 x 3 matrix taking crop pixel (u, v) to image coordinates."""
        step = np.array(
            [(self.right - self.left) / self.size, (self.bottom - self.top) / self.size]
        )
        # face point = (left + (u + 0.5) * step_x, top + (v + 0.5) * step_y)
        origin_face = np.array([self.left, self.top]) + 0.5 * step
        linear = self.frame.scale * (step[:, None] * self.frame.axes).T  # columns: per u, per v
        offset = self.frame.scale * (origin_face @ self.frame.axes) + self.frame.origin
        return np.hstack([linear, offset[:, None]]).astype(np.float64)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates (u, v) of image points (P x 2)."""
        matrix = self.affine()
        return np.asarray(
            (np.asarray(points, np.float64) - matrix[:, 2]) @ np.linalg.inv(matrix[:, :2]).T
        )


@dataclass(frozen=True)
class CropGeometry:
    """How crops are cut, the same for every frame of a render.

    - ``size``: crop side in pixels (MuseTalk: 256);
    - ``mask_top``: share of the height where repainting starts (MuseTalk: the lower half);
    - ``bottom_margin``: how far under the chin the box reaches, as a share of the
      landmark box's height (MuseTalk: 10 px of a box about 256 px tall);
    - ``bbox_shift``: MuseTalk's adjustment, in pixels of a 256-px box: the nose-bridge
      point moves down (positive: the box gets shorter, the mouth opens more) or up.
    """

    size: int
    mask_top: float = 0.5
    bottom_margin: float = BOTTOM_MARGIN
    bbox_shift: float = 0.0

    def box(self, landmarks: np.ndarray) -> FaceBox:
        """MuseTalk's box for one frame's landmarks; ValueError when they are not a face."""
        frame = faces.face_frame(landmarks)
        jaw = frame.to_face(landmarks[faces.K_JAW])
        nasion_y = float(frame.to_face(landmarks[_NASION][None])[0, 1])
        tip_y = float(frame.to_face(landmarks[faces.K_NOSE_TIP][None])[0, 1])
        bridge = nasion_y + _BRIDGE * (tip_y - nasion_y)
        chin = float(jaw[:, 1].max())
        half = chin - bridge
        left, right = float(jaw[:, 0].min()), float(jaw[:, 0].max())
        chin_point_y = float(frame.to_face(landmarks[faces.K_CHIN][None])[0, 1])
        if not (np.isfinite(half) and chin_point_y > tip_y > nasion_y and right > left):
            raise ValueError("landmarks do not describe a face (chin above the nose)")
        anchor = bridge + self.bbox_shift / 256.0 * 2.0 * half
        top = 2.0 * anchor - chin
        bottom = chin + self.bottom_margin * (chin - top)
        return FaceBox(
            frame=frame,
            left=left,
            top=top,
            right=right,
            bottom=bottom,
            size=self.size,
            mask_top=self.mask_top,
        )

    def affine(self, landmarks: np.ndarray) -> np.ndarray:
        """2 x 3 matrix taking crop pixel (u, v) to image coordinates for this frame."""
        return self.box(landmarks).affine()


def lower_face_region(landmarks: np.ndarray, box: FaceBox) -> np.ndarray:
    """The image-space polygon (P x 2 float32) the repainted crop may change.

    1. Its top edge runs across the face just under the nose (never above the crop's mask
       line), so the nose and everything above keep the template's pixels.
    2. Its sides follow the jaw outline from there down, a little inside it, so hair and
       background beside the cheeks are never touched.
    3. Round the chin it is pushed down to the crop's bottom edge (less so higher up the
       jaw), so a generated mouth opened wider than the template's still fits.
    """
    frame = box.frame
    jaw = frame.to_face(landmarks[faces.K_JAW]).astype(np.float64)
    nose_y = float(frame.to_face(landmarks[faces.K_NOSE_BASE][None])[0, 1])
    mouth_x = float(frame.to_face(faces.mouth_centre(landmarks)[None])[0, 0])
    top = max(nose_y + _NOSE_GAP, box.mask_line)
    below = np.flatnonzero(jaw[:, 1] > top)
    if len(below) < 3:
        raise ValueError("landmarks do not describe a face (jaw above the nose)")
    first, last = int(below[0]), int(below[-1])
    outline = [_crossing(jaw, first - 1, first, top)] if first > 0 else []
    outline.extend(jaw[first : last + 1])
    if last + 1 < len(jaw):
        outline.append(_crossing(jaw, last + 1, last, top))
    points = np.array(outline, dtype=np.float64)
    chin = float(jaw[:, 1].max())
    depth = np.clip((points[:, 1] - top) / max(chin - top, 1e-6), 0.0, 1.0)
    points[:, 1] += depth * (box.bottom - chin)
    points[:, 0] += _INSET * (box.right - box.left) * np.sign(mouth_x - points[:, 0])
    points[:, 0] = np.clip(points[:, 0], box.left, box.right)
    points[:, 1] = np.clip(points[:, 1], top, box.bottom)
    points[0, 1] = points[-1, 1] = top
    return np.asarray(frame.to_image(points), dtype=np.float32)


def _crossing(outline: np.ndarray, above: int, below: int, y: float) -> np.ndarray:
    """Where the outline segment from point ``above`` to ``below`` crosses height y."""
    a, b = outline[above], outline[below]
    span = b[1] - a[1]
    t = 1.0 if span <= 0 else float(np.clip((y - a[1]) / span, 0.0, 1.0))
    return np.array([a[0] + t * (b[0] - a[0]), y])


def feather_px(box: FaceBox) -> float:
    """How many image pixels the pasted region takes to fade in (MuseTalk's blur, ~3 %)."""
    return max(1.5, _FEATHER * box.height_px)


def extract(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The size x size crop of ``frame`` that ``matrix`` (crop -> image) describes."""
    if _shrinks(matrix):
        return _extract_downscaled(frame, matrix, size)
    return np.asarray(
        cv2.warpAffine(
            frame,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
    )


def _shrinks(matrix: np.ndarray) -> bool:
    # More than 1.5 image pixels per crop pixel: plain bilinear sampling would alias.
    return float(np.abs(np.linalg.det(matrix[:, :2]))) > 2.25


def _extract_downscaled(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Sample at twice the crop size, then area-average down: no aliasing on big faces."""
    double = matrix.copy()
    double[:, :2] = matrix[:, :2] / 2.0
    double[:, 2] = matrix[:, 2] - 0.25 * (matrix[:, 0] + matrix[:, 1])
    big = cv2.warpAffine(
        frame,
        double,
        (2 * size, 2 * size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA))


def region_weight(
    region: np.ndarray, origin: tuple[int, int], shape: tuple[int, int], feather: float
) -> np.ndarray:
    """Blend weight (H x W float32) over an image window: 0 outside ``region``, fading to 1
    over ``feather`` pixels inside it.

    ``origin`` is the window's top-left image pixel. A pixel gets a weight only when its
    centre is well over a pixel inside the polygon, so rasterisation never lets the
    weight leak outside.
    """
    height, width = shape
    inside = np.zeros((height, width), dtype=np.uint8)
    shift = 4  # sub-pixel precision of fillPoly: 1/16 px
    points = np.round((region - np.asarray(origin, np.float32)) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(inside, [points], (255,), lineType=cv2.LINE_8, shift=shift)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    weight = np.clip((distance - 1.5) / max(feather, 1e-3), 0.0, 1.0)
    return np.asarray(weight * weight * (3.0 - 2.0 * weight), dtype=np.float32)  # smoothstep


def paste(
    frame: np.ndarray,
    crop: np.ndarray,
    matrix: np.ndarray,
    region: np.ndarray,
    *,
    feather: float,
) -> np.ndarray:
    """Blend ``crop`` (crop space, ``matrix``: crop -> image) into ``frame`` inside
    ``region`` (an image polygon); returns a new frame.

    Every pixel outside the polygon keeps its exact value. The crop's mean colour in the
    fade band is first matched to the frame's there, so the seam does not show (the mouth
    itself, at full weight, may legitimately differ).
    """
    height, width = frame.shape[:2]
    x0, y0 = np.floor(region.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 2
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), width), min(int(y1), height)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    alpha = region_weight(region, (x0, y0), (y1 - y0, x1 - x0), feather)
    touched = alpha > 0
    if not touched.any():
        return out
    # Image -> crop for the window, as warpAffine's inverse map wants it.
    to_window = matrix.copy()
    to_window[:, 2] -= (x0, y0)
    inverse = cv2.invertAffineTransform(to_window)
    pixels = cv2.warpAffine(
        crop,
        inverse,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    ).astype(np.float32)
    window = out[y0:y1, x0:x1]
    original = window.astype(np.float32)
    band = touched & (alpha < 1.0)
    if int(band.sum()) >= 16:
        shift = original[band].mean(axis=0) - pixels[band].mean(axis=0)
        pixels += np.clip(shift, -_MAX_SHIFT, _MAX_SHIFT)
    blended = original + alpha[..., None] * (np.clip(pixels, 0, 255) - original)
    window[touched] = np.clip(np.round(blended[touched]), 0, 255).astype(np.uint8)
    return out
