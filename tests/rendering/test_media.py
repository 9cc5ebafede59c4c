from __future__ import annotations

import hashlib
import itertools
import struct
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from rendering import media
from rendering.errors import MediaError, RenderingError
from tests.rendering.conftest import VideoFactory, frame_index, index_frame, tone

# --- probe: what we accept ---------------------------------------------------------------


def test_it_probes_the_face_fixture(face_mp4: Path) -> None:
    info = media.probe_video(face_mp4)

    assert info.container == "mov"
    assert info.audio is None
    assert info.size_bytes == face_mp4.stat().st_size
    assert info.video == media.VideoInfo(
        codec="h264",
        width=256,
        height=256,
        fps=25.0,
        duration=3.0,
        frame_count=75,
        rotation=0,
        pix_fmt="yuv420p",
        variable_fps=False,
    )


def test_it_probes_the_audio_track_of_a_video(face_with_audio_mp4: Path) -> None:
    info = media.probe_audio(face_with_audio_mp4)

    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 16000, 1)
    assert info.audio.duration == pytest.approx(4.8, abs=0.01)
    assert info.video is not None and info.video.frame_count == 120


def test_it_probes_a_wav(speech_wav: Path) -> None:
    info = media.probe_audio(speech_wav)

    assert info.container == "wav"
    assert info.video is None
    assert info.audio == media.AudioInfo(
        codec="pcm_s16le", sample_rate=16000, channels=1, duration=pytest.approx(4.8, abs=0.05)
    )


@pytest.mark.parametrize(
    ("name", "codec", "container_format", "expected"),
    [
        ("clip.mp3", "libmp3lame", None, "mp3"),
        ("clip.flac", "flac", None, "flac"),
        ("clip.opus", "libopus", "ogg", "ogg"),
        ("clip.m4a", "aac", "ipod", "mov"),
    ],
)
def test_it_reads_the_audio_formats_we_accept(
    make_audio, name: str, codec: str, container_format: str | None, expected: str
) -> None:
    rate = 48000 if codec == "libopus" else 16000
    path = make_audio(
        name, tone(1.5, rate=rate), rate=rate, codec=codec, container_format=container_format
    )

    info = media.probe_audio(path)
    samples = media.read_audio(path, sample_rate=16000)

    assert info.container == expected
    # Encoders pad a little at either end; the length stays within ~0.1 s.
    assert abs(samples.size - 24000) < 1600
    assert 0.3 < np.abs(samples[4000:20000]).max() <= 0.55


@pytest.mark.parametrize(
    ("name", "container_format"), [("clip.mkv", "matroska"), ("clip.avi", "avi")]
)
def test_it_reads_video_in_mkv_and_avi(
    make_video: VideoFactory, name: str, container_format: str
) -> None:
    path = make_video(name, 10, container_format=container_format)

    frames, fps = media.read_frames(path)

    assert media.probe_video(path).container == container_format
    assert fps == 25.0
    assert [frame_index(f) for f in frames] == list(range(10))


# --- probe: what we refuse -----------------------------------------------------------------


def test_it_refuses_text_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Dear diary, today I renamed a text file.\n" * 50)

    with pytest.raises(MediaError, match="Upload an MP4, MOV, WebM, MKV or AVI file"):
        media.probe_video(path)


def test_it_refuses_an_mp4_cut_before_its_index(tmp_path: Path, make_video: VideoFactory) -> None:
    # Without faststart the index (moov) comes last; an upload cut short loses it.
    data = make_video("whole.mp4", 50, audio=tone(2.0)).read_bytes()
    assert data.find(b"mdat") < data.find(b"moov"), "expected the index at the end"
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) // 2])

    with pytest.raises(MediaError, match="damaged, incomplete"):
        media.probe_video(truncated)


