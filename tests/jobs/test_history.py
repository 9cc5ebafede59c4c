from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, Template

pytestmark = pytest.mark.django_db


def _batches(owner: User, audio: AudioClip, template: Template, n: int) -> None:
    for i in range(n):
        services.batch_create(
            owner=owner, audio_id=audio.pk, template_ids=[template.pk], name=f"Promo {i:02d}"
        )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_the_number_of_batches(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    owner.max_concurrent_jobs = 100
    owner.save()
    _batches(owner, audio_clip, template, 2)
    few = _queries(owner_client, reverse("history"))
    _batches(owner, audio_clip, template, 23)
    many = _queries(owner_client, reverse("history"))
    assert few == many


def test_it_lists_newest_first_paginates_and_searches(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    owner.max_concurrent_jobs = 100
    owner.save()
    _batches(owner, audio_clip, template, 22)
    services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name="Winter launch"
    )
    first = owner_client.get(reverse("history"))
    names = [row["batch"].name for row in first.context["rows"]]
    assert names[0] == "Winter launch" and len(names) == 20
    assert "Page 1 of 2" in first.content.decode()
    second = owner_client.get(reverse("history") + "?page=2")
    assert len(second.context["rows"]) == 3
    found = owner_client.get(reverse("history") + "?q=winter")
    assert [row["batch"].name for row in found.context["rows"]] == ["Winter launch"]
    row = found.context["rows"][0]
    assert (row["counts"].total, row["counts"].status) == (1, "queued")
    assert len(row["thumbs"]) == 1
    assert Batch.objects.count() == 23


def test_deleting_selected_batches_touches_only_the_users_own(
    owner: User,
    other: User,
    owner_client: Client,
    other_client: Client,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    owner.max_concurrent_jobs = 100
    owner.save()
    _batches(owner, audio_clip, template, 3)
    keep, *delete = list(Batch.objects.order_by("name"))
    # Another user posting the owner's ids deletes nothing.
    other_client.post(reverse("batches_delete_selected"), {"batch": [str(b.pk) for b in delete]})
    assert Batch.objects.count() == 3
    response = owner_client.post(
        reverse("batches_delete_selected"),
        {"batch": [str(b.pk) for b in delete] + ["not-an-id"]},
        follow=True,
    )
    assert "Deleted 2 batches" in response.content.decode()
    assert list(Batch.objects.all()) == [keep]
