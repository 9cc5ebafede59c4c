"""Pictures as the codec stores them: I420 (yuv420p) arrays, and RGB only where we draw.

An I420 picture of ``h x w`` pixels (both even) is one uint8 array of shape ``(h * 3 // 2, w)``:
the Y plane's ``h`` rows, then the U and the V plane (``h/2 x w/2`` each) packed into ``h/4``
rows apiece, the layout PyAV's ``to_ndarray(format="yuv420p")`` and OpenCV's ``*_I420``
conversions use. H.264 stores yuv420p, so a decoded picture passed on unchanged costs the
encoder no colour conversion; only the region an engine redraws goes to RGB and back.

Conversions go through FFmpeg's swscale with the settings the whole-frame path used
(``to_ndarray(format="rgb24")`` when decoding, the encoder's reformat when encoding), so a
region converted on its own has exactly the pixels it would have had in a whole frame,
except within a few pixels of a cut edge (chroma filters reach across it): callers convert a
box with a margin and write back only its inside (:func:`put_rgb`).
"""

from __future__ import annotations

import threading

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

__all__ = [
    "EDGE",
    "av_frame",
    "even_span",
    "is_i420",
    "picture_size",
    "put_rgb",
    "region_rgb",
    "rgb",
    "rotate_i420",
]

# Pixels next to a cut edge whose conversion may differ from the whole frame's (swscale's
# chroma filters read a neighbour or two); even, so boxes stay on chroma samples.
EDGE = 4


_local = threading.local()


def _convert(frame: av.VideoFrame, format: str) -> np.ndarray:
    """``frame`` converted by swscale with PyAV's defaults, as an array. Converters are kept
    per thread, formats and size: ``VideoFrame.reformat`` sets up a new one for every frame."""
    # One per direction too: a converter set up for other formats or sizes starts afresh,
    # which costs more than converting a face's box.
    reformatters = getattr(_local, "reformatters", None)
    if reformatters is None:
        reformatters = _local.reformatters = {}
    key = (frame.format.name, frame.width, frame.height, format)
    reformatter = reformatters.get(key)
    if reformatter is None:
        if len(reformatters) >= 8:
            reformatters.clear()
        reformatter = reformatters[key] = VideoReformatter()
    return np.asarray(reformatter.reformat(frame, format=format).to_ndarray())


def is_i420(picture: np.ndarray) -> bool:
    """Whether ``picture`` is a packed I420 array (2-D) rather than RGB (H x W x 3)."""
    return picture.ndim == 2


def picture_size(picture: np.ndarray) -> tuple[int, int]:
    """``(height, width)`` of an RGB or I420 picture."""
    if is_i420(picture):
        return picture.shape[0] * 2 // 3, picture.shape[1]
    return picture.shape[0], picture.shape[1]