def test_it_never_crashes_on_an_mp4_cut_after_its_index(
    tmp_path: Path, make_video: VideoFactory
) -> None:
    whole = make_video("whole.mp4", 50, faststart=True)
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.6)])

    # The header still promises 50 frames. The right outcome: the frames that are there come
    # back, in order and exactly as in the whole file; nothing is invented, nothing crashes.
    frames, _ = media.read_frames(truncated)
    originals, _ = media.read_frames(whole)
    assert len(originals) == 50
    assert 15 <= len(frames) < 40  # about 60 % of the bytes, so about 60 % of the frames
    for cut, original in zip(frames, originals, strict=False):
        assert np.array_equal(cut, original)


def test_a_damaged_audio_upload_is_told_to_upload_audio(tmp_path: Path) -> None:
    path = tmp_path / "voice.mp3"
    path.write_bytes(b"ID3" + bytes(range(256)) * 4)

    with pytest.raises(MediaError, match="Upload a WAV, MP3, M4A, FLAC or OGG file"):
        media.probe_audio(path)


def test_it_refuses_an_audio_file_as_a_template(speech_wav: Path) -> None:
    with pytest.raises(MediaError) as caught:
        media.probe_video(speech_wav)
    assert "not a video we can read" in caught.value.message


def test_it_refuses_an_mp4_with_only_audio_as_a_template(make_audio) -> None:
    path = make_audio("voice.mp4", tone(1.0), codec="aac", container_format="mp4")

    with pytest.raises(MediaError) as caught:
        media.probe_video(path)
    assert caught.value.message == (
        "This file is not a video we can read (no video stream found). "
        "Upload an MP4, MOV, WebM, MKV or AVI file."
    )


def test_it_refuses_a_video_without_sound_as_audio(face_mp4: Path) -> None:
    with pytest.raises(MediaError, match="no audio track"):
        media.probe_audio(face_mp4)


def test_it_refuses_a_playlist_that_ffmpeg_alone_would_follow(
    tmp_path: Path, face_mp4: Path
) -> None:
    segment = tmp_path / "segment.ts"
    with av.open(str(face_mp4)) as src, av.open(str(segment), "w", format="mpegts") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    playlist = tmp_path / "innocent.m3u8"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3,\nsegment.ts\n#EXT-X-ENDLIST\n"
    )
    with av.open(str(playlist)) as unguarded:  # proves the guard below is what refuses it
        assert unguarded.format.name == "hls"

    with pytest.raises(MediaError):
        media.probe(playlist)
    renamed = tmp_path / "innocent.mp4"
    renamed.write_bytes(playlist.read_bytes())
    with pytest.raises(MediaError):
        media.probe(renamed)


def test_it_refuses_a_concat_script_renamed_mp4(tmp_path: Path, face_mp4: Path) -> None:
    script = tmp_path / "list.mp4"
    script.write_text(f"ffconcat version 1.0\nfile '{face_mp4}'\n")

    with pytest.raises(MediaError):
        media.probe(script)


@pytest.mark.parametrize("url", ["http://example.com/a.mp4", "file:///etc/hostname", "pipe:0"])
def test_it_refuses_anything_but_a_local_path(url: str) -> None:
    with pytest.raises(MediaError, match="not links"):
        media.probe(url)


def test_it_refuses_directories_devices_and_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in (tmp_path, Path("/dev/zero"), empty, tmp_path / "missing.mp4"):
        with pytest.raises(MediaError):
            media.probe(path)


def test_media_errors_are_rendering_errors_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(RenderingError) as caught:
        media.probe(tmp_path / "missing.wav")
    assert caught.value.message == "We could not find this file. Upload it again."
    assert "missing.wav" in str(caught.value)  # the detail is for logs, not for users


# --- limits --------------------------------------------------------------------------------


def test_it_says_how_long_a_video_is_and_what_the_limit_is(make_video: VideoFactory) -> None:
    frames = [np.zeros((16, 16, 3), np.uint8)] * 240
    path = make_video("long.mp4", frames, fps=1)

    with pytest.raises(MediaError) as caught:
        media.probe_video(path, limits=media.Limits(max_duration=120))
    assert caught.value.message == (
        "This video is 4 minutes long; the limit is 2 minutes. Trim it and upload it again."
    )


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (media.Limits(max_pixels=200 * 200), "256x256 pixels"),
        (media.Limits(max_fps=24), "25 frames per second"),
        (media.Limits(max_frames=50), "75 frames; the limit is 50"),
        (media.Limits(max_duration=2.0), "3 seconds long; the limit is 2 seconds"),
    ],
)
def test_it_checks_the_header_against_the_limits(
    face_mp4: Path, limits: media.Limits, words: str
) -> None:
    with pytest.raises(MediaError, match=words):
        media.probe_video(face_mp4, limits=limits)


