"""What a viewer sees at the edited region: how visible its border is, how sharp its mouth is.

Two measures, both comparing an output frame with the template frame it was made from:

- :func:`seam_score`: the change the edit leaves along the border of the region it may
  repaint (the lower-face polygon), as grey levels of low-passed luminance. A strip just
  inside the border (where the feather fades the edit out) and a ring just outside it are
  compared with a control ring further out, which holds only the encoder's own noise: an
  invisible border changes the strip no more than the encoder changes the control.
- :func:`mouth_sharpness`: the variance of the Laplacian of the mouth area (the lips'
  bounding box and a margin), the usual focus measure; the output's over the template's
  says whether the edit blurred the person's mouth.

Pure functions over arrays, used by ``bench/seams.py`` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rendering import faces

# Face units (1 = eye distance): how far the measured rings reach.
STRIP = 0.06  # inside the border: where the feather fades the edit out
OUTSIDE = 0.04  # the ring just outside the border
CONTROL = (0.12, 0.22)  # the encoder-noise ring, further out
MOUTH_MARGIN = 0.06


@dataclass(frozen=True)
class Seam:
    """Mean absolute low-passed luminance change (grey levels) on three rings."""

    strip: float  # just inside the border
    outside: float  # just outside it
    control: float  # further out: the encoder's noise
    lighter: float  # signed mean change in the strip's part below the mouth (the jaw)

    @property
    def score(self) -> float:
        """How much the border region changed beyond the encoder's own noise."""
        return max(self.strip, self.outside) - self.control


def _signed_distance(shape: tuple[int, ...], polygon: np.ndarray) -> np.ndarray:
    """Pixels' distance to the polygon's edge (positive inside), float32."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (255,))
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(255 - mask, cv2.DIST_L2, 3)
    return np.asarray(inside - outside, np.float32)


def _luma(image: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), np.float32)


def seam_score(
    output: np.ndarray, template: np.ndarray, polygon: np.ndarray, landmarks: np.ndarray
) -> Seam:
    """How visible the border of the edited region ``polygon`` is in ``output``.

    The difference is low-passed over about 2 % of the eye distance first, so pixel noise
    and compression blocks do not count, and a lighter or darker band does.
    """
    frame = faces.face_frame(landmarks)
    scale = float(frame.scale)
    pad = int(scale * (CONTROL[1] + 0.05))
    h, w = output.shape[:2]
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + pad, [w, h])
    out, tpl = output[y0:y1, x0:x1], template[y0:y1, x0:x1]
    sigma = max(1.0, 0.02 * scale)
    diff = cv2.GaussianBlur(_luma(out) - _luma(tpl), (0, 0), sigma)
    distance = _signed_distance(out.shape[:2], polygon - [x0, y0]) / np.float32(scale)
    strip = (distance > 0) & (distance <= STRIP)
    outside = (distance <= 0) & (distance > -OUTSIDE)
    control = (distance < -CONTROL[0]) & (distance > -CONTROL[1])
    # The jaw: the strip's part below the mouth centre (the edge the issue saw lighter).
    mouth_y = float(frame.to_face(faces.mouth_centre(landmarks)[None])[0, 1])
    cols = np.arange(out.shape[1], dtype=np.float32)[None, :] + x0
    rows = np.arange(out.shape[0], dtype=np.float32)[:, None] + y0
    rel = np.stack(np.broadcast_arrays(cols, rows), -1).reshape(-1, 2)
    below = (frame.to_face(rel)[:, 1] > mouth_y).reshape(out.shape[:2])
    jaw = strip & below

    def mean_abs(mask: np.ndarray) -> float:
        return float(np.abs(diff[mask]).mean()) if mask.any() else 0.0

    return Seam(
        strip=mean_abs(strip),
        outside=mean_abs(outside),
        control=mean_abs(control),
        lighter=float(diff[jaw].mean()) if jaw.any() else 0.0,
    )


def mouth_box(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The lips' bounding box and a margin, in pixels (x0, y0, x1, y1)."""
    scale = float(faces.face_frame(landmarks).scale)
    lips = landmarks[np.concatenate([faces.K_OUTER_UPPER, faces.K_OUTER_LOWER])]
    margin = MOUTH_MARGIN * scale
    x0, y0 = np.maximum(np.floor(lips.min(axis=0) - margin).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0) + margin).astype(int), [shape[1], shape[0]])
    return int(x0), int(y0), int(x1), int(y1)


def mouth_sharpness(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Variance of the Laplacian of the mouth area (``landmarks`` place it)."""
    x0, y0, x1, y1 = mouth_box(landmarks, image.shape[:2])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    grey = _luma(image[y0:y1, x0:x1])
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def eyes_sharpness(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Variance of the Laplacian between and around the eyes: an area no engine edits, so
    the output's over the template's there is what the encoder alone takes."""
    scale = float(faces.face_frame(landmarks).scale)
    eyes = landmarks[[faces.K_EYE_OUTER_L, faces.K_EYE_OUTER_R]]
    x0, y0 = np.maximum(np.floor(eyes.min(axis=0) - [0.0, 0.15 * scale]).astype(int), 0)
    x1, y1 = np.ceil(eyes.max(axis=0) + np.array([0.0, 0.15 * scale])).astype(int)
    x1, y1 = min(int(x1), image.shape[1]), min(int(y1), image.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    return float(cv2.Laplacian(_luma(image[y0:y1, x0:x1]), cv2.CV_32F).var())


def sharpness_ratio(output: np.ndarray, template: np.ndarray, landmarks: np.ndarray) -> float:
    """The output mouth's sharpness over the template frame's (1: as sharp as the person's)."""
    base = mouth_sharpness(template, landmarks)
    return mouth_sharpness(output, landmarks) / base if base > 0 else float("nan")
