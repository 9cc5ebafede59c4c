"""Probe a media file before anything is decoded: only local files, only the demuxers of the
formats we accept, size, duration and frame rate checked from the header (see the package
docstring)."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from rendering.cache import file_sha256  # re-exported: rendering.media.file_sha256 is public
from rendering.errors import MediaError

__all__ = [
    "DEFAULT_LIMITS",
    "AudioInfo",
    "Limits",
    "MediaInfo",
    "VideoInfo",
    "default_fps",
    "file_sha256",
    "probe",
    "probe_audio",
    "probe_video",
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
_VIDEO_HINT = "Upload an MP4, MOV, WebM, MKV or AVI file."
_AUDIO_HINT = "Upload a WAV, MP3, M4A, FLAC or OGG file."
_ANY_HINT = (
    "Upload an MP4, MOV, WebM, MKV or AVI video, or a WAV, MP3, M4A, FLAC or OGG audio file."
)
# What a hint asks for, as an error parameter (an application words the hint in its own language).
_HINT_KIND = {_VIDEO_HINT: "video", _AUDIO_HINT: "audio", _ANY_HINT: "any"}
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
                code="format_not_accepted",
                params={"hint": _HINT_KIND.get(hint, "any")},
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
            f"This file is not a video we can read (it is an audio-only format). {_VIDEO_HINT}",
            code="audio_only",
        )
    if info.video is None:
        raise MediaError(
            f"This file is not a video we can read (no video stream found). {_VIDEO_HINT}",
            code="no_video_stream",
        )
    return info


def probe_audio(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaInfo:
    """Like :func:`probe`, but the file must carry sound (a video's audio track counts)."""
    info = _probe(path, limits, hint=_AUDIO_HINT)
    if info.audio is None:
        raise MediaError(
            f"This file has no sound we can use (no audio track found). {_AUDIO_HINT}",
            code="no_audio_stream",
        )
    if info.audio.duration <= 0.0:
        raise MediaError(
            f"This audio file is empty (it lasts 0 seconds). {_AUDIO_HINT}", code="audio_empty"
        )
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
        raise MediaError(
            "We can only read files stored on this server, not links.",
            detail=text,
            code="not_local",
        )
    local = Path(text).absolute()
    try:
        mode = local.stat().st_mode
    except OSError as exc:
        raise MediaError(
            "We could not find this file. Upload it again.", detail=str(exc), code="file_missing"
        ) from exc
    if not stat.S_ISREG(mode):
        raise MediaError(
            "This is not a file we can read. Upload it again.", detail=text, code="not_a_file"
        )
    if local.stat().st_size == 0:
        raise MediaError(
            "This file is empty (0 bytes). Upload it again.", detail=text, code="file_empty"
        )
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
            code="unreadable",
            params={"hint": _HINT_KIND.get(hint, "any")},
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
            f"This file is not a video we can read (its picture size is missing). {_VIDEO_HINT}",
            code="no_picture_size",
        )
    if width * height > limits.max_pixels:
        raise MediaError(
            f"This video is {width}x{height} pixels; the limit is "
            f"{limits.max_pixels / 1e6:.1f} million pixels (3840x2160 is 8.3 million). "
            "Export it at a smaller size and upload it again.",
            code="too_many_pixels",
            params={
                "width": width,
                "height": height,
                "max_megapixels": round(limits.max_pixels / 1e6, 1),
            },
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
            f"{limits.max_fps:.0f}. Export it at 30 or 60 frames per second.",
            code="fps_too_high",
            params={"fps": round(fps), "max_fps": round(limits.max_fps)},
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
            "Upload a shorter clip.",
            code="too_many_frames",
            params={"frames": frame_count, "max_frames": limits.max_frames},
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
            f"{_human_duration(limits.max_duration)}. Trim it and upload it again.",
            code="too_long",
            params={"kind": what, "seconds": round(seconds, 1), "max_seconds": limits.max_duration},
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
            code="video_damaged",
        ) from exc
    raise MediaError(f"This video has no picture we can decode. {_VIDEO_HINT}", code="no_picture")


def _clockwise_rotation(frame: Any) -> int:
    # frame.rotation is FFmpeg's counter-clockwise display-matrix angle in [-180, 180].
    ccw = round(float(getattr(frame, "rotation", 0) or 0) / 90.0) * 90
    return (-ccw) % 360
