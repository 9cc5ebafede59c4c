from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Template

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPEECH = FIXTURES / "speech.wav"
FACE = FIXTURES / "face.mp4"
FACE_WITH_AUDIO = FIXTURES / "face_with_audio.mp4"


def uploaded(path: Path, name: str | None = None) -> TemporaryUploadedFile:
    """An upload as Django's handler leaves it: spooled to a temporary file."""
    name = name or path.name
    upload = TemporaryUploadedFile(name, "application/octet-stream", path.stat().st_size, None)
    with path.open("rb") as source:
        shutil.copyfileobj(source, upload)
    upload.flush()
    upload.seek(0)
    return upload


def make_no_face_video(path: Path, *, seconds: float = 2.0, size: int = 160) -> Path:
    """A real, decodable video with no face in it: a slowly moving colour gradient."""
    from rendering.media import VideoWriter

    yy, xx = np.mgrid[0:size, 0:size]
    with VideoWriter(path, width=size, height=size, fps=25) as writer:
        for i in range(int(seconds * 25)):
            frame = np.stack([(xx + i * 3) % 256, (yy + i) % 256, np.full_like(xx, 90)], axis=-1)
            writer.write(frame.astype(np.uint8))
    return path


@pytest.fixture
def audio_clip(owner: User) -> AudioClip:
    return services.audio_upload(owner=owner, uploaded=uploaded(SPEECH))


@pytest.fixture
def make_template(owner: User) -> Callable[..., Template]:
    def make(path: Path = FACE, name: str | None = None, user: User | None = None) -> Template:
        return services.template_upload(owner=user or owner, uploaded=uploaded(path, name))

    return make


@pytest.fixture
def template(make_template: Callable[..., Template]) -> Template:
    return make_template()


@pytest.fixture
def no_face_video(tmp_path: Path) -> Path:
    return make_no_face_video(tmp_path / "no_face.mp4")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
