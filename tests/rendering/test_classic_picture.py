"""The classic engine edits the decoder's I420 pictures in the face's box only: the same mouths
as editing the whole frame in RGB, and the rest of the picture exactly as decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rendering import faces, media, mouths
from rendering.engines import classic
from rendering.engines.classic import (
    Appearance,
    FaceBoxes,
    MouthPose,
    MouthReference,
    _skin_light,
    animate_frame,
    animate_picture,
    edit_box,
)
from rendering.media import pixels
from tests.rendering.plain_av import FACE

pytest_plugins = ["tests.rendering.face_fixtures"]

POSES = [
    MouthPose(0.0, 0.5, 0.0),
    MouthPose(1.0, 1.0, 0.0),
    MouthPose(1.0, 0.0, 1.0),
    MouthPose(0.45, 0.3, 0.6),
]


def _i420(rgb: np.ndarray) -> np.ndarray:
    """RGB to I420 as the encoder converts a whole frame (swscale, its defaults)."""
    return np.asarray(pixels.av_frame(rgb).reformat(format="yuv420p").to_ndarray())


def _written(box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Where ``put_rgb`` writes: the box, but EDGE pixels in from sides inside the frame."""
    x0, y0, x1, y1 = box
    height, width = size
    edge = pixels.EDGE
    inside = np.zeros(size, bool)
    inside[
        y0 + (edge if y0 > 0 else 0) : y1 - (edge if y1 < height else 0),
        x0 + (edge if x0 > 0 else 0) : x1 - (edge if x1 < width else 0),
    ] = True
    return inside


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[np.ndarray], faces.FaceTrack]:
    cache = tmp_path_factory.mktemp("picture-cache")
    return list(media.iter_frames(FACE, i420=True)), faces.track(FACE, cache_dir=cache)


