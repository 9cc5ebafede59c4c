"""Every face in a group: six people of modest size are all found and listed, and the one
chosen speaks while the other five stay as they were."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rendering import faces, media
from rendering.audio import analyse
from rendering.engines.classic import ClassicEngine
from tests.rendering.plain_av import FPS, SPEECH, read_wav, write_video, write_wav
from tests.rendering.turned_faces import group_of_six


@pytest.fixture(scope="module")
def group() -> np.ndarray:
    return group_of_six()


def _tile(box: np.ndarray, size: tuple[int, int] = (1280, 720)) -> int:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return int(cy // (size[1] // 2)) * 3 + int(cx // (size[0] // 3))


def test_six_faces_of_about_40_px_eye_distance_are_all_found(group: np.ndarray) -> None:
    found = faces.all_faces(group)

    assert sorted(_tile(faces._box(face)) for face in found) == [0, 1, 2, 3, 4, 5]
    eyes = [faces._eye_distance(face) for face in found]
    assert 40.0 <= min(eyes) < 50.0  # the target size is among them


def test_the_chosen_face_of_six_speaks_and_the_others_do_not(
    group: np.ndarray, tmp_path: Path
) -> None:
    # A gentle drift, so the tracker follows a moving picture, not a still.
    frames = [np.roll(group, (i % 5) - 2, axis=1) for i in range(25)]
    template = write_video(tmp_path / "group.mp4", frames)
    listed = faces.list_faces(template)
    assert len(listed) == 6
    chosen = next(c for c in listed if _tile(_hint_box(c.hint)) == 4)

    track = faces.track(template, cache_dir=None, face=chosen.hint)
    assert track.present.all()
    assert all(_tile(box) == 4 for box in track.boxes)
    assert faces.usable_share(track) == 1.0

    samples, rate = read_wav(SPEECH)
    short = write_wav(tmp_path / "one_second.wav", samples[int(0.4 * rate) : int(1.4 * rate)], rate)
    speech = analyse(short, cache_dir=None)
    result = ClassicEngine(cache_dir=tmp_path, crf=12).render(
        template=template, track=track, audio=speech, audio_path=short, out_path=tmp_path / "o.mp4"
    )
    source = list(media.iter_frames(template, fps=FPS))
    output = list(media.iter_frames(result.path, fps=FPS))
    change = np.zeros(6)
    for a, b in zip(source, output, strict=False):
        # Blurred: the change of a small area (an edit), not one pixel's codec noise.
        diff = cv2.GaussianBlur(
            np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2), (0, 0), 3.0
        )
        for tile in range(6):
            row, col = divmod(tile, 3)
            change[tile] = max(
                change[tile],
                float(diff[row * 360 : (row + 1) * 360, col * 426 : (col + 1) * 426].max()),
            )
    assert change[4] > 15.0  # her mouth moved
    others = np.delete(change, 4)
    assert others.max() < 8.0 and change[4] > 4 * others.max(), change  # codec noise only


def _hint_box(hint: faces.FaceHint, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    cx, cy, w = hint.x * size[0], hint.y * size[1], hint.size * size[0]
    return np.array([cx - w / 2, cy - w / 2, cx + w / 2, cy + w / 2])
