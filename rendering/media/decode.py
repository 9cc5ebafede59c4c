"""Reading and writing audio and video with PyAV (FFmpeg's libraries; no ffmpeg binary).

Everything that opens a user's file goes through :func:`probe` first, which

- opens only regular local files through FFmpeg's ``file`` protocol, and only with the
  demuxers of the formats we accept, so an HLS playlist or a concat script renamed ``.mp4``
  cannot make FFmpeg open other files or URLs;
- checks size, duration and frame rate from the header *before* anything is decoded;
- turns every failure into a :class:`MediaError` whose message a user can act on.

Decoding is bounded too (:func:`iter_frames`, :func:`read_audio` stop at the limits whatever
the header claimed). Frames come out as RGB ``uint8`` arrays (H x W x 3) with the phone's
rotation applied and resampled to a constant frame rate. :class:`VideoWriter` writes H.264
yuv420p + AAC MP4 with the index at the front (faststart) and the AAC priming hidden by an
edit list, so the audio starts with the first frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from rendering.errors import MediaError

__all__ = [
    "DEFAULT_LIMITS",
    "AudioInfo",
    "Limits",
    "MediaInfo",
    "VideoInfo",
    "VideoWriter",
    "apply_rotation",
    "default_fps",
    "file_sha256",
    "iter_frames",
    "probe",
    "probe_audio",
    "probe_video",
    "read_audio",
    "read_frames",
    "transcode",
    "write_thumbnail",
]


@dataclass(frozen=True)
class Limits:
    """What we agree to decode. Checked from the header first, then enforced while decoding."""

    max_pixels: int = 3840 * 2160
    max_duration: float = 600.0
    max_fps: float = 120.0
    max_frames: int | None = None


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int  # display size, after rotation
    height: int
    fps: float  # average rate over the file (for VFR: frames / duration)
    duration: float
    frame_count: int  # from the header or index; estimated from duration x fps when absent
    rotation: int  # clockwise degrees a player turns the stored picture: 0, 90, 180 or 270
    pix_fmt: str
    variable_fps: bool


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str  # FFmpeg's demuxer: "mov" (MP4/MOV/M4A), "matroska" (MKV/WebM), "wav", ...
    duration: float
    video: VideoInfo | None
    audio: AudioInfo | None
    size_bytes: int


# FFmpeg demuxer names. The mov demuxer reads MP4, MOV, M4V and M4A; matroska reads WebM too.
_VIDEO_DEMUXERS = frozenset({"mov", "matroska", "avi"})
_AUDIO_DEMUXERS = frozenset({"wav", "mp3", "aac", "flac", "ogg"}) | _VIDEO_DEMUXERS
_CONTAINER_OPTIONS = {
    # Nested opens (playlists, references, subtitles) may only use local files...
    "protocol_whitelist": "file",
    # ...and FFmpeg may only pick one of our demuxers, whatever the extension says.
    "format_whitelist": ",".join(sorted(_AUDIO_DEMUXERS)),
}
_VIDEO_HINT = "Upload an MP4, MOV or WebM file."
_AUDIO_HINT = "Upload a WAV, MP3, M4A, FLAC or OGG file."
_ANY_HINT = "Upload an MP4, MOV or WebM video, or a WAV, MP3 or M4A audio file."
# How many packets we read to find the first frame (H.264 may hold a few back for reordering).
_FIRST_FRAME_PACKETS = 256
# How many timestamps we look at to tell variable frame rate from constant.
_VFR_SAMPLE = 600
_STANDARD_RATES = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
    Fraction(90),
    Fraction(100),
    Fraction(120),
)


# --- probing -------------------------------------------------------------------------------


def probe(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaInfo:
    """Describe a local audio or video file, refusing what we will not decode."""
    return _probe(path, limits, hint=_ANY_HINT)


def _probe(path: str | Path, limits: Limits, *, hint: str) -> MediaInfo:
    """1. Check that the path names a regular local file (no URL, no device, no directory).
    2. Open it with the file protocol and our demuxers only.
    3. Read stream parameters from the header and check them against ``limits``.
    4. Decode the first video frame (rotation lives in its side data) when there is video.
    """
    local = _local_file(path)
    with _open(local, hint=hint) as container:
        demuxer = _demuxer(container)
        if demuxer is None:
            raise MediaError(
                f"This file is not a format we accept. {hint}",
                detail=f"demuxer {container.format.name!r}",
            )
        vstream = _video_stream(container)
        astream = container.streams.audio[0] if container.streams.audio else None
        duration = _container_duration(container)
        video = _video_info(container, vstream, duration, limits) if vstream is not None else None
        audio = _audio_info(astream, duration) if astream is not None else None
        if audio is not None:
            _check_duration(audio.duration, limits, what="audio")
        if duration is None:
            duration = max(
                video.duration if video else 0.0,
                audio.duration if audio else 0.0,
            )
        return MediaInfo(
            path=str(local),
            container=demuxer,
            duration=duration,
            video=video,
            audio=audio,
            size_bytes=local.stat().st_size,
        )


def probe_video(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaInfo:
    """Like :func:`probe`, but the file must be a video with at least one decodable frame."""
    info = _probe(path, limits, hint=_VIDEO_HINT)
    if info.container not in _VIDEO_DEMUXERS:
        raise MediaError(
            f"This file is not a video we can read (it is an audio-only format). {_VIDEO_HINT}"
        )
    if info.video is None:
        raise MediaError(
            f"This file is not a video we can read (no video stream found). {_VIDEO_HINT}"
        )
    return info


def probe_audio(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaInfo:
    """Like :func:`probe`, but the file must carry sound (a video's audio track counts)."""
    info = _probe(path, limits, hint=_AUDIO_HINT)
    if info.audio is None:
        raise MediaError(f"This file has no sound we can use (no audio track found). {_AUDIO_HINT}")
    if info.audio.duration <= 0.0:
        raise MediaError(f"This audio file is empty (it lasts 0 seconds). {_AUDIO_HINT}")
    return info


def default_fps(probed_fps: float) -> float:
    """The constant rate to decode a video at when the caller names none.

    29.97 (within 0.1 %) stays 30000/1001; otherwise the nearest whole broadcast rate within
    1.5 % wins (a VFR phone clip averaging 29.6 becomes 30); anything else is rounded to a
    whole number (at least 1).
    """
    if not math.isfinite(probed_fps) or probed_fps <= 0:
        return 25.0
    for rate in _STANDARD_RATES:
        tolerance = 0.001 if rate.denominator == 1001 else 0.015
        if rate.denominator == 1001 and abs(float(rate) - probed_fps) <= tolerance * float(rate):
            return float(rate)
    whole = [rate for rate in _STANDARD_RATES if rate.denominator == 1]
    nearest = min(whole, key=lambda rate: abs(float(rate) - probed_fps))
    if abs(float(nearest) - probed_fps) <= 0.015 * float(nearest):
        return float(nearest)
    return float(max(1, round(probed_fps)))


def _local_file(path: str | Path) -> Path:
    text = os.fspath(path)
    if "://" in text or text.startswith(("file:", "pipe:", "data:")):
        raise MediaError("We can only read files stored on this server, not links.", detail=text)
    local = Path(text).absolute()
    try:
        mode = local.stat().st_mode
    except OSError as exc:
        raise MediaError("We could not find this file. Upload it again.", detail=str(exc)) from exc
    if not stat.S_ISREG(mode):
        raise MediaError("This is not a file we can read. Upload it again.", detail=text)
    if local.stat().st_size == 0:
        raise MediaError("This file is empty (0 bytes). Upload it again.", detail=text)
    return local


def _open(local: Path, *, hint: str) -> Any:
    """Open for reading; the path is absolute, so FFmpeg cannot read a protocol prefix into it."""
    try:
        return av.open(str(local), "r", container_options=dict(_CONTAINER_OPTIONS))
    except av.FFmpegError as exc:
        raise MediaError(
            f"We could not read this file: it is damaged, incomplete or not a media file we "
            f"accept. {hint}",
            detail=f"{local.name}: {exc}",
        ) from exc


def _demuxer(container: Any) -> str | None:
    # The whitelist already refused other demuxers; this keeps the check visible and testable.
    for name in str(container.format.name).split(","):
        if name in _AUDIO_DEMUXERS:
            return name
    return None


def _video_stream(container: Any) -> Any:
    for stream in container.streams.video:
        # Cover art in MP3/M4A shows up as a one-picture "video" stream.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _container_duration(container: Any) -> float | None:
    if container.duration is None or container.duration <= 0:
        return None
    return float(container.duration) / av.time_base


def _stream_duration(stream: Any) -> float | None:
    if stream.duration is None or stream.time_base is None or stream.duration <= 0:
        return None
    return float(stream.duration * stream.time_base)


def _video_info(container: Any, stream: Any, duration: float | None, limits: Limits) -> VideoInfo:
    """Header facts, checked against the limits, plus the first frame's rotation."""
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise MediaError(
            f"This file is not a video we can read (its picture size is missing). {_VIDEO_HINT}"
        )
    if width * height > limits.max_pixels:
        raise MediaError(
            f"This video is {width}x{height} pixels; the limit is "
            f"{limits.max_pixels / 1e6:.1f} million pixels (3840x2160 is 8.3 million). "
            "Export it at a smaller size and upload it again."
        )
    timestamps = _video_timestamps(container, stream)
    seconds = _stream_duration(stream) or duration
    header_rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    variable = _is_variable(timestamps)
    if variable and len(timestamps) > 1 and seconds:
        fps = (len(timestamps) - 1) / (timestamps[-1] - timestamps[0])
    elif header_rate:
        fps = float(header_rate)
    elif len(timestamps) > 1:
        fps = (len(timestamps) - 1) / (timestamps[-1] - timestamps[0])
    else:
        fps = 0.0
    if fps > limits.max_fps:
        raise MediaError(
            f"This video runs at {fps:.0f} frames per second; the limit is "
            f"{limits.max_fps:.0f}. Export it at 30 or 60 frames per second."
        )
    if seconds is None and len(timestamps) > 1 and fps > 0:
        # No duration in the header (live MKV/WebM): the sampled frames are a lower bound.
        seconds = timestamps[-1] - timestamps[0] + 1.0 / fps
    if seconds is not None:
        _check_duration(seconds, limits, what="video")
    frame_count = int(stream.frames or 0)
    if frame_count <= 0 and seconds and fps:
        frame_count = max(1, round(seconds * fps))
    if limits.max_frames is not None and frame_count > limits.max_frames:
        raise MediaError(
            f"This video has {frame_count} frames; the limit is {limits.max_frames}. "
            "Upload a shorter clip."
        )
    first = _first_frame(container, stream)
    rotation = _clockwise_rotation(first)
    if fps <= 0:
        fps = 25.0  # a single picture: any rate shows it; 25 is what the fixtures and tests use
    if seconds is None:
        seconds = frame_count / fps if frame_count else 1.0 / fps
    display_w, display_h = (height, width) if rotation in (90, 270) else (width, height)
    return VideoInfo(
        codec=str(ctx.name),
        width=display_w,
        height=display_h,
        fps=float(fps),
        duration=float(seconds),
        frame_count=max(frame_count, 1),
        rotation=rotation,
        pix_fmt=str(ctx.pix_fmt or first.format.name),
        variable_fps=variable,
    )


def _audio_info(stream: Any, duration: float | None) -> AudioInfo:
    ctx = stream.codec_context
    seconds = _stream_duration(stream)
    if seconds is None:
        seconds = duration if duration is not None else 0.0
    return AudioInfo(
        codec=str(ctx.name),
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.layout.nb_channels) if ctx.layout else 0,
        duration=float(seconds),
    )


