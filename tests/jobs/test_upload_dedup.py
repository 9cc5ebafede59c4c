"""An upload is stored once per owner and content: parallel identical uploads make one row,
one file and one share of the usage (a database constraint backs the owner's lock); files
that differ only in content, and another user's identical upload, are stored apart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Template
from tests.support.media import FACE, files_under, uploaded
from tests.support.storage import write_noise_wav

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(n: int, work: Callable[[], Any]) -> list[Any]:
    start = threading.Barrier(n)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            start.wait()
            outcomes.append(work())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_eight_parallel_uploads_of_one_new_wav_are_stored_once(owner: User, tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises every writer (CI's second leg runs it)")
    wav = write_noise_wav(tmp_path / "voice.wav", seed=7)
    clips = _parallel(8, lambda: services.audio_upload(owner=owner, uploaded=uploaded(wav)))
    assert len(clips) == 8 and len({clip.pk for clip in clips}) == 1
    assert AudioClip.objects.count() == 1
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 1
    owner.refresh_from_db()
    assert owner.storage_used_bytes == wav.stat().st_size


def test_parallel_uploads_of_one_template_are_stored_once_with_one_face_check(
    owner: User,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises every writer (CI's second leg runs it)")
    rows = _parallel(4, lambda: services.template_upload(owner=owner, uploaded=uploaded(FACE)))
    assert len({row.pk for row in rows}) == 1
    template = Template.objects.get()
    owner.refresh_from_db()
    assert owner.storage_used_bytes == template.size_bytes
    # The template's file and its thumbnail, nothing from the uploads that lost.
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 2


def test_two_different_files_of_the_same_size_are_both_kept(owner: User, tmp_path: Path) -> None:
    a = write_noise_wav(tmp_path / "a.wav", seed=1)
    b = write_noise_wav(tmp_path / "b.wav", seed=2)
    assert a.stat().st_size == b.stat().st_size and a.read_bytes() != b.read_bytes()
    first = services.audio_upload(owner=owner, uploaded=uploaded(a))
    second = services.audio_upload(owner=owner, uploaded=uploaded(b))
    assert first.pk != second.pk and AudioClip.objects.count() == 2
    assert services.audio_upload(owner=owner, uploaded=uploaded(a)).pk == first.pk
    owner.refresh_from_db()
    assert owner.storage_used_bytes == a.stat().st_size + b.stat().st_size


def test_another_users_identical_upload_is_their_own(
    owner: User, other: User, tmp_path: Path
) -> None:
    wav = write_noise_wav(tmp_path / "voice.wav", seed=3)
    mine = services.audio_upload(owner=owner, uploaded=uploaded(wav))
    theirs = services.audio_upload(owner=other, uploaded=uploaded(wav))
    assert mine.pk != theirs.pk
    assert (mine.owner_id, theirs.owner_id) == (owner.pk, other.pk)
    assert mine.file.name != theirs.file.name
    other.refresh_from_db()
    assert other.storage_used_bytes == wav.stat().st_size


def test_the_database_refuses_a_second_live_row_with_the_same_content(
    owner: User, tmp_path: Path
) -> None:
    wav = write_noise_wav(tmp_path / "voice.wav", seed=4)
    clip = services.audio_upload(owner=owner, uploaded=uploaded(wav))
    twin = AudioClip(
        owner=owner,
        file=clip.file.name,
        original_name="copy.wav",
        content_hash=clip.content_hash,
        size_bytes=clip.size_bytes,
        duration=clip.duration,
        sample_rate=clip.sample_rate,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    # A clip being deleted does not block storing the same content again.
    AudioClip.objects.filter(pk=clip.pk).update(deleting_at=clip.created_at)
    again = services.audio_upload(owner=owner, uploaded=uploaded(wav))
    assert again.pk != clip.pk
