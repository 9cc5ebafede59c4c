"""Encode: H.264 + AAC MP4 a browser plays (:class:`VideoWriter`), re-encoding, thumbnails."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from rendering.errors import MediaError
from rendering.media.decode import (
    _decode,
    _output_fps,
    apply_rotation,
    iter_frames,
    read_audio_as_uploaded,
)
from rendering.media.pixels import av_frame, picture_size
from rendering.media.probe import _STANDARD_RATES, _VIDEO_HINT, _open, _video_stream, probe_video

__all__ = ["Finish", "VideoWriter", "transcode", "write_thumbnail"]

# What is left to do to a frame before it is encoded (an engine's edit, captions), done on the
# encoder's thread to the writer's own copy: it returns the finished frame (the same array or
# a new one of the same shape).
Finish = Callable[[np.ndarray], np.ndarray]


def _rate_fraction(fps: float) -> Fraction:
    """29.97 means 30000/1001 (what cameras record), not 2997/100."""
    for rate in _STANDARD_RATES:
        if abs(float(rate) - fps) < 0.005:
            return rate
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Write RGB or I420 frames (and optionally one audio track) as an MP4 a browser plays.

    ``with VideoWriter(path, width=w, height=h, fps=25, audio=samples) as out: out.write(f)``

    - H.264 (libx264) yuv420p, ``crf``/``preset`` as given; ``+faststart``.
    - ``audio``: float32 samples, (n,) for mono or (n, channels) for mono/stereo, at
      ``audio_rate``; encoded as AAC at 128 kb/s for mono and 192 kb/s for stereo (the
      upload's own rate and channels are kept by the callers: see ``read_audio_as_uploaded``).
    - Odd sizes are padded to even by repeating the last row/column (yuv420p needs even).
    - An I420 frame (``rendering.media.pixels``, what ``iter_frames(i420=True)`` decodes)
      goes to libx264 as it is; an RGB frame is converted by swscale first.
    - Audio is encoded as frames arrive, so the file is interleaved, and trimmed to the
      video's length. FFmpeg's MP4 muxer writes an edit list for the AAC encoder's 1024
      samples of priming, so players (and PyAV) start the sound at the first frame.
    - The file is written beside ``path`` and renamed into place on success; if an
      exception escapes the ``with`` block the partial file is removed.
    - Encoding runs in its own thread behind a short queue (``QUEUE_DEPTH`` frames): the
      colour conversion, libx264 and the muxer release the GIL, so the caller's next frame
      is decoded and edited while this one is encoded, and memory stays bounded. Every
      container call happens on that thread; an encoder error is raised by the next
      ``write`` or by ``close``.
    """

    QUEUE_DEPTH = 4

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
        self.audio = None
        if audio is not None:
            shaped = np.asarray(audio, dtype=np.float32)
            self.audio = shaped.reshape(len(shaped), -1) if shaped.ndim > 1 else shaped[:, None]
            if self.audio.shape[1] not in (1, 2):
                raise ValueError(
                    f"audio must be mono or stereo, got {self.audio.shape[1]} channels"
                )
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._rate = _rate_fraction(fps)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._container: Any = None
        self._video: Any = None
        self._audio_stream: Any = None
        self._audio_done = 0
        self._frames: queue.Queue[tuple[np.ndarray, Finish | None] | None] = queue.Queue(
            maxsize=self.QUEUE_DEPTH
        )
        self._encoder: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._stop = threading.Event()

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
        # Frame threads, as the ffmpeg command line uses: PyAV's default thread type (slice)
        # makes libx264 split each frame into slices instead (a 10 s 1080x1920 render took
        # 8.2 s with them, 6.7 s without, on the 2-core CI machine).
        video.codec_context.thread_type = "AUTO"
        self._video = video
        if self.audio is not None and self.audio.size:
            stereo = self.audio.shape[1] == 2
            stream = self._container.add_stream(
                "aac", rate=self.audio_rate, layout="stereo" if stereo else "mono"
            )
            stream.bit_rate = 192000 if stereo else 128000
            self._audio_stream = stream
        self._encoder = threading.Thread(
            target=self._encode_loop, name="video-encoder", daemon=True
        )
        self._encoder.start()
        return self

    def write(self, frame: np.ndarray, *, finish: Finish | None = None) -> None:
        """Append one RGB (H x W x 3) or I420 uint8 frame of the size given to the constructor.

        ``finish`` runs on the encoder's thread, on the writer's own copy of ``frame``, just
        before it is encoded (so the caller's thread goes on with the next frame); an error
        in it is raised like an encoder's, by the next ``write`` or by ``close``."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write() outside its with block")
        rgb = frame.ndim == 3
        if (rgb and frame.shape != (self.height, self.width, 3)) or (
            not rgb and (frame.ndim != 2 or picture_size(frame) != (self.height, self.width))
        ):
            raise ValueError(
                f"frame is {frame.shape}, expected {(self.height, self.width, 3)} (H, W, RGB)"
                f" or {(self.height * 3 // 2, self.width)} (I420)"
            )
        pad_h, pad_w = self.height % 2, self.width % 2
        if rgb and (pad_h or pad_w):
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        # The caller may reuse its buffer for the next frame while this one waits its turn.
        frame = np.array(frame, dtype=np.uint8, order="C", copy=True)
        while True:
            self._raise_failure()
            try:
                self._frames.put((frame, finish), timeout=0.1)
                break
            except queue.Full:
                continue
        self.frames_written += 1

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _encode_loop(self) -> None:
        """The encoder thread: frames from the queue into the file, in order."""
        count = 0
        try:
            while True:
                try:
                    item = self._frames.get(timeout=0.1)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if item is None or self._stop.is_set():
                    return
                frame, finish = item
                if finish is not None:
                    frame = finish(frame)
                image = av_frame(frame)
                image.pts = count
                image.time_base = 1 / self._rate
                self._container.mux(self._video.encode(image))
                count += 1
                self._encode_audio_until(count / self._rate)
        except BaseException as exc:  # raised in the caller by write() or close()
            self._failure = exc

    def _finish_encoder(self) -> None:
        """Let the encoder thread drain its queue and stop (``_stop`` ends it early)."""
        encoder, self._encoder = self._encoder, None
        if encoder is None:
            return
        if not self._stop.is_set():
            while encoder.is_alive():
                try:
                    self._frames.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue
        encoder.join()

    def _encode_audio_until(self, seconds: Fraction | float) -> None:
        if self._audio_stream is None or self.audio is None:
            return
        end = min(len(self.audio), int(seconds * self.audio_rate))
        chunk = 4096
        layout = "stereo" if self.audio.shape[1] == 2 else "mono"
        while self._audio_done < end:
            stop = min(end, self._audio_done + chunk)
            # Packed float: one row of interleaved samples.
            piece = self.audio[self._audio_done : stop].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(piece), format="flt", layout=layout
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
        self._finish_encoder()
        self._raise_failure()
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
        self._stop.set()
        self._finish_encoder()
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
    audio, rate = read_audio_as_uploaded(src) if info.audio is not None else (None, 48000)
    # Even sizes go through as decoded (I420): no colour conversion, as ffmpeg does it.
    i420 = info.video.width % 2 == 0 and info.video.height % 2 == 0
    with VideoWriter(
        dst,
        width=info.video.width,
        height=info.video.height,
        fps=out_fps,
        crf=crf,
        preset=preset,
        audio=audio,
        audio_rate=rate,
    ) as writer:
        for frame in iter_frames(src, fps=out_fps, i420=i420):
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
        raise MediaError(
            f"This video has no picture we can decode. {_VIDEO_HINT}", code="no_picture"
        )
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
        raise MediaError("We could not make a preview picture of this video.", code="no_thumbnail")
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, out)
