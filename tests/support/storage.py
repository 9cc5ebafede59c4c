"""Helpers for the storage tests (quotas, retention, cleanup, deletion)."""

from __future__ import annotations

import wave
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

from jobs.models import RenderJob
from jobs.services import usage_add


def finish_job(
    job: RenderJob, *, status: str, content: bytes = b"", finished_at: datetime | None = None
) -> Path | None:
    """Put a job in a finished state as the worker would: a real result file, the row and usage."""
    job.status = status
    job.finished_at = finished_at or timezone.now()
    path = None
    if content:
        job.output.name = f"{job.batch.owner.storage_prefix}/batches/{job.batch.pk.hex}/output_{job.position:03d}.mp4"
        path = Path(settings.MEDIA_ROOT) / job.output.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        job.output_size = len(content)
        usage_add(user_id=job.batch.owner_id, delta=len(content))
    job.save()
    return path


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