def test_it_refuses_audio_over_the_duration_limit(speech_wav: Path) -> None:
    with pytest.raises(
        MediaError, match="This audio file is 5 seconds long; the limit is 3 seconds"
    ):
        media.read_audio(speech_wav, limits=media.Limits(max_duration=3))


def test_it_stops_decoding_where_the_header_said_nothing(tmp_path: Path) -> None:
    # A live Matroska stream carries no duration and no frame count in its header: only the
    # decoder can find out it is too long, and it must stop there.
    path = tmp_path / "live.mkv"
    with av.open(str(path), "w", format="matroska", options={"live": "1"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(1000):  # 40 s
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    limits = media.Limits(max_duration=30)
    info = media.probe_video(path, limits=limits)  # the header alone looks acceptable
    assert info.video is not None and info.video.duration < 30

    decoded = 0
    with pytest.raises(MediaError, match="longer than"):
        for _ in media.iter_frames(path, limits=limits):
            decoded += 1
    assert 700 <= decoded <= 752


def test_it_stops_decoding_at_the_frame_limit(tmp_path: Path) -> None:
    # Longer than the few hundred frames probe samples, so only decoding can count them.
    path = tmp_path / "live.webm"
    with av.open(str(path), "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libvpx", rate=25)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(700):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))

    frames: list[np.ndarray] = []
    with pytest.raises(MediaError, match="more than 650 frames"):
        frames.extend(media.iter_frames(path, limits=media.Limits(max_frames=650)))
    assert len(frames) == 650


# --- decoding ------------------------------------------------------------------------------


def test_it_decodes_every_frame_of_a_cfr_video_in_order(make_video: VideoFactory) -> None:
    path = make_video("cfr.mp4", 19)

    frames, fps = media.read_frames(path)

    assert fps == 25.0
    assert [frame_index(f) for f in frames] == list(range(19))
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_it_decodes_the_face_fixture_frame_for_frame(face_mp4: Path) -> None:
    frames = list(media.iter_frames(face_mp4))

    assert len(frames) == 75
    # Every frame is a real, distinct picture of the moving face (no duplicates, no blanks).
    assert all(f.std() > 30 for f in frames)
    assert min(np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(frames)) > 0.1


@pytest.mark.parametrize(("fps", "count"), [(50.0, 150), (10.0, 30), (30000 / 1001, 90)])
def test_it_resamples_to_any_constant_rate(face_mp4: Path, fps: float, count: int) -> None:
    frames, used = media.read_frames(face_mp4, fps=fps)

    assert used == fps
    assert len(frames) == count


def test_it_evens_out_a_variable_frame_rate(make_video: VideoFactory) -> None:
    # Frame durations of a phone that stutters: 19 to 71 ms. Odd milliseconds keep every
    # midpoint between two frames off the 40 ms grid, so "nearest frame" has no ties.
    durations = [0.021, 0.069, 0.031, 0.051, 0.039, 0.061, 0.023, 0.029, 0.071, 0.049, 0.041, 0.019]
    durations *= 2
    times = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    path = make_video("vfr.mp4", len(times), times=list(times))

    info = media.probe_video(path)
    frames, fps = media.read_frames(path, fps=25)

    assert info.video is not None and info.video.variable_fps
    # The muxer chooses how long the last frame lasts; the stream's duration says where it ends.
    assert times[-1] < info.video.duration <= times[-1] + 0.07
    assert len(frames) == round(info.video.duration * 25)
    # Output frame k shows the source frame nearest to k/25 s.
    expected = [int(np.argmin(np.abs(times - k / 25))) % 19 for k in range(len(frames))]
    assert [frame_index(f) for f in frames] == expected
    assert fps == 25


