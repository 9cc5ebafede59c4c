"""Join separately rendered segments of one video, frame-exactly, under one continuous sound.

A long video is rendered as segments (``Engine.render(frame_range=...)``): each one a
silent H.264 MP4 that starts on a keyframe. Joining them copies their packets one after
another (no re-encoding, so every frame is exactly what its segment holds), shifting each
segment's timestamps by the frames before it, and encodes the ORIGINAL sound once over the
whole, so nothing in the audio can tell where one segment ended. When the segments were
encoded differently (their H.264 parameter sets differ, as after a setting change between
attempts) the packets cannot share one stream, and the frames are re-encoded instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from rendering.errors import MediaError
from rendering.media.decode import iter_frames
from rendering.media.encode import VideoWriter, _rate_fraction
from rendering.media.probe import _VIDEO_HINT, _open, _video_stream

__all__ = ["JoinResult", "join_segments"]


@dataclass(frozen=True)
class JoinResult:
    """The joined file: frames and seconds it holds, whether the frames had to be re-encoded,
    and how long the join took."""

    path: Path
    frames: int
    duration: float
    reencoded: bool
    seconds: float


def _signature(stream: Any) -> tuple[Any, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height, ctx.pix_fmt, bytes(ctx.extradata or b""))


class _Audio:
    """The whole sound, encoded as AAC as the video advances (so the file is interleaved)."""

    def __init__(self, container: Any, samples: np.ndarray | None, rate: int) -> None:
        self.container = container
        self.rate = rate
        self.done = 0
        self.samples: np.ndarray | None = None
        self.stream: Any = None
        if samples is None or not np.asarray(samples).size:
            return
        shaped = np.asarray(samples, dtype=np.float32)
        self.samples = shaped.reshape(len(shaped), -1) if shaped.ndim > 1 else shaped[:, None]
        stereo = self.samples.shape[1] == 2
        self.layout = "stereo" if stereo else "mono"
        self.stream = container.add_stream("aac", rate=rate, layout=self.layout)
        self.stream.bit_rate = 192000 if stereo else 128000

    def until(self, seconds: Fraction | float) -> None:
        if self.samples is None:
            return
        end = min(len(self.samples), int(seconds * self.rate))
        while self.done < end:
            stop = min(end, self.done + 4096)
            piece = self.samples[self.done : stop].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(piece), format="flt", layout=self.layout
            )
            frame.sample_rate = self.rate
            frame.pts = self.done
            frame.time_base = Fraction(1, self.rate)
            self.container.mux(self.stream.encode(frame))
            self.done = stop

    def flush(self) -> None:
        if self.stream is not None:
            self.container.mux(self.stream.encode(None))


def join_segments(
    segments: Sequence[str | Path],
    out_path: str | Path,
    *,
    fps: float,
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
    crf: int = 18,
    preset: str = "veryfast",
) -> JoinResult:
    """Write ``out_path``: the segments' frames in order, then ``audio`` (float32 samples,
    (n,) or (n, channels), at ``audio_rate``) over the whole, trimmed to the video.

    1. Open every segment and compare their H.264 parameter sets (and sizes).
    2. Equal: copy each segment's packets, timestamps shifted by the frames before it,
       encoding the sound up to each packet's time. Different: decode and re-encode.
    3. Publish the file only once it is complete (a hidden partial name, then a rename).
    """
    started = time.perf_counter()
    paths = [Path(p) for p in segments]
    if not paths:
        raise ValueError("join_segments needs at least one segment")
    out = Path(out_path)
    partial = out.with_name(f".{out.stem}.joining{out.suffix}")
    opened = [_open(p, hint=_VIDEO_HINT) for p in paths]
    try:
        streams = [_video_stream(c) for c in opened]
        same = all(_signature(s) == _signature(streams[0]) for s in streams)
        if same:
            frames = _copy(opened, streams, partial, fps=fps, audio=audio, audio_rate=audio_rate)
        else:
            frames = _reencode(paths, streams[0], partial, fps, audio, audio_rate, crf, preset)
        os.replace(partial, out)
    finally:
        for container in opened:
            container.close()
        partial.unlink(missing_ok=True)
    return JoinResult(
        path=out,
        frames=frames,
        duration=frames / fps,
        reencoded=not same,
        seconds=time.perf_counter() - started,
    )


def _copy(
    opened: list[Any],
    streams: list[Any],
    partial: Path,
    *,
    fps: float,
    audio: np.ndarray | None,
    audio_rate: int,
) -> int:
    rate = _rate_fraction(fps)
    container = av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"})
    try:
        video = container.add_stream_from_template(streams[0])
        sound = _Audio(container, audio, audio_rate)
        frames = 0
        for source, stream in zip(opened, streams, strict=True):
            base = Fraction(frames) / rate  # seconds before this segment
            tb = stream.time_base
            shift = round(base / tb)
            count = 0
            for packet in source.demux(stream):
                if packet.size == 0 or packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                end = base + Fraction(packet.pts + (packet.duration or 0)) * tb
                packet.pts += shift
                packet.dts += shift
                packet.stream = video
                container.mux(packet)
                count += 1
                sound.until(min(end, Fraction(frames + count) / rate))
            if count == 0:
                raise MediaError(
                    "A segment of this video holds no picture, so it cannot be joined. "
                    "Retry the video.",
                    code="segment_empty",
                )
            frames += count
        sound.until(Fraction(frames) / rate)
        sound.flush()
    finally:
        container.close()
    return frames


def _reencode(
    paths: list[Path],
    first: Any,
    partial: Path,
    fps: float,
    audio: np.ndarray | None,
    audio_rate: int,
    crf: int,
    preset: str,
) -> int:
    with VideoWriter(
        partial,
        width=first.codec_context.width,
        height=first.codec_context.height,
        fps=fps,
        crf=crf,
        preset=preset,
        audio=audio,
        audio_rate=audio_rate,
    ) as writer:
        for path in paths:
            for frame in iter_frames(path, fps=fps):
                writer.write(frame)
    return writer.frames_written
