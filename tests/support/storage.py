"""Helpers for the storage tests (quotas, retention, cleanup, deletion)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from django.conf import settings


def write_noise_wav(path: Path, *, seed: int, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A real WAV whose content (and so its hash) differs per seed."""
    samples = np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * rate))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((samples * 32767).astype(np.int16).tobytes())
    return path


def user_files(user: object) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "users" / user.storage_id  # type: ignore[attr-defined]
    return sorted(p for p in folder.rglob("*") if p.is_file())
