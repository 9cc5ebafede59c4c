"""Playback shared by the engines: the template's frames by output index (forward, then
backward when the audio is longer), decoded ahead in a thread and kept in memory or spilled
to disk, and the output written next to its target and published only when complete.

An ``overlay`` (``f(index, frame) -> frame``, e.g. ``CaptionPainter.frame_function``) is
applied to every finished frame just before it is encoded: captions go in during the one
encode, not in a second pass over the result.

Frames are RGB arrays, or with ``i420`` the decoder's own yuv420p pictures
(``rendering.media.pixels``): the encoder takes those without a colour conversion, and an
engine converts only the region it redraws."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np

from rendering import media
from rendering.engines.base import (
    FrameOverlay,
    ProgressCallback,
    RenderResult,
    output_frame_count,
    ping_pong_index,
)
from rendering.media import pixels
from rendering.media.encode import Finish

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack
    from rendering.media import VideoWriter


_END = object()


class OverlaidWriter:
    """The writer, with ``overlay`` applied to each frame in output order."""

    def __init__(self, writer: VideoWriter, overlay: FrameOverlay | None, start: int = 0) -> None:
        self._writer = writer
        self._overlay = overlay
        self.count = start  # the output frame index of the next frame (a segment's first)

    def write(self, frame: np.ndarray, *, finish: Finish | None = None) -> None:
        """Write ``frame``; ``finish`` (an engine's edit not yet written into it) and then the
        overlay are applied on the encoder's thread, to the writer's own copy of the frame."""
        index = self.count
        self.count += 1
        if self._overlay is None:
            self._writer.write(frame, finish=finish)
            return

        def finished(picture: np.ndarray) -> np.ndarray:
            if finish is not None:
                picture = finish(picture)
            return self._overlaid(index, picture)

        self._writer.write(frame, finish=finished)

    def _overlaid(self, index: int, frame: np.ndarray) -> np.ndarray:
        """The overlay of output frame ``index`` drawn on ``frame``; on an I420 picture,
        through RGB, and only the pixels it drew go back (the rest keeps the decoder's
        values)."""
        assert self._overlay is not None
        if not pixels.is_i420(frame):
            return self._overlay(index, frame)
        rgb = pixels.rgb(frame)
        drawn = self._overlay(index, rgb)
        if drawn is rgb:
            return frame  # nothing drawn on this frame
        rows = np.flatnonzero(np.any(drawn != rgb, axis=(1, 2)))
        if not len(rows):
            return frame
        # Only the rows drawn on (a caption's band) go back through the colour conversion.
        height, width = pixels.picture_size(frame)
        top = max(int(rows[0]) - 2 * pixels.EDGE, 0) // 2 * 2
        bottom = min((int(rows[-1]) + 2 * pixels.EDGE + 2) // 2 * 2, height)
        # In place: this runs on the writer's own copy of the frame (write's ``finish``).
        pixels.put_rgb(frame, (0, top, width, bottom), drawn[top:bottom], before=rgb[top:bottom])
        return frame


def _prefetch(source: Iterator[np.ndarray], depth: int = 6) -> Iterator[np.ndarray]:
    """Decode ahead in a background thread so decoding overlaps warping and encoding.

    PyAV releases the GIL while it decodes and converts, so this wins ~20 % at 512x512.
    Errors are re-raised in the caller; stopping early (cancel) ends the thread.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for frame in source:
                if not offer(frame):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # releases the open container when stopped early

    worker = threading.Thread(target=work, name="template-decoder", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(np.ndarray, item)
    finally:
        stop.set()
        worker.join(timeout=5)


class _TemplateFrames:
    """Template frames by index, decoded once.

    When the output is no longer than the template, frames stream straight through. When
    it loops, frames are kept: in memory up to a budget, beyond it in a raw file on disk,
    so a long 1080p template does not exhaust RAM.
    """

    # Frames kept in memory before the rest spill to disk: about 40 I420 frames of
    # 1080x1920, so a long phone video loops with the worker's memory flat. Reading a spilled
    # frame back costs no measurable time (the page cache holds it); at 256 MB a 3 s phone
    # template took a render's peak to 720 MB.
    MEMORY_BUDGET = 128 << 20

    def __init__(self, source: Iterator[np.ndarray], n_frames: int, keep: bool, spill: Path):
        self._source = source
        self._keep = keep
        self._spill = spill
        self._frames: list[np.ndarray] = []
        self._disk: BinaryIO | None = None
        self._shape: tuple[int, ...] = ()
        self._count = 0
        self._n_expected = max(n_frames, 1)
        self._last: np.ndarray | None = None
        self.ended = False  # the decoder has run out of frames

    def _pull(self) -> bool:
        frame = next(self._source, None)
        if frame is None:
            self.ended = True
            return False
        self._last = frame
        if self._keep:
            self._store(frame)
        self._count += 1
        return True

    def _store(self, frame: np.ndarray) -> None:
        if self._disk is None and (len(self._frames) + 1) * frame.nbytes > self.MEMORY_BUDGET:
            # Plain reads and writes, not a memory map: mapped pages count in the worker's
            # resident memory as they are read back, so a long loop would grow it.
            self._disk = open(self._spill, "w+b")  # noqa: SIM115 (closed in close())
            self._shape = frame.shape
            for kept in self._frames:
                self._disk.write(np.ascontiguousarray(kept).tobytes())
            self._frames = []
        if self._disk is not None:
            if self._count < self._n_expected:
                os.pwrite(
                    self._disk.fileno(),
                    np.ascontiguousarray(frame).tobytes(),
                    self._count * frame.nbytes,
                )
        else:
            self._frames.append(frame)

    def _read_spilled(self, index: int) -> np.ndarray:
        assert self._disk is not None
        size = int(np.prod(self._shape))
        data = os.pread(self._disk.fileno(), size, index * size)
        return np.frombuffer(bytearray(data), dtype=np.uint8).reshape(self._shape)

    def get(self, index: int) -> tuple[np.ndarray, bool]:
        """Frame ``index`` (indices only ever grow while streaming), and whether the caller
        may paint on it in place (a streamed frame nobody will ask for again)."""
        pulled = False
        while self._count <= index and self._pull():
            pulled = True
        if not self._keep:
            # Streaming: the decoder is exactly at this index (or ran out: hold the last).
            assert self._last is not None
            return self._last, pulled
        index = min(index, self.available - 1)
        if self._disk is not None:
            return self._read_spilled(index), True
        return self._frames[index], False

    @property
    def available(self) -> int:
        return min(self._count, self._n_expected) if self._disk is not None else self._count

    def drain(self) -> int:
        """Decode to the end; returns the number of frames the file really has."""
        while self._pull():
            pass
        return self.available

    def count(self) -> int:
        """The frames the file really has (decoded to its end), at most as many as the track
        counted, which may be one more."""
        return min(self.drain(), self._n_expected) or self._n_expected

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()  # stops the decoding thread when the render ends early
        self._frames = []
        if self._disk is not None:
            self._disk.close()
            self._disk = None
            self._spill.unlink(missing_ok=True)


# A looping template whose RGB pictures are no bigger than this (1280x720) plays its first
# pass while the rest decodes; a bigger one is decoded to its end before the first frame.
OVERLAP_PIXELS_BYTES = 1280 * 720 * 3


@dataclass
class TemplateOutput:
    """An output being written over a template: its frames by index and the open writer."""

    fps: float
    n_out: int
    n_template: int
    loops: bool
    frames: _TemplateFrames
    writer: OverlaidWriter
    # The output frames this render writes: all of them, or one segment's [start, stop).
    start: int = 0
    stop: int | None = None

    @property
    def indices(self) -> range:
        """The output frame indices to write, in order."""
        return range(self.start, self.n_out if self.stop is None else self.stop)

    def fraction(self, j: int) -> float:
        """How much of this render is done before output frame ``j`` (for progress)."""
        span = self.indices
        return (j - span.start) / max(1, len(span))

    def template_index(self, j: int) -> int:
        """The template frame shown at output frame ``j``: forward, then backward (no jump cut)."""
        if not self.loops:
            return j
        if not self.frames.ended and j >= self.n_template - 1:
            # Ping-pong turns on the real frame count, which may be one less than the
            # track's: a small template is decoded to its end here, at the turn, not before
            # the first frame (its first pass plays while the rest decodes).
            self.n_template = self.frames.count()
        return ping_pong_index(j, self.n_template)


@contextmanager
def template_output(
    *,
    template: Path,
    track: FaceTrack,
    audio: AudioFeatures,
    audio_path: Path,
    out_path: Path,
    crf: int,
    preset: str,
    keep: bool = False,
    overlay: FrameOverlay | None = None,
    frame_range: tuple[int, int] | None = None,
    i420: bool = False,
) -> Iterator[TemplateOutput]:
    """Open what every engine's render needs, and publish the output only when complete.

    1. The output length comes from the audio, at the track's frame rate.
    2. The template is decoded (kept in memory or spilled to disk when the output loops
       over it or ``keep`` asks for frames by index).
    3. The writer muxes the driving audio into a hidden partial file, renamed over
       ``out_path`` only after the body ran without an exception; the partial and the
       spill file are removed whatever happens.
    4. ``overlay`` (captions) is drawn on each frame as the engine writes it.

    ``i420``: the frames are I420 pictures when the size allows it (even width and height),
    else RGB; an engine that asks for them handles both.

    ``frame_range=(start, stop)`` renders one segment of the output timeline: only those
    frames, and no sound (segments are joined frame-exactly and the audio is muxed once
    over the whole, see ``rendering.media.join_segments``).
    """
    fps = track.fps
    n_out = output_frame_count(audio.duration, fps)
    # The result's sound is the upload's own (rate and channels), not the 16 kHz analysis copy.
    span = segment_span(frame_range, n_out)
    samples, rate = (
        media.read_audio_as_uploaded(Path(audio_path)) if span is None else (None, 48000)
    )
    n_template = max(track.n_frames, 1)
    loops = n_out > n_template
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    spill = out_path.with_name(f".{out_path.stem}.frames.raw")
    i420 = i420 and track.width % 2 == 0 and track.height % 2 == 0
    frames = _TemplateFrames(
        _prefetch(media.iter_frames(template, fps=fps, i420=i420)),
        n_template,
        keep=loops or keep,
        spill=spill,
    )
    try:
        if (loops or keep) and track.width * track.height * 3 > OVERLAP_PIXELS_BYTES:
            # Large pictures are decoded to the end first: the decoder's buffers and the
            # encoder's at once took a 1080x1920 render's peak 100 MB higher.
            n_template = frames.count()
        with media.VideoWriter(
            partial,
            width=track.width,
            height=track.height,
            fps=fps,
            crf=crf,
            preset=preset,
            audio=samples,
            audio_rate=rate,
        ) as writer:
            start, stop = span if span is not None else (0, n_out)
            yield TemplateOutput(
                fps,
                n_out,
                n_template,
                loops,
                frames,
                OverlaidWriter(writer, overlay, start),
                start,
                stop,
            )
        os.replace(partial, out_path)
    finally:
        frames.close()
        partial.unlink(missing_ok=True)


def finished(
    out: TemplateOutput, out_path: Path, started: float, progress: ProgressCallback | None
) -> RenderResult:
    if progress is not None:
        progress(1.0)
    count = len(out.indices)
    return RenderResult(
        path=out_path,
        frames=count,
        duration=count / out.fps,
        seconds=time.perf_counter() - started,
    )


def segment_span(frame_range: tuple[int, int] | None, n_out: int) -> tuple[int, int] | None:
    """``frame_range`` checked against an output of ``n_out`` frames (None: all of it)."""
    if frame_range is None:
        return None
    start, stop = int(frame_range[0]), int(frame_range[1])
    if not 0 <= start < stop <= n_out:
        raise ValueError(f"frame range {start}..{stop} is not inside the output's {n_out} frames")
    return start, stop
