"""I420 pictures: decoded without a colour conversion, written as they are, and converted to
RGB and back only in a box, with exactly the pixels a whole-frame conversion gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rendering import media
from rendering.media import pixels
from tests.rendering.conftest import VideoFactory

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "face.mp4"


def _whole_i420(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(pixels.av_frame(rgb).reformat(format="yuv420p").to_ndarray())


def test_i420_frames_are_the_rgb_frames_before_conversion() -> None:
    rgb = list(media.iter_frames(FIXTURE))
    i420 = list(media.iter_frames(FIXTURE, i420=True))

    assert len(i420) == len(rgb)
    assert i420[0].shape == (rgb[0].shape[0] * 3 // 2, rgb[0].shape[1])
    assert pixels.picture_size(i420[0]) == rgb[0].shape[:2]
    for k in (0, len(rgb) // 2, len(rgb) - 1):
        np.testing.assert_array_equal(pixels.rgb(i420[k]), rgb[k])


@pytest.mark.parametrize("ffmpeg_angle", [-90, 90, 180])
def test_i420_frames_of_a_phone_video_are_turned_upright(
    make_video: VideoFactory, ffmpeg_angle: int
) -> None:
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:16, :16] = 255
    frame[40:, 60:, 0] = 200
    path = make_video("phone.mp4", [frame] * 3, rotation=ffmpeg_angle)

    rgb = next(media.iter_frames(path))
    i420 = next(media.iter_frames(path, i420=True))

    np.testing.assert_array_equal(pixels.rgb(i420), rgb)


def test_an_odd_sized_video_is_not_decoded_as_i420(tmp_path: Path) -> None:
    import av

    path = tmp_path / "odd.mkv"  # lossless FFV1 keeps a 33x21 picture as it is
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 33, 21, "yuv444p"
        image = av.VideoFrame.from_ndarray(np.full((21, 33, 3), 90, np.uint8), format="rgb24")
        container.mux(stream.encode(image))
        container.mux(stream.encode(None))

    assert next(media.iter_frames(path)).shape == (21, 33, 3)
    with pytest.raises(ValueError):
        media.iter_frames(path, i420=True)


def test_the_writer_takes_i420_frames_as_they_are(tmp_path: Path) -> None:
    decoded = list(media.iter_frames(FIXTURE, i420=True))[:5]
    out = tmp_path / "lossless.mp4"
    with media.VideoWriter(out, width=256, height=256, fps=25, crf=0) as writer:
        for picture in decoded:
            writer.write(picture)

    back = list(media.iter_frames(out, i420=True))

    assert len(back) == 5
    for a, b in zip(back, decoded, strict=True):
        np.testing.assert_array_equal(a, b)  # lossless, and no conversion on the way


def test_a_frame_is_finished_on_the_writers_copy_before_it_is_encoded(tmp_path: Path) -> None:
    decoded = list(media.iter_frames(FIXTURE, i420=True))[:4]
    kept = [picture.copy() for picture in decoded]
    out = tmp_path / "finished.mp4"

    def darker(picture: np.ndarray) -> np.ndarray:
        picture[:64] //= 2  # the top 64 luma rows, in place
        return picture

    with media.VideoWriter(out, width=256, height=256, fps=25, crf=0) as writer:
        for picture in decoded:
            writer.write(picture, finish=darker)

    back = list(media.iter_frames(out, i420=True))
    for got, original, caller in zip(back, kept, decoded, strict=True):
        np.testing.assert_array_equal(got[:64], original[:64] // 2)
        np.testing.assert_array_equal(got[64:], original[64:])
        np.testing.assert_array_equal(caller, original)  # the caller's frame is untouched


def test_a_failing_finish_fails_the_writer_and_leaves_no_file(tmp_path: Path) -> None:
    picture = next(media.iter_frames(FIXTURE, i420=True))
    out = tmp_path / "broken.mp4"

    def broken(frame: np.ndarray) -> np.ndarray:
        raise ValueError("the edit could not be written")

    with (
        pytest.raises(ValueError, match="could not be written"),
        media.VideoWriter(out, width=256, height=256, fps=25) as writer,
    ):
        for _ in range(10):
            writer.write(picture, finish=broken)

    assert not out.exists()
    assert not list(tmp_path.glob(".broken*"))  # no partial file either


def test_an_rgb_frame_is_encoded_as_the_whole_frame_conversion_gives(tmp_path: Path) -> None:
    rgb = next(media.iter_frames(FIXTURE))
    out = tmp_path / "lossless.mp4"
    with media.VideoWriter(out, width=256, height=256, fps=25, crf=0) as writer:
        writer.write(rgb)

    np.testing.assert_array_equal(next(media.iter_frames(out, i420=True)), _whole_i420(rgb))


def test_a_box_converts_as_the_whole_frame_and_only_its_changes_go_back() -> None:
    picture = next(media.iter_frames(FIXTURE, i420=True))
    box = (40, 100, 200, 256)  # bottom edge on the frame's border

    region = pixels.region_rgb(picture, box)
    whole_rgb = pixels.rgb(picture)
    edge = pixels.EDGE
    np.testing.assert_array_equal(
        region[edge:, edge:-edge], whole_rgb[100 + edge :, 40 + edge : 200 - edge]
    )

    drawn = region.copy()
    drawn[40:90, 30:100] = (200, 40, 40)
    out = picture.copy()
    pixels.put_rgb(out, box, drawn, before=region)

    edited_whole = whole_rgb.copy()
    edited_whole[140:190, 70:140] = (200, 40, 40)
    expected = _whole_i420(edited_whole)
    y_out, y_expected, y_decoded = (pixels._planes(p)[0] for p in (out, expected, picture))
    np.testing.assert_array_equal(y_out[140:190, 70:140], y_expected[140:190, 70:140])
    changed = y_out != y_decoded
    assert changed[140:190, 70:140].mean() > 0.9
    changed[140:190, 70:140] = False
    assert not changed.any()  # nothing else went through RGB


def test_rotate_i420_turns_each_plane() -> None:
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:4, :4] = 255
    picture = _whole_i420(rgb)

    turned = pixels.rotate_i420(picture, 90)

    assert pixels.picture_size(turned) == (12, 8)
    np.testing.assert_array_equal(pixels.rgb(turned), np.rot90(pixels.rgb(picture), k=-1))
    assert pixels.rotate_i420(picture, 0) is picture


def test_an_unchanged_box_writes_nothing_back() -> None:
    picture = next(media.iter_frames(FIXTURE, i420=True))
    box = (40, 100, 200, 256)
    region = pixels.region_rgb(picture, box)
    out = picture.copy()

    pixels.put_rgb(out, box, region.copy(), before=region)

    assert np.array_equal(out, picture)


@pytest.mark.parametrize(
    ("start", "stop", "limit", "step"),
    [(5, 40, 100, 32), (-3, 7, 100, 32), (90, 99, 100, 32), (0, 100, 100, 32), (13, 14, 64, 16)],
)
def test_even_spans_hold_the_range_in_even_ends_and_whole_steps(
    start: int, stop: int, limit: int, step: int
) -> None:
    lo, hi = pixels.even_span(start, stop, limit, step)

    assert lo % 2 == 0 and hi % 2 == 0
    assert 0 <= lo <= max(start, 0) and min(stop, limit) <= hi <= limit
    assert (hi - lo) % step == 0 or hi - lo == limit
