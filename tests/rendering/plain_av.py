"""Shared helpers for the face, engine, pipeline, quality and CLI tests.

Media is written and read with plain PyAV here (not ``rendering.media``) so a bug in the
code under test cannot shape its own inputs.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FACE = FIXTURES / "face.mp4"
SPEECH = FIXTURES / "speech.wav"
FPS = 25


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def write_video(path: Path, frames: list[np.ndarray], fps: int = FPS) -> Path:
    """Near-lossless H.264 (crf 10) so the tests compare pictures, not codec noise."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return data.astype(np.float32) / 32768.0, wav.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def speech_clip(path: Path, seconds: float, *, shift: float = 0.0) -> Path:
    """The fixture speech cut to ``seconds``, delayed by ``shift`` s (negative: started later)."""
    samples, rate = read_wav(SPEECH)
    if shift >= 0:
        samples = np.concatenate([np.zeros(round(shift * rate), np.float32), samples])
    else:
        samples = samples[round(-shift * rate) :]
    n = round(seconds * rate)
    samples = np.pad(samples, (0, max(0, n - len(samples))))[:n]
    return write_wav(path, samples, rate)


def no_face_frames(n: int, size: int = 128) -> list[np.ndarray]:
    """Textured frames with no face in them (a moving colour gradient with stripes)."""
    y, x = np.mgrid[0:size, 0:size]
    frames = []
    for i in range(n):
        r = (x * 2 + i * 3) % 256
        g = (y * 2) % 256
        b = ((x + y) // 8 % 2) * 120 + 60
        frames.append(np.stack([r, g, b], -1).astype(np.uint8))
    return frames
