"""Decode frames and audio, bounded by the limits whatever the header claimed: RGB (or I420)
frames with the rotation applied, resampled to a constant frame rate; mono float32 audio."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np

from rendering.errors import MediaError
from rendering.media.pixels import _convert, rotate_i420
from rendering.media.probe import (
    _AUDIO_HINT,
    _VIDEO_HINT,
    DEFAULT_LIMITS,
    Limits,
    VideoInfo,
    _check_duration,
    _human_duration,
    _open,
    _video_stream,
    default_fps,
    probe_audio,
    probe_video,
)

__all__ = ["apply_rotation", "iter_frames", "read_audio", "read_frames"]


def apply_rotation(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a stored frame the way a player shows it (``rotation``: clockwise degrees)."""
    turns = (rotation // 90) % 4
    if turns == 0:
        return frame
    # np.rot90 turns counter-clockwise, so a clockwise turn is a negative k.
    return np.ascontiguousarray(np.rot90(frame, k=-turns))


# --- decoding ------------------------------------------------------------------------------


def iter_frames(
    path: str | Path,
    *,
    fps: float | None = None,
    limits: Limits = DEFAULT_LIMITS,
    i420: bool = False,
) -> Iterator[np.ndarray]:
    """RGB frames at a constant ``fps`` (default :func:`default_fps` of the probed rate).

    ``i420``: packed yuv420p pictures instead (``rendering.media.pixels``), what the encoder
    takes without a colour conversion; the video's width and height must be even.

    Output frame ``k`` shows the decoded frame nearest to ``k / fps`` (timestamps relative to
    the first frame), so VFR input is evened out by dropping or repeating frames and CFR
    input at the same rate comes out frame for frame. Decoding stops with a MediaError once
    it passes the limits, whatever the header said.
    """
    info = probe_video(path, limits=limits)
    assert info.video is not None  # probe_video guarantees it
    out_fps = _output_fps(info.video, fps)
    if i420 and (info.video.width % 2 or info.video.height % 2):
        raise ValueError(
            f"I420 needs an even size, this video is {info.video.width}x{info.video.height}"
        )
    return _resampled_frames(Path(info.path), info.video, out_fps, limits, i420=i420)


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
    path: Path, video: VideoInfo, out_fps: float, limits: Limits, *, i420: bool = False
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
                    image = _picture(held, video.rotation, i420)
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
            raise MediaError(
                f"This video has no picture we can decode. {_VIDEO_HINT}", code="no_picture"
            )
        if held.duration and held.time_base:
            last_duration = float(held.duration * held.time_base)
        end = held_time + last_duration
        total = max(1, round(end * out_fps))
        yield from emit_until(total / out_fps)
    finally:
        container.close()


def _picture(frame: Any, rotation: int, i420: bool) -> np.ndarray:
    """A decoded frame as an upright array: I420 (yuv420p: a copy of the planes, or
    swscale's conversion from another layout or range) or RGB."""
    if i420:
        if frame.format.name == "yuv420p":
            return rotate_i420(np.asarray(frame.to_ndarray()), rotation)
        return rotate_i420(_convert(frame, "yuv420p"), rotation)
    return apply_rotation(_convert(frame, "rgb24"), rotation)


def _decode(container: Any, stream: Any) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise MediaError(
            f"This video is damaged or incomplete: decoding stopped part-way. {_VIDEO_HINT}",
            detail=str(exc),
            code="video_damaged",
        ) from exc


def _too_long(limits: Limits, emitted: int, fps: float) -> None:
    if limits.max_frames is not None and emitted >= limits.max_frames:
        raise MediaError(
            f"This video has more than {limits.max_frames} frames; the limit is "
            f"{limits.max_frames}. Upload a shorter clip.",
            code="too_many_frames",
            params={"frames": limits.max_frames + 1, "max_frames": limits.max_frames},
        )
    raise MediaError(
        f"This video is longer than its header says, and longer than the limit of "
        f"{_human_duration(limits.max_duration)}. Trim it and upload it again.",
        code="too_long",
        params={"kind": "video", "seconds": None, "max_seconds": limits.max_duration},
    )


def read_audio(
    path: str | Path, *, sample_rate: int = 16000, limits: Limits = DEFAULT_LIMITS
) -> np.ndarray:
    """The first audio track as float32 mono in [-1, 1] at ``sample_rate``: for analysis.

    Raises MediaError for a file with no audio, no samples (zero length) or more sound than
    the duration limit; silence is valid audio.
    """
    samples = _decode_audio(path, rate=sample_rate, layout="mono", limits=limits)
    return samples.reshape(-1)


# AAC in MP4 plays everywhere at these rates; anything else is resampled to the nearest.
_AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def read_audio_as_uploaded(
    path: str | Path, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[np.ndarray, int]:
    """The first audio track as the upload has it, for the output's sound: ``(samples, rate)``.

    ``samples`` is float32 in [-1, 1], shaped (n, channels): the upload's own sample rate
    (one AAC supports everywhere: 96 kHz becomes 48 kHz) and channels (mono stays mono;
    stereo stays stereo; more channels are mixed down to stereo). Analysis works on a
    16 kHz mono copy; muxing that copy into the result made voices sound muffled.
    """
    info = probe_audio(path, limits=limits)
    assert info.audio is not None
    native = info.audio.sample_rate or 48000
    rate = min(_AAC_RATES, key=lambda r: (abs(r - native), -r))
    layout = "mono" if info.audio.channels == 1 else "stereo"
    return _decode_audio(path, rate=rate, layout=layout, limits=limits), rate


def _decode_audio(path: str | Path, *, rate: int, layout: str, limits: Limits) -> np.ndarray:
    info = probe_audio(path, limits=limits)
    channels = 1 if layout == "mono" else 2
    max_samples = math.ceil((limits.max_duration + 1.0) * rate)
    # Packed float ("flt"): one row of interleaved samples per frame, whatever the layout.
    resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
    pieces: list[np.ndarray] = []
    total = 0
    container = _open(Path(info.path), hint=_AUDIO_HINT)
    try:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    piece = out.to_ndarray().reshape(-1, channels)
                    pieces.append(piece)
                    total += len(piece)
                if total > max_samples:
                    _check_duration(total / rate, limits, what="audio")
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1, channels))
        except av.FFmpegError as exc:
            raise MediaError(
                f"This audio is damaged or incomplete: decoding stopped part-way. {_AUDIO_HINT}",
                detail=str(exc),
                code="audio_damaged",
            ) from exc
    finally:
        container.close()
    samples = np.concatenate(pieces) if pieces else np.zeros((0, channels), dtype=np.float32)
    if samples.size == 0:
        raise MediaError(
            f"This audio file is empty (it has no sound in it). {_AUDIO_HINT}", code="audio_empty"
        )
    return np.clip(samples.astype(np.float32, copy=False), -1.0, 1.0)


# --- encoding ------------------------------------------------------------------------------