def test_it_calls_a_steady_video_constant_rate(face_mp4: Path) -> None:
    info = media.probe_video(face_mp4)
    assert info.video is not None and not info.video.variable_fps


def test_it_reads_a_single_frame_video(make_video: VideoFactory) -> None:
    path = make_video("still.mp4", 1)

    info = media.probe_video(path)
    frames, _ = media.read_frames(path)

    assert info.video is not None and info.video.frame_count == 1
    assert len(frames) == 1 and frame_index(frames[0]) == 0


def _marked(width: int, height: int) -> np.ndarray:
    """Black frame, white square in the top-left corner."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:16, :16] = 255
    return frame


def _corner_of_white(frame: np.ndarray) -> str:
    h, w = frame.shape[:2]
    y, x = np.argwhere(frame.mean(axis=2) > 128).mean(axis=0)
    return ("top" if y < h / 2 else "bottom") + "-" + ("left" if x < w / 2 else "right")


@pytest.mark.parametrize(
    ("ffmpeg_angle", "clockwise", "corner"),
    [
        (-90, 90, "top-right"),
        (90, 270, "bottom-left"),
        (180, 180, "bottom-right"),
        (0, 0, "top-left"),
    ],
)
def test_it_turns_phone_video_upright(
    make_video: VideoFactory, ffmpeg_angle: int, clockwise: int, corner: str
) -> None:
    # A portrait phone clip is stored landscape with a display matrix, as written here.
    path = make_video("phone.mp4", [_marked(96, 64)] * 5, rotation=ffmpeg_angle)

    info = media.probe_video(path)
    frames, _ = media.read_frames(path)

    assert info.video is not None and info.video.rotation == clockwise
    portrait = clockwise in (90, 270)
    assert (info.video.width, info.video.height) == ((64, 96) if portrait else (96, 64))
    assert frames[0].shape == ((96, 64, 3) if portrait else (64, 96, 3))
    assert _corner_of_white(frames[0]) == corner


def test_apply_rotation_turns_clockwise() -> None:
    frame = _marked(40, 20)

    assert _corner_of_white(media.apply_rotation(frame, 90)) == "top-right"
    assert media.apply_rotation(frame, 90).shape == (40, 20, 3)
    assert _corner_of_white(media.apply_rotation(frame, 270)) == "bottom-left"
    assert media.apply_rotation(frame, 0) is frame


@pytest.mark.parametrize(
    ("probed", "expected"),
    [(25.0, 25.0), (29.97, 30000 / 1001), (29.6, 30.0), (12.4, 12.0), (0.0, 25.0)],
)
def test_default_fps_snaps_to_broadcast_rates(probed: float, expected: float) -> None:
    assert media.default_fps(probed) == pytest.approx(expected)


# --- audio ---------------------------------------------------------------------------------


def test_it_reads_speech_as_16k_mono_float(speech_wav: Path) -> None:
    samples = media.read_audio(speech_wav)

    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size == 76782
    assert 0.5 < np.abs(samples).max() <= 1.0
    assert np.abs(samples[:4000]).max() < 0.01  # the fixture starts with 0.3 s of silence


def test_it_resamples_and_downmixes(make_wav) -> None:
    left = tone(2.0, 440, rate=44100, amp=0.4)
    path = make_wav("stereo.wav", np.stack([left, np.zeros_like(left)]), rate=44100)

    samples = media.read_audio(path, sample_rate=16000)

    assert abs(samples.size - 32000) <= 2
    assert 0.1 < np.abs(samples[1000:-1000]).max() < 0.45


def test_silent_audio_is_valid(make_wav) -> None:
    path = make_wav("silence.wav", np.zeros(16000))

    samples = media.read_audio(path)

    assert samples.size == 16000 and not samples.any()


def test_zero_length_audio_is_an_error(make_wav) -> None:
    path = make_wav("nothing.wav", np.zeros(0))

    with pytest.raises(MediaError, match="empty"):
        media.read_audio(path)


# --- writing -------------------------------------------------------------------------------


def test_written_frames_equal_frames_read_back(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with media.VideoWriter(out, width=64, height=48, fps=25, crf=12) as writer:
        for i in range(37):
            writer.write(index_frame(i, 64, 48))

    frames, fps = media.read_frames(out)

    assert writer.frames_written == 37
    assert fps == 25
    assert [frame_index(f) for f in frames] == [i % 19 for i in range(37)]
    info = media.probe_video(out)
    assert info.video is not None
    assert (info.video.codec, info.video.pix_fmt) == ("h264", "yuv420p")


def test_it_pads_odd_sizes_to_even(tmp_path: Path, face_mp4: Path) -> None:
    face = media.read_frames(face_mp4)[0][0]
    frame = cv2.resize(face, (721, 541), interpolation=cv2.INTER_CUBIC)
    out = tmp_path / "odd.mp4"
    with media.VideoWriter(out, width=721, height=541, fps=25, crf=10) as writer:
        for _ in range(3):
            writer.write(frame)

    frames, _ = media.read_frames(out)

    assert len(frames) == 3
    assert frames[0].shape == (542, 722, 3)
    error = np.abs(frames[0][:541, :721].astype(int) - frame).mean()
    assert error < 3.0
    # The padding repeats the edge, so no black line appears at the border.
    assert np.abs(frames[0][541].astype(int) - frames[0][540]).mean() < 3.0


def _top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def _av_sync_offset(path: Path) -> tuple[float, float, float]:
    """(first audio time, flash time, click time) as a player would see them."""
    with av.open(str(path)) as container:
        flash = next(
            f.time for f in container.decode(video=0) if f.to_ndarray(format="rgb24").mean() > 128
        )
    with av.open(str(path)) as container:
        first_time = None
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray().reshape(-1)
            if first_time is None:
                first_time = frame.time
            loud = np.flatnonzero(np.abs(samples) > 0.1)
            if loud.size:
                return first_time, flash, frame.time + loud[0] / frame.sample_rate
    raise AssertionError("no click found in the audio")


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_audio_starts_with_the_video_despite_aac_priming(tmp_path: Path, fps: float) -> None:
    # A white flash at 1 s and a click at 1 s: a player must show them together. AAC adds
    # 1024 samples (64 ms at 16 kHz, 1.6 frames) of priming that the MP4 must hide.
    rate = 16000
    audio = np.zeros(3 * rate, np.float32)
    audio[rate : rate + 320] = tone(0.02, 1000, amp=0.8)
    flash_frame = round(1.0 * fps)
    out = tmp_path / "sync.mp4"
    with media.VideoWriter(
        out, width=64, height=48, fps=fps, audio=audio, audio_rate=rate
    ) as writer:
        for i in range(round(3 * fps)):
            level = 255 if i == flash_frame else 0
            writer.write(np.full((48, 64, 3), level, np.uint8))

    first_audio, flash, click = _av_sync_offset(out)

    assert abs(first_audio) < 1 / fps
    assert flash == pytest.approx(flash_frame / fps, abs=1e-3)
    assert abs(click - 1.0) < 0.005  # the click is where we put it, not 64 ms late
    assert abs(click - flash) < 1 / fps
    with av.open(str(out)) as container:
        first_packet = next(p for p in container.demux(audio=0) if p.pts is not None)
        # The priming is there, timed before zero, so decoders skip it (an edit list).
        assert first_packet.pts * first_packet.time_base == pytest.approx(-1024 / rate)


def test_it_writes_faststart_mp4_with_aac(tmp_path: Path, speech_wav: Path) -> None:
    audio = media.read_audio(speech_wav)
    out = tmp_path / "talk.mp4"
    with media.VideoWriter(out, width=32, height=32, fps=25, audio=audio) as writer:
        for _ in range(50):  # 2 s of video: the audio is cut to match
            writer.write(np.zeros((32, 32, 3), np.uint8))

    boxes = _top_level_boxes(out)
    info = media.probe(out)

    assert boxes.index("moov") < boxes.index("mdat")
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.audio.duration == pytest.approx(2.0, abs=0.07)
    decoded = media.read_audio(out)
    assert abs(decoded.size - 32000) < 1100
    # The decoded speech lines up with the source (AAC is lossy, so compare loosely).
    corr = np.corrcoef(decoded[:30000], audio[:30000])[0, 1]
    assert corr > 0.9


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "renders" / "broken.mp4"
    with (
        pytest.raises(RuntimeError, match="engine exploded"),
        media.VideoWriter(out, width=32, height=32, fps=25) as writer,
    ):
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("engine exploded")

    assert list(out.parent.iterdir()) == []


def test_the_caller_may_reuse_its_frame_buffer_while_frames_wait_to_be_encoded(
    tmp_path: Path,
) -> None:
    # Encoding runs in its own thread behind a queue: a frame handed to write() must be the
    # frame encoded even when the caller overwrites the same array for the next one.
    out = tmp_path / "reused.mp4"
    buffer = np.zeros((48, 64, 3), np.uint8)
    with media.VideoWriter(out, width=64, height=48, fps=25, crf=12) as writer:
        for i in range(30):
            buffer[:] = index_frame(i, 64, 48)
            writer.write(buffer)

    frames, _ = media.read_frames(out)

    assert [frame_index(f) for f in frames] == [i % 19 for i in range(30)]


def test_an_encoder_failure_is_raised_to_the_caller_and_leaves_no_file(tmp_path: Path) -> None:
    class FailingStream:
        """The real video stream, whose encoder fails at the fifth frame (a full disk, say)."""

        def __init__(self, stream: object) -> None:
            self.stream = stream
            self.calls = 0

        def encode(self, frame: object) -> object:
            self.calls += 1
            if self.calls == 5:
                raise OSError(28, "No space left on device")
            return self.stream.encode(frame)  # type: ignore[attr-defined]

    out = tmp_path / "renders" / "failing.mp4"
    with (
        pytest.raises(OSError, match="No space left"),
        media.VideoWriter(out, width=32, height=32, fps=25) as writer,
    ):
        failing = FailingStream(writer._video)
        writer._video = failing
        for _ in range(200):
            writer.write(np.zeros((32, 32, 3), np.uint8))

    assert failing.calls == 5  # the writer stopped feeding a dead encoder
    assert writer.frames_written < 200
    assert list(out.parent.iterdir()) == []


def test_a_frame_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "renders" / "wrong.mp4"
    with (
        pytest.raises(ValueError, match="expected"),
        media.VideoWriter(out, width=32, height=32, fps=25) as writer,
    ):
        writer.write(np.zeros((30, 32, 3), np.uint8))

    assert list(out.parent.iterdir()) == []


def test_transcode_makes_an_upright_cfr_mp4_with_sound(
    tmp_path: Path, make_video: VideoFactory
) -> None:
    times = [0.0, 0.03, 0.1, 0.12, 0.2, 0.26, 0.3, 0.41, 0.45, 0.5]
    audio = tone(0.55, 300, amp=0.3)
    src = make_video("phone.mp4", [_marked(96, 64)] * 10, times=times, rotation=-90, audio=audio)
    dst = tmp_path / "clean.mp4"

    media.transcode(src, dst, fps=20)

    info = media.probe_video(dst)
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height, info.video.rotation) == (64, 96, 0)
    assert not info.video.variable_fps and info.video.fps == 20
    frames, _ = media.read_frames(dst)
    assert len(frames) == round(0.55 * 20)
    assert _corner_of_white(frames[0]) == "top-right"


def test_write_thumbnail_picks_a_frame_a_third_in(tmp_path: Path, make_video: VideoFactory) -> None:
    path = make_video("clip.mp4", 15, fps=5, size=(640, 360))  # 3 s: a third in is frame 5
    out = tmp_path / "thumb.jpg"

    media.write_thumbnail(path, out, size=320)

    image = cv2.imread(str(out))
    assert image.shape == (180, 320, 3)
    assert frame_index(image) == 5


def test_file_sha256_matches_hashlib(speech_wav: Path) -> None:
    assert media.file_sha256(speech_wav) == hashlib.sha256(speech_wav.read_bytes()).hexdigest()