def _check_duration(seconds: float, limits: Limits, *, what: str) -> None:
    if seconds > limits.max_duration + 0.5:
        kind = "video" if what == "video" else "audio file"
        raise MediaError(
            f"This {kind} is {_human_duration(seconds)} long; the limit is "
            f"{_human_duration(limits.max_duration)}. Trim it and upload it again."
        )


def _human_duration(seconds: float) -> str:
    """'45 seconds', '4 minutes', '2 minutes 30 seconds', '1 hour 5 minutes'."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if value:
            parts.append(f"{value} {unit}{'' if value == 1 else 's'}")
    if hours:
        parts = parts[:2]  # nobody needs the seconds of a 3-hour upload
    return " ".join(parts) if parts else "0 seconds"


def _video_timestamps(container: Any, stream: Any) -> list[float]:
    """Sorted timestamps (s) of the first frames, from the index when there is one.

    MP4's index lists every frame without reading any data; for formats whose index holds
    only key frames we read (not decode) the first packets instead.
    """
    tb = stream.time_base
    entries = stream.index_entries
    if tb is None:
        return []
    raw: list[int] = []
    # Only an index that lists every frame (MP4, AVI) tells the frame rate; cues do not.
    if entries is not None and stream.frames and len(entries) >= stream.frames:
        raw = [entries[i].timestamp for i in range(min(len(entries), _VFR_SAMPLE))]
    else:
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    raw.append(packet.pts)
                if len(raw) >= _VFR_SAMPLE:
                    break
        except av.FFmpegError:
            pass  # a damaged tail is reported by the first-frame decode or while decoding
        container.seek(0)
    return [float(ts * tb) for ts in sorted(set(raw))]


def _is_variable(timestamps: list[float]) -> bool:
    if len(timestamps) < 3:
        return False
    deltas = np.diff(np.asarray(timestamps))
    median = float(np.median(deltas))
    if median <= 0:
        return True
    irregular = np.abs(deltas - median) > 0.1 * median
    return bool(irregular.mean() > 0.02)


def _first_frame(container: Any, stream: Any) -> Any:
    try:
        for count, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                return frame
            if count >= _FIRST_FRAME_PACKETS:
                break
    except av.FFmpegError as exc:
        raise MediaError(
            f"This video is damaged: we could not decode its first frame. {_VIDEO_HINT}",
            detail=str(exc),
        ) from exc
    raise MediaError(f"This video has no picture we can decode. {_VIDEO_HINT}")


def _clockwise_rotation(frame: Any) -> int:
    # frame.rotation is FFmpeg's counter-clockwise display-matrix angle in [-180, 180].
    ccw = round(float(getattr(frame, "rotation", 0) or 0) / 90.0) * 90
    return (-ccw) % 360


def apply_rotation(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored frame the way a player shows it (``rotation``: clockwise degrees)."""
    turns = (rotation // 90) % 4
    if turns == 0:
        return frame
    # np.rot90 turns counter-clockwise, so a clockwise turn is a negative k.
    return np.ascontiguousarray(np.rot90(frame, k=-turns))


# --- decoding ------------------------------------------------------------------------------


def iter_frames(
    path: str | Path, *, fps: float | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[np.ndarray]:
    """RGB frames at a constant ``fps`` (default :func:`default_fps` of the probed rate).

    Output frame ``k`` shows the decoded frame nearest to ``k / fps`` (timestamps relative to
    the first frame), so VFR input is evened out by dropping or repeating frames and CFR
    input at the same rate comes out frame for frame. Decoding stops with a MediaError once
    it passes the limits, whatever the header said.
    """
    info = probe_video(path, limits=limits)
    assert info.video is not None  # probe_video guarantees it
    out_fps = _output_fps(info.video, fps)
    return _resampled_frames(Path(info.path), info.video, out_fps, limits)


def read_frames(
    path: str | Path, *, fps: float | None = None, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[np.ndarray], float]:
    """All frames of :func:`iter_frames` in a list, with the rate they are at."""
    info = probe_video(path, limits=limits)
    assert info.video is not None
    out_fps = _output_fps(info.video, fps)
    return list(_resampled_frames(Path(info.path), info.video, out_fps, limits)), out_fps


def _output_fps(video: VideoInfo, fps: float | None) -> float:
    if fps is None:
        return default_fps(video.fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def _resampled_frames(
    path: Path, video: VideoInfo, out_fps: float, limits: Limits
) -> Iterator[np.ndarray]:
    """1. Decode in order, reading each frame's time from its timestamp.
    2. Emit the held frame for every output slot before the midpoint to the next frame.
    3. At the end, emit the last frame until the clip's end (last time + its duration).
    4. Stop with a MediaError past the duration, frame or decode-count limits.
    """
    max_out = math.ceil(limits.max_duration * out_fps) + 1
    if limits.max_frames is not None:
        max_out = min(max_out, limits.max_frames)
    # A lying header cannot keep us decoding: never more frames than the limits allow.
    max_decoded = math.ceil(limits.max_duration * limits.max_fps) + 16
    container = _open(path, hint=_VIDEO_HINT)
    try:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        emitted = 0
        held: Any = None
        held_time = 0.0
        start: float | None = None
        last_duration = 1.0 / video.fps if video.fps > 0 else 1.0 / out_fps

        def emit_until(boundary: float) -> Iterator[np.ndarray]:
            nonlocal emitted
            image: np.ndarray | None = None
            while emitted / out_fps < boundary - 1e-9:
                if emitted >= max_out:
                    _too_long(limits, emitted, out_fps)
                emitted += 1
                if image is None:
                    # Converted only when shown: frames dropped by resampling cost no RGB work.
                    image = apply_rotation(held.to_ndarray(format="rgb24"), video.rotation)
                    yield image
                else:
                    # A repeated frame gets its own pixels, so callers may edit frames in place.
                    yield image.copy()

        for decoded, frame in enumerate(_decode(container, stream), start=1):
            if decoded > max_decoded:
                _too_long(limits, emitted, out_fps)
            time = frame.time
            if time is None:
                time = (start or 0.0) + (decoded - 1) * last_duration
            if start is None:
                start = float(time)
            t = max(float(time) - start, held_time if held is not None else 0.0)
            if t > limits.max_duration + 1.0:
                _too_long(limits, emitted, out_fps)
            if held is not None:
                if t > held_time:
                    last_duration = t - held_time
                yield from emit_until((held_time + t) / 2.0)
            held, held_time = frame, t
        if held is None:
            raise MediaError(f"This video has no picture we can decode. {_VIDEO_HINT}")
        if held.duration and held.time_base:
            last_duration = float(held.duration * held.time_base)
        end = held_time + last_duration
        total = max(1, round(end * out_fps))
        yield from emit_until(total / out_fps)
    finally:
        container.close()


def _decode(container: Any, stream: Any) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise MediaError(
            f"This video is damaged or incomplete: decoding stopped part-way. {_VIDEO_HINT}",
            detail=str(exc),
        ) from exc


def _too_long(limits: Limits, emitted: int, fps: float) -> None:
    if limits.max_frames is not None and emitted >= limits.max_frames:
        raise MediaError(
            f"This video has more than {limits.max_frames} frames; the limit is "
            f"{limits.max_frames}. Upload a shorter clip."
        )
    raise MediaError(
        f"This video is longer than its header says, and longer than the limit of "
        f"{_human_duration(limits.max_duration)}. Trim it and upload it again."
    )


def read_audio(
    path: str | Path, *, sample_rate: int = 16000, limits: Limits = DEFAULT_LIMITS
) -> np.ndarray:
    """The first audio track as float32 mono in [-1, 1] at ``sample_rate``.

    Raises MediaError for a file with no audio, no samples (zero length) or more sound than
    the duration limit; silence is valid audio.
    """
    info = probe_audio(path, limits=limits)
    max_samples = math.ceil((limits.max_duration + 1.0) * sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pieces: list[np.ndarray] = []
    total = 0
    container = _open(Path(info.path), hint=_AUDIO_HINT)
    try:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    piece = out.to_ndarray().reshape(-1)
                    pieces.append(piece)
                    total += piece.size
                if total > max_samples:
                    _check_duration(total / sample_rate, limits, what="audio")
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            raise MediaError(
                f"This audio is damaged or incomplete: decoding stopped part-way. {_AUDIO_HINT}",
                detail=str(exc),
            ) from exc
    finally:
        container.close()
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if samples.size == 0:
        raise MediaError(f"This audio file is empty (it has no sound in it). {_AUDIO_HINT}")
    return np.clip(samples.astype(np.float32, copy=False), -1.0, 1.0)


# --- encoding ------------------------------------------------------------------------------


def _rate_fraction(fps: float) -> Fraction:
    """29.97 means 30000/1001 (what cameras record), not 2997/100."""
    for rate in _STANDARD_RATES:
        if abs(float(rate) - fps) < 0.005:
            return rate
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write RGB frames (and optionally one mono audio track) as an MP4 a browser plays.

    ``with VideoWriter(path, width=w, height=h, fps=25, audio=samples) as out: out.write(f)``

    - H.264 (libx264) yuv420p, ``crf``/``preset`` as given; AAC audio; ``+faststart``.
    - Odd sizes are padded to even by repeating the last row/column (yuv420p needs even).
    - Audio is encoded as frames arrive, so the file is interleaved, and trimmed to the
      video's length. FFmpeg's MP4 muxer writes an edit list for the AAC encoder's 1024
      samples of priming, so players (and PyAV) start the sound at the first frame.
    - The file is written beside ``path`` and renamed into place on success; if an
      exception escapes the ``with`` block the partial file is removed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float,
        crf: int = 20,
        preset: str = "veryfast",
        audio: np.ndarray | None = None,
        audio_rate: int = 16000,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self.audio = None if audio is None else np.asarray(audio, dtype=np.float32).reshape(-1)
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._rate = _rate_fraction(fps)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._container: Any = None
        self._video: Any = None
        self._audio_stream: Any = None
        self._audio_done = 0

    def __enter__(self) -> VideoWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(
            str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"}
        )
        video = self._container.add_stream("libx264", rate=self._rate)
        video.width = self.width + self.width % 2
        video.height = self.height + self.height % 2
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(self.crf), "preset": self.preset}
        self._video = video
        if self.audio is not None and self.audio.size:
            stream = self._container.add_stream("aac", rate=self.audio_rate, layout="mono")
            stream.bit_rate = 64000 if self.audio_rate <= 24000 else 128000
            self._audio_stream = stream
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame of the size given to the constructor."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write() outside its with block")
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(
                f"frame is {frame.shape}, expected {(self.height, self.width, 3)} (H, W, RGB)"
            )
        pad_h, pad_w = self.height % 2, self.width % 2
        if pad_h or pad_w:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        image = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24"
        )
        image.pts = self.frames_written
        image.time_base = 1 / self._rate
        self._container.mux(self._video.encode(image))
        self.frames_written += 1
        self._encode_audio_until(self.frames_written / self._rate)

    def _encode_audio_until(self, seconds: Fraction | float) -> None:
        if self._audio_stream is None or self.audio is None:
            return
        end = min(self.audio.size, int(seconds * self.audio_rate))
        chunk = 4096
        while self._audio_done < end:
            stop = min(end, self._audio_done + chunk)
            piece = self.audio[self._audio_done : stop].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(piece), format="flt", layout="mono"
            )
            frame.sample_rate = self.audio_rate
            frame.pts = self._audio_done
            frame.time_base = Fraction(1, self.audio_rate)
            self._container.mux(self._audio_stream.encode(frame))
            self._audio_done = stop

    def close(self) -> None:
        """Flush the encoders, finish the file and move it into place."""
        container = self._container
        if container is None:
            return
        self._encode_audio_until(self.frames_written / self._rate)
        container.mux(self._video.encode(None))
        if self._audio_stream is not None:
            container.mux(self._audio_stream.encode(None))
        self._container = None
        container.close()
        if self.frames_written == 0:
            self._tmp.unlink(missing_ok=True)
            raise ValueError("VideoWriter closed without any frame written")
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial output."""
        container, self._container = self._container, None
        if container is not None:
            # The file is being thrown away; a muxer complaint changes nothing.
            with contextlib.suppress(av.FFmpegError):
                container.close()
        self._tmp.unlink(missing_ok=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()
            raise


def transcode(
    src: str | Path,
    dst: str | Path,
    *,
    fps: float | None = None,
    crf: int = 20,
    preset: str = "veryfast",
) -> None:
    """Decode and re-encode a video (rotation applied, CFR, its audio kept): the benchmark floor."""
    info = probe_video(src)
    assert info.video is not None
    out_fps = _output_fps(info.video, fps)
    audio = read_audio(src, sample_rate=48000) if info.audio is not None else None
    with VideoWriter(
        dst,
        width=info.video.width,
        height=info.video.height,
        fps=out_fps,
        crf=crf,
        preset=preset,
        audio=audio,
        audio_rate=48000,
    ) as writer:
        for frame in iter_frames(src, fps=out_fps):
            writer.write(frame)


def write_thumbnail(video_path: str | Path, out_path: str | Path, *, size: int = 320) -> None:
    """A JPEG of the frame about a third of the way in, its longer side at most ``size`` px."""
    info = probe_video(video_path)
    assert info.video is not None
    target = info.video.duration / 3.0
    container = _open(Path(info.path), hint=_VIDEO_HINT)
    picked: Any = None
    try:
        stream = _video_stream(container)
        if stream.time_base is not None and target > 0:
            offset = int(target / stream.time_base) + (stream.start_time or 0)
            container.seek(offset, stream=stream, backward=True)
        for count, frame in enumerate(_decode(container, stream)):
            picked = frame
            if (frame.time is not None and frame.time >= target) or count > 10 * info.video.fps:
                break
    finally:
        container.close()
    if picked is None:
        raise MediaError(f"This video has no picture we can decode. {_VIDEO_HINT}")
    image = apply_rotation(picked.to_ndarray(format="rgb24"), info.video.rotation)
    height, width = image.shape[:2]
    scale = min(1.0, size / max(height, width))
    if scale < 1.0:
        new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    if not ok:
        raise MediaError("We could not make a preview picture of this video.")
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, out)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes: the cache key for anything derived from it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
