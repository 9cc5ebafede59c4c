"""Shared fixtures for the rendering tests: the committed media, and factories that write
tricky media (VFR, rotated, odd-sized, truncated, silent...) into ``tmp_path`` with PyAV.

The factories are plain PyAV on purpose: media made by the code under test could share
its bugs.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def speech_wav() -> Path:
    """~4.8 s of espeak-ng speech, 16 kHz mono, 0.3 s of silence at each end."""
    return FIXTURES / "speech.wav"


@pytest.fixture
def face_mp4() -> Path:
    """3 s, 25 fps, 256x256 H.264 of a real face moving gently; no audio."""
    return FIXTURES / "face.mp4"


@pytest.fixture
def face_with_audio_mp4() -> Path:
    """The same face for the length of speech.wav, 160x160, with the speech as AAC."""
    return FIXTURES / "face_with_audio.mp4"


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """A frame whose mean grey level says which frame it is (survives H.264 at crf 18).

    Levels step by 12 from 20, so indices 0..18 are told apart by rounding the mean.
    """
    level = 20 + 12 * (index % 19)
    return np.full((height, width, 3), level, dtype=np.uint8)


def frame_index(frame: np.ndarray) -> int:
    """Inverse of :func:`index_frame` (modulo 19)."""
    return round((float(frame.mean()) - 20) / 12)


class VideoFactory(Protocol):
    def __call__(
        self,
        name: str,
        frames: Sequence[np.ndarray] | int,
        *,
        fps: int = 25,
        size: tuple[int, int] = (64, 48),
        times: Sequence[float] | None = None,
        rotation: float | None = None,
        audio: np.ndarray | None = None,
        audio_rate: int = 16000,
        container_format: str = "mp4",
        faststart: bool = False,
    ) -> Path: ...


@pytest.fixture
def make_video(tmp_path: Path) -> VideoFactory:
    """Write a video with plain PyAV.

    ``frames`` is a list of RGB frames or a count (then :func:`index_frame` frames of
    ``size`` = (width, height)). ``times`` gives each frame's presentation time in seconds
    (irregular times make a VFR file); ``rotation`` writes a display matrix the way phones
    do (FFmpeg's counter-clockwise degrees, as ``VideoStream.set_display_rotation`` takes).
    """

    def factory(
        name: str,
        frames: Sequence[np.ndarray] | int,
        *,
        fps: int = 25,
        size: tuple[int, int] = (64, 48),
        times: Sequence[float] | None = None,
        rotation: float | None = None,
        audio: np.ndarray | None = None,
        audio_rate: int = 16000,
        container_format: str = "mp4",
        faststart: bool = False,
    ) -> Path:
        if isinstance(frames, int):
            frames = [index_frame(i, *size) for i in range(frames)]
        height, width = frames[0].shape[:2]
        path = tmp_path / name
        options = {"movflags": "+faststart"} if faststart else {}
        with av.open(str(path), "w", format=container_format, options=options) as out:
            stream = out.add_stream("libx264", rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "18", "preset": "ultrafast"}
            time_base = Fraction(1, 1000) if times is not None else Fraction(1, fps)
            if times is not None:
                stream.codec_context.time_base = time_base
            if rotation is not None:
                stream.set_display_rotation(rotation)
            astream = None
            if audio is not None:
                astream = out.add_stream("aac", rate=audio_rate, layout="mono")
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = round(times[i] * 1000) if times is not None else i
                frame.time_base = time_base
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
            if astream is not None and audio is not None:
                for start in range(0, len(audio), 1024):
                    piece = np.ascontiguousarray(audio[start : start + 1024], dtype=np.float32)
                    aframe = av.AudioFrame.from_ndarray(
                        piece.reshape(1, -1), format="flt", layout="mono"
                    )
                    aframe.sample_rate = audio_rate
                    aframe.pts = start
                    aframe.time_base = Fraction(1, audio_rate)
                    out.mux(astream.encode(aframe))
                out.mux(astream.encode(None))
        return path

    return factory


@pytest.fixture
def make_wav(tmp_path: Path) -> Callable[..., Path]:
    """Write float samples in [-1, 1] as a 16-bit PCM WAV (mono, or channels x N)."""

    def factory(name: str, samples: np.ndarray, rate: int = 16000) -> Path:
        path = tmp_path / name
        data = np.atleast_2d(np.asarray(samples, dtype=np.float64))
        pcm = np.round(np.clip(data, -1, 1) * 32767).astype("<i2").T  # interleave channels
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(data.shape[0])
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes(pcm.tobytes())
        return path

    return factory


@pytest.fixture
def make_audio(tmp_path: Path) -> Callable[..., Path]:
    """Encode float mono samples with PyAV in any container/codec (mp3, flac, ogg/opus...)."""

    def factory(
        name: str,
        samples: np.ndarray,
        *,
        rate: int = 16000,
        codec: str = "flac",
        container_format: str | None = None,
    ) -> Path:
        path = tmp_path / name
        with av.open(str(path), "w", format=container_format) as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            frame_size = stream.codec_context.frame_size or 1024
            for start in range(0, len(samples), frame_size):
                piece = np.ascontiguousarray(samples[start : start + frame_size], dtype=np.float32)
                frame = av.AudioFrame.from_ndarray(
                    piece.reshape(1, -1), format="flt", layout="mono"
                )
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = Fraction(1, rate)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path

    return factory


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