@pytest.mark.parametrize("use_library", [False, True])
def test_editing_the_box_makes_the_mouth_the_whole_frame_edit_makes(
    template: tuple[list[np.ndarray], faces.FaceTrack], use_library: bool, tmp_path: Path
) -> None:
    pictures, track = template
    reference = MouthReference.from_track(track)
    library = mouths.analyse(FACE, track, cache_dir=tmp_path) if use_library else None
    compared = 0
    for index in (0, 17, 40, 63):
        if not track.present[index]:
            continue
        landmarks = track.landmarks[index]
        picture = pictures[index]
        for number, pose in enumerate(POSES):
            entry = mouths.OWN
            if library is not None and len(library):
                entry = (index + number) % len(library)
            appearance = Appearance(library, entry)
            # Before: the whole frame to RGB, edited, and converted back by the encoder.
            rgb = pixels.rgb(picture)
            edited = animate_frame(rgb, landmarks, pose, reference, appearance=appearance)
            whole = _i420(edited)
            # Now: only the face's box, only what changed.
            boxed = animate_picture(picture, landmarks, pose, reference, appearance=appearance)

            box = edit_box(landmarks, pixels.picture_size(picture))
            assert box is not None
            drawn = np.any(edited != rgb, axis=2)  # what the whole-frame edit changed
            assert drawn.any()
            assert not (drawn & ~_written(box, drawn.shape)).any()  # all of it inside the box
            blocks = drawn.reshape(drawn.shape[0] // 2, 2, -1, 2).any(axis=(1, 3))
            # The same mouth: where the edit drew, the pixels of the whole-frame edit (the
            # landmarks moved into the box's coordinates round differently in the last
            # bit, which flips a pixel here and there by one level).
            for plane, where in ((0, drawn), (1, blocks), (2, blocks)):
                new = pixels._planes(boxed)[plane][where].astype(int)
                old = pixels._planes(whole)[plane][where].astype(int)
                assert np.count_nonzero(new != old) <= 0.001 * new.size + 1
                assert np.abs(new - old).max() <= 2
                # Everywhere else, the decoder's own pixels, untouched by any conversion.
                kept = pixels._planes(boxed)[plane][~where]
                assert np.array_equal(kept, pixels._planes(picture)[plane][~where])
            compared += 1
    assert compared >= 12


def test_an_rgb_frame_is_edited_as_before(
    template: tuple[list[np.ndarray], faces.FaceTrack],
) -> None:
    pictures, track = template
    reference = MouthReference.from_track(track)
    frame = pixels.rgb(pictures[10])
    pose = MouthPose(0.8)

    got = animate_picture(frame, track.landmarks[10], pose, reference)

    assert np.array_equal(got, animate_frame(frame, track.landmarks[10], pose, reference))
    assert not np.array_equal(got, frame)


def test_the_edit_box_is_even_and_inside_the_frame(
    template: tuple[list[np.ndarray], faces.FaceTrack],
) -> None:
    pictures, track = template
    height, width = pixels.picture_size(pictures[0])
    for index in np.flatnonzero(track.present)[:10]:
        box = edit_box(track.landmarks[index], (height, width))
        assert box is not None
        x0, y0, x1, y1 = box
        assert all(v % 2 == 0 for v in box)
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        polygon = faces.lower_face_polygon(track.landmarks[index])
        assert polygon.min(axis=0)[0] >= x0 and polygon.max(axis=0)[1] <= y1
    assert edit_box(np.zeros_like(track.landmarks[0]), (height, width)) is None


def test_kept_face_boxes_are_the_boxes_and_stay_within_their_budget(
    template: tuple[list[np.ndarray], faces.FaceTrack],
) -> None:
    pictures, track = template
    index = int(np.flatnonzero(track.present)[0])
    box = edit_box(track.landmarks[index], pixels.picture_size(pictures[index]))
    assert box is not None
    region = pixels.region_rgb(pictures[index], box)

    boxes = FaceBoxes(budget=3 * region.nbytes)
    first = boxes.get(index, pictures[index], track.landmarks[index])
    assert first is not None and first[0] == box
    assert np.array_equal(first[1], region)
    assert not first[1].flags.writeable  # shared by every visit: nobody draws on it
    # Asked again (a looping render coming back), the same kept box, not a new conversion.
    assert boxes.get(index, pictures[index], track.landmarks[index]) is first
    for other in range(index + 1, index + 6):
        boxes.get(other, pictures[other], track.landmarks[other])
    assert boxes._bytes <= 3 * region.nbytes + region.nbytes // 2  # boxes' sizes differ a little
    assert index not in boxes._kept  # the oldest went first

    none_kept = FaceBoxes(budget=0)
    assert none_kept.get(index, pictures[index], track.landmarks[index]) is not None
    faceless = np.zeros_like(track.landmarks[index])  # no box: not kept either
    assert none_kept.get(index + 1, pictures[index], faceless) is None
    assert not none_kept._kept


def test_the_skin_light_is_numpys_percentiles_counted_in_histograms() -> None:
    rng = np.random.default_rng(7)
    for shape, low, high in (((37, 53, 3), 0, 256), ((8, 9, 3), 100, 104), ((120, 90, 3), 30, 220)):
        roi = rng.integers(low, high, shape).astype(np.uint8)
        brightest = roi.astype(np.float32).max(axis=2)
        lit = roi[brightest >= np.percentile(brightest, 60)].astype(np.float32)
        cast = np.median(lit, axis=0)

        skin, got_cast = _skin_light(roi)

        assert skin == pytest.approx(float(np.percentile(brightest, 80)), abs=1e-9)
        np.testing.assert_allclose(got_cast, cast / max(float(cast.max()), 1.0), atol=1e-6)


def test_a_kept_mouth_shape_draws_what_a_fresh_one_does(
    template: tuple[list[np.ndarray], faces.FaceTrack],
) -> None:
    pictures, track = template
    reference = MouthReference.from_track(track)
    index = int(np.flatnonzero(track.present)[3])
    frame = pixels.rgb(pictures[index])
    landmarks = track.landmarks[index]
    classic._mouth_shape.clear()

    fresh = animate_frame(frame, landmarks, MouthPose(0.7), reference)
    assert len(classic._mouth_shape) == 1
    kept = classic._mouth_shape(landmarks)
    again = animate_frame(frame, landmarks, MouthPose(0.7), reference)

    assert np.array_equal(fresh, again)
    assert classic._mouth_shape(landmarks.copy()) is kept  # by value, not by array
    assert not np.array_equal(
        animate_frame(frame, landmarks, MouthPose(0.1), reference), fresh
    )  # the pose still decides the mouth
