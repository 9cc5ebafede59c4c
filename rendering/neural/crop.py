"""Face-aligned square crops from a cached face track, and pasting a repainted crop back.

The crop follows the face frame of :mod:`rendering.faces` (x along the eye line, unit = eye
distance), so a tilted or moving head gives an upright, same-sized face to the model.
Its size and placement are per template (medians over the track): the line at
``mask_top`` of the crop height falls just under the nose and the bottom edge
``chin_margin`` under the chin, so the repainted part is the lower face and nothing above.

Pasting uses a soft mask that is exactly zero above the mask line (the upper face is never
touched) and feathers in below it and at the sides and bottom; the generated colours are
shifted to match the frame in that feather band, so the seam does not show.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rendering import faces

_NOSE_GAP = 0.03  # face units between the nose base and the mask line
_FEATHER = 0.10  # share of the crop side over which the mask fades in
_MAX_SHIFT = 40.0  # the colour match never moves a channel's mean by more than this


@dataclass(frozen=True)
class CropGeometry:
    """Where the crop sits in face units, constant for a template."""

    size: int  # crop side in pixels
    mask_top: float  # fraction of the height where repainting starts
    centre_x: float  # face-unit x of the crop centre (the mouth)
    top: float  # face-unit y of the crop's top edge
    side: float  # crop side in face units

    @classmethod
    def from_track(
        cls, track: faces.FaceTrack, *, size: int, mask_top: float, chin_margin: float
    ) -> CropGeometry:
        """Medians over the frames with a face of where the nose, mouth and chin sit."""
        rows = []
        for i in np.flatnonzero(track.present):
            landmarks = track.landmarks[i]
            frame = faces.face_frame(landmarks)
            points = frame.to_face(
                landmarks[[faces.K_NOSE_BASE, faces.K_CHIN, faces.K_MOUTH_L, faces.K_MOUTH_R]]
            )
            rows.append(
                (points[0, 1], points[1, 1], (points[2, 0] + points[3, 0]) / 2.0, points[1, 0])
            )
        if not rows:
            raise ValueError("the track has no frame with a face")
        nose_y, chin_y, mouth_x, _ = np.median(np.asarray(rows, dtype=np.float64), axis=0)
        line = float(nose_y) + _NOSE_GAP
        bottom = float(chin_y) + chin_margin
        side = max(bottom - line, 0.2) / (1.0 - mask_top)
        return cls(
            size=size,
            mask_top=mask_top,
            centre_x=float(mouth_x),
            top=line - mask_top * side,
            side=side,
        )

    def affine(self, landmarks: np.ndarray) -> np.ndarray:
        """2 x 3 matrix taking crop pixel (u, v) to image coordinates for this frame."""
        frame = faces.face_frame(landmarks)
        pixel = self.side / self.size  # face units per crop pixel
        # face point = (x0 + (u + 0.5) * pixel, top + (v + 0.5) * pixel)
        origin_face = np.array(
            [self.centre_x - self.side / 2 + 0.5 * pixel, self.top + 0.5 * pixel]
        )
        linear = frame.scale * pixel * frame.axes.T  # columns: image steps per u and per v
        offset = frame.scale * (origin_face @ frame.axes) + frame.origin
        return np.hstack([linear, offset[:, None]]).astype(np.float64)

    def mask(self) -> np.ndarray:
        """Crop-space blend weight (size x size float32): 0 above the mask line, 1 inside."""
        s = self.size
        feather = max(2.0, _FEATHER * s)
        v = np.arange(s, dtype=np.float32) + 0.5
        u = v.copy()
        line = self.mask_top * s
        rise = np.clip((v - line) / feather, 0.0, 1.0)
        bottom = np.clip((s - v) / feather, 0.0, 1.0)
        sides = np.clip(np.minimum(u, s - u) / feather, 0.0, 1.0)
        weight = (rise * bottom)[:, None] * sides[None, :]
        weight = weight * weight * (3.0 - 2.0 * weight)  # smoothstep: no visible edge
        weight[: int(np.ceil(line)), :] = 0.0
        return np.asarray(weight, dtype=np.float32)


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


def colour_match(generated: np.ndarray, original: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift ``generated`` so its mean colour in the feather band equals ``original``'s.

    The band (0 < weight < 1) is where the two images are blended, so matching there
    hides the seam; the mouth itself (weight 1) may legitimately differ.
    """
    band = (weight > 0.0) & (weight < 1.0)
    if int(band.sum()) < 16:
        return generated
    shift = original[band].astype(np.float32).mean(axis=0) - generated[band].astype(
        np.float32
    ).mean(axis=0)
    shift = np.clip(shift, -_MAX_SHIFT, _MAX_SHIFT)
    return np.asarray(np.clip(generated.astype(np.float32) + shift, 0, 255).astype(np.uint8))


def paste(
    frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Blend ``crop`` (crop space) into ``frame`` through ``weight``; returns a new frame.

    Only the bounding box of the crop's repainted part is touched; every pixel whose weight
    is zero keeps its exact value.
    """
    size = crop.shape[0]
    height, width = frame.shape[:2]
    line = float(np.floor(np.flatnonzero(weight.max(axis=1) > 0)[0])) if weight.any() else size
    corners = np.array([[0, line], [size, line], [0, size], [size, size]], dtype=np.float64)
    image_corners = corners @ matrix[:, :2].T + matrix[:, 2]
    x0, y0 = np.floor(image_corners.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(image_corners.max(axis=0)).astype(int) + 2
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), width), min(int(y1), height)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # Image -> crop for the region of interest, as warpAffine's inverse map wants it.
    to_roi = matrix.copy()
    to_roi[:, 2] -= (x0, y0)
    inverse = cv2.invertAffineTransform(to_roi)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    roi_size = (x1 - x0, y1 - y0)
    pixels = cv2.warpAffine(crop, inverse, roi_size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(weight, inverse, roi_size, flags=flags, borderValue=(0.0,))
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    roi = out[y0:y1, x0:x1].astype(np.float32)
    blended = roi + alpha * (pixels.astype(np.float32) - roi)
    touched = alpha[..., 0] > 0
    region = out[y0:y1, x0:x1]
    region[touched] = np.clip(np.round(blended[touched]), 0, 255).astype(np.uint8)
    return out
