"""Helpers the benchmarks share: paths, making template variants, printing tables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
FACE = FIXTURES / "face.mp4"
SPEECH = FIXTURES / "speech.wav"


def make_variant(
    src: Path, dst: Path, change: Callable[[np.ndarray], np.ndarray], *, crf: int = 16
) -> Path:
    """Re-encode ``src`` with every frame passed through ``change`` (resize, pad, flip...)."""
    from rendering import media

    info = media.probe_video(src)
    assert info.video is not None
    frames = media.iter_frames(src)
    first = change(next(frames))
    with media.VideoWriter(
        dst, width=first.shape[1], height=first.shape[0], fps=info.video.fps, crf=crf
    ) as writer:
        writer.write(first)
        for frame in frames:
            writer.write(change(frame))
    return dst


def upscale(size: int) -> Callable[[np.ndarray], np.ndarray]:
    def change(frame: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.resize(frame, (size, size), interpolation=cv2.INTER_CUBIC))

    return change


def full_hd(frame: np.ndarray) -> np.ndarray:
    """The square face video scaled to 1080 high and padded out to 1920 wide."""
    square = cv2.resize(frame, (1080, 1080), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.copyMakeBorder(square, 0, 0, 420, 420, cv2.BORDER_REPLICATE))


def write_wav(path: Path, samples: object, *, rate: int = 16000) -> None:
    """Write float samples in [-1, 1] as 16-bit mono PCM WAV."""
    import wave

    data = (np.clip(np.asarray(samples), -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header))] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