def _planes(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a packed I420 array."""
    h, w = picture_size(picture)
    flat = picture.reshape(-1)
    y_end, u_end = h * w, h * w + (h // 2) * (w // 2)
    return (
        flat[:y_end].reshape(h, w),
        flat[y_end:u_end].reshape(h // 2, w // 2),
        flat[u_end:].reshape(h // 2, w // 2),
    )


def _pack(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = y.shape
    out = np.empty((h * 3 // 2, w), dtype=np.uint8)
    oy, ou, ov = _planes(out)
    oy[:], ou[:], ov[:] = y, u, v
    return out


def rotate_i420(picture: np.ndarray, rotation: int) -> np.ndarray:
    """An I420 picture turned clockwise by ``rotation`` degrees (a multiple of 90)."""
    turns = (rotation // 90) % 4
    if turns == 0:
        return picture
    return _pack(*(np.rot90(plane, k=-turns) for plane in _planes(picture)))


def av_frame(picture: np.ndarray) -> av.VideoFrame:
    """A PyAV frame holding ``picture`` (I420 or RGB), filled with one copy per plane.

    ``VideoFrame.from_ndarray`` copies an RGB array row by row in Python-level code: 60 ms
    for one 1080x1920 frame, more than libx264 spends encoding it."""
    h, w = picture_size(picture)
    frame = av.VideoFrame(w, h, "yuv420p" if is_i420(picture) else "rgb24")
    sources = _planes(picture) if is_i420(picture) else (picture.reshape(h, w * 3),)
    for plane, source in zip(frame.planes, sources, strict=True):
        rows, width = source.shape
        view = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        view[:rows, :width] = source
    return frame


def rgb(picture: np.ndarray) -> np.ndarray:
    """The picture as RGB (H x W x 3); an RGB picture is returned as it is."""
    if not is_i420(picture):
        return picture
    return _convert(av_frame(picture), "rgb24")


def region_rgb(picture: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """RGB pixels of ``box`` = ``(x0, y0, x1, y1)`` (even corners) of an I420 picture: those
    more than :data:`EDGE` pixels inside a cut edge equal the whole frame's conversion."""
    x0, y0, x1, y1 = box
    y, u, v = _planes(picture)
    part = _pack(
        y[y0:y1, x0:x1],
        u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
        v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
    )
    return rgb(part)


def put_rgb(
    picture: np.ndarray,
    box: tuple[int, int, int, int],
    pixels: np.ndarray,
    before: np.ndarray | None = None,
) -> None:
    """Write the RGB ``pixels`` of ``box`` (from :func:`region_rgb`) back into the I420
    ``picture`` in place, all but the :data:`EDGE` pixels along each edge that cuts the
    frame (edges on the frame's border are written: the whole frame ends there too).

    With ``before`` (the box's RGB before it was drawn on), only what changed is written:
    luma where a pixel changed, chroma where any pixel of its 2 x 2 block did, so the rest
    keeps the decoder's own values rather than a round trip through RGB."""
    h, w = picture_size(picture)
    changed = None
    if before is not None:
        # Changed in any channel (OpenCV's per-channel maximum: numpy's any(axis=2) over a
        # face's box cost more than converting it).
        red, green, blue = cv2.split(cv2.absdiff(pixels, before))
        changed = cv2.max(cv2.max(red, green), blue)
        # Only the part that changed, with EDGE pixels around it, goes back through swscale:
        # an edit touches the mouth and jaw, a fraction of the box it read.
        cx, cy, cw, ch = cv2.boundingRect(changed)
        if cw == 0:
            return
        ix0, ix1 = even_span(cx - EDGE, cx + cw + EDGE, changed.shape[1])
        iy0, iy1 = even_span(cy - EDGE, cy + ch + EDGE, changed.shape[0])
        pixels = pixels[iy0:iy1, ix0:ix1]
        changed = changed[iy0:iy1, ix0:ix1]
        # The sub-box's edges inside the box are cut edges too, unless they are the box's.
        x0, y0, x1, y1 = box
        box = (x0 + ix0, y0 + iy0, x0 + ix1, y0 + iy1)
    x0, y0, x1, y1 = box
    part = _convert(av_frame(np.ascontiguousarray(pixels)), "yuv420p")
    # The inside that is exact: EDGE pixels in from every edge that is not the frame's own.
    exact = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    exact[
        EDGE if y0 > 0 else 0 : (y1 - y0) - (EDGE if y1 < h else 0),
        EDGE if x0 > 0 else 0 : (x1 - x0) - (EDGE if x1 < w else 0),
    ] = True
    luma = exact if changed is None else exact & (changed > 0)
    chroma = luma[0::2, 0::2] | luma[1::2, 0::2] | luma[0::2, 1::2] | luma[1::2, 1::2]
    for mask, scale, target, source in zip(
        (luma, chroma, chroma), (1, 2, 2), _planes(picture), _planes(part), strict=True
    ):
        window = target[y0 // scale : y1 // scale, x0 // scale : x1 // scale]
        np.copyto(window, source, where=mask)


# Sizes of the part put_rgb converts grow in these steps: swscale sets up a converter per
# size, which costs more than converting a face's box, so sizes should repeat.
SPAN_STEP = 32


def even_span(start: int, stop: int, limit: int, step: int = SPAN_STEP) -> tuple[int, int]:
    """``[start, stop)`` grown to even ends and a length in multiples of ``step`` (at most
    ``limit``), inside ``[0, limit)``: boxes whose sizes repeat, for the converters."""
    start, stop = max(start, 0) // 2 * 2, min((stop + 1) // 2 * 2, limit)
    length = min(-(-(stop - start) // step) * step, limit)
    stop = min(start + length, limit)
    return max(stop - length, 0), stop
