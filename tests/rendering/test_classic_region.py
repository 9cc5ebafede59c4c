"""The classic engine changes nothing outside the lower face, pixel by pixel and frame by
frame (issue #15: an average PSNR over the whole frame let a mask that leaked, or no mask
at all, pass). Both sides are encoded losslessly, so an unchanged pixel is an equal one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rendering import faces, media
from rendering.audio import analyse
from rendering.engines import get_engine
from tests.rendering.plain_av import FACE, decode, speech_clip

# The edit reaches past the chin by as much as the mouth opens: a generous margin for the
# polygon, and a few pixels beyond its edge for the smoothing of the landmarks.
CHIN_ROOM = 0.6
EDGE_PX = 4.0


def test_no_pixel_changes_outside_the_lower_face(tmp_path: Path) -> None:
    audio = speech_clip(tmp_path / "speech.wav", 3.0)
    track = faces.track(FACE, cache_dir=tmp_path)
    result = get_engine("classic", crf=0).render(
        template=FACE,
        track=track,
        audio=analyse(audio, cache_dir=tmp_path),
        audio_path=audio,
        out_path=tmp_path / "out.mp4",
    )
    media.transcode(FACE, tmp_path / "plain.mp4", crf=0)
    out, plain = decode(result.path), decode(tmp_path / "plain.mp4")
    assert len(out) == len(plain) == 75
    edited = 0
    for i in range(len(out)):
        changed = np.any(out[i] != plain[i], axis=2)
        edited += int(changed.any())
        polygon = track.lower_face_polygon(i, chin_margin=CHIN_ROOM)
        assert polygon is not None
        outside = np.ones(changed.shape, np.uint8)
        cv2.fillPoly(outside, [np.round(polygon).astype(np.int32)], (0,))
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
        assert not (changed & (distance > EDGE_PX)).any(), f"frame {i}: pixels changed outside"
    assert edited >= 60  # and the mouth really was re-animated in nearly every frame
