from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rendering import audio, faces, media
from rendering.errors import RenderCanceled
from rendering.pipeline import output_name, render_batch
from tests.rendering.plain_av import (
    FACE,
    decode,
    has_audio,
    no_face_frames,
    speech_clip,
    write_video,
)


def test_one_bad_template_does_not_stop_the_others(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 1.0)
    no_face = write_video(tmp_path / "landscape.mp4", no_face_frames(10))
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"this is not a video")
    copy = Path(shutil.copy(FACE, tmp_path / "copy.mp4"))
    cache = tmp_path / "cache"
    analyses, tracks = audio.ANALYSIS_RUNS, faces.TRACK_RUNS
    seen: list[tuple[int, float]] = []

    result = render_batch(
        speech,
        [FACE, no_face, not_video, speech, copy],
        tmp_path / "out",
        cache_dir=cache,
        progress=lambda index, fraction: seen.append((index, fraction)),
    )

    assert [item.ok for item in result.items] == [True, False, False, False, True]
    assert not result.ok and len(result.failed) == 3
    assert [item.index for item in result.items] == [1, 2, 3, 4, 5]
    assert "face" in (result.items[1].error or "")
    for item in result.failed:
        assert item.output is None
        assert item.error and item.error[0].isupper() and item.error.endswith(".")
    for item in (result.items[0], result.items[4]):
        assert item.output == tmp_path / "out" / output_name(item.index)
        assert len(decode(item.output)) == 25
        assert has_audio(item.output)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "output_001.mp4",
        "output_005.mp4",
    ]
    # The audio is analysed once for the batch; the copy of FACE reuses its track.
    assert audio.ANALYSIS_RUNS - analyses == 1
    assert faces.TRACK_RUNS - tracks == 2  # FACE and the no-face video
    assert (1, 1.0) in seen and (5, 1.0) in seen


def test_a_second_batch_reuses_the_cached_analysis_and_tracks(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.6)
    cache = tmp_path / "cache"
    render_batch(speech, [FACE], tmp_path / "first", cache_dir=cache)
    analyses, tracks = audio.ANALYSIS_RUNS, faces.TRACK_RUNS

    result = render_batch(speech, [FACE], tmp_path / "second", cache_dir=cache)

    assert result.ok
    assert (analyses, tracks) == (audio.ANALYSIS_RUNS, faces.TRACK_RUNS)
    assert media.probe(tmp_path / "second" / "output_001.mp4").duration == pytest.approx(
        0.6, abs=0.05
    )


def test_cancel_stops_the_batch(tmp_path: Path) -> None:
    speech = speech_clip(tmp_path / "speech.wav", 0.6)

    with pytest.raises(RenderCanceled):
        render_batch(
            speech, [FACE, FACE], tmp_path / "out", cache_dir=None, should_cancel=lambda: True
        )

    assert list((tmp_path / "out").iterdir()) == []
