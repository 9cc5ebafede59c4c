"""Every URL that takes an id of user data answers 404 to another signed-in user (never
403-with-a-hint), and works for its owner (so this test can fail). The list is read from the
URL conf, so a new view that takes an id is tested without anyone remembering to add it; the
API has its own (tests/api/test_isolation.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import ApiKey, User
from accounts.services import api_key_create
from jobs import services
from jobs.export import export_link_create
from jobs.models import AudioClip, Batch, ExportToken, JobStatus, RenderJob, Template, Webhook
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db

# Which object an id in a URL names. A URL with an id not listed here fails the test below.
ID_KINDS = {
    "batch_id": "batch",
    "job_id": "job",
    "template_id": "template",
    "webhook_id": "webhook",
    "key_id": "api_key",
    "link_id": "export_link",
    "audio_id": "audio",
}
NOT_HERE = {"admin", "api"}  # staff pages; the API is tested in tests/api
# Other URL arguments, and the value each gets (the fixture makes it exist for the owner).
OTHER_ARGS = {"index": 0}


def _patterns(
    patterns: list[URLPattern | URLResolver], namespace: str = ""
) -> Iterator[tuple[str, list[str]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in NOT_HERE:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _patterns(entry.url_patterns, inner)
        elif entry.name and entry.pattern.converters:
            yield f"{namespace}{entry.name}", list(entry.pattern.converters)


def _user_data_urls() -> list[tuple[str, str]]:
    """(url name, which object's id) for every page URL of the site that takes an id."""
    found = []
    for name, kwargs in _patterns(get_resolver().url_patterns):
        ids = [k for k in kwargs if k not in OTHER_ARGS]
        assert len(ids) == 1, f"{name} takes {ids}: one id per URL"
        (kwarg,) = ids
        assert kwarg in ID_KINDS, f"{name} takes {kwarg}: add it to ID_KINDS and the fixture"
        found.append((name, ID_KINDS[kwarg]))
    return found


def _url(name: str, obj: object) -> str:
    converters = next(k for n, k in _patterns(get_resolver().url_patterns) if n == name)
    kwargs = {k: OTHER_ARGS.get(k, obj.pk) for k in converters}  # type: ignore[attr-defined]
    return reverse(name, kwargs=kwargs)


USER_DATA_URLS = _user_data_urls()


def _method(client: Client, url: str) -> str:
    """A view that refuses GET (405) changes something: it is tested with POST."""
    return "post" if client.get(url).status_code == 405 else "get"


@pytest.fixture
def objects(
    owner: User, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> dict[str, object]:
    template = make_template()
    # One listed face with its picture, as the face analysis leaves it (for the face URLs).
    face = str(template.thumbnail.name)
    Template.objects.filter(pk=template.pk).update(
        faces=[{"x": 0.5, "y": 0.5, "size": 0.5, "thumbnail": face}]
    )
    template.refresh_from_db()
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    job = batch.jobs.get()
    finish_job(job, status=JobStatus.SUCCEEDED, content=b"mp4")
    webhook = Webhook.objects.create(owner=owner, url="https://example.com/h", secret="whsec_t")
    api_key, _ = api_key_create(user=owner, name="script")
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    return {
        "export_link": ExportToken.objects.get(pk=link.id),
        "batch": batch,
        "job": job,
        "api_key": api_key,
        "template": template,
        "audio": audio_clip,
        "webhook": webhook,
    }


def test_the_list_covers_the_pages_that_take_an_id() -> None:
    names = {name for name, _ in USER_DATA_URLS}
    assert {"batch_detail", "job_download", "template_video", "webhook_delete"} <= names


@pytest.mark.parametrize(("name", "kind"), USER_DATA_URLS, ids=[u[0] for u in USER_DATA_URLS])
def test_another_user_gets_404(
    name: str,
    kind: str,
    objects: dict[str, object],
    other_client: Client,
    owner_client: Client,
) -> None:
    url = _url(name, objects[kind])
    method = _method(other_client, url)
    assert getattr(other_client, method)(url).status_code == 404
    # Nothing changed for the owner, and the owner does get an answer.
    assert Batch.objects.filter(pk=objects["batch"].pk).exists()  # type: ignore[attr-defined]
    assert getattr(owner_client, method)(url).status_code in {200, 206, 302}


def test_history_and_library_show_only_the_users_own(
    objects: dict[str, object], other_client: Client
) -> None:
    assert objects["batch"].name not in other_client.get(reverse("history")).content.decode()  # type: ignore[attr-defined]
    assert b"face.mp4" not in other_client.get(reverse("template_library")).content
    assert other_client.get(reverse("template_status")).json() == {"templates": []}
    new_page = other_client.get(reverse("batch_new")).content.decode()
    assert str(objects["audio"].pk) not in new_page and str(objects["template"].pk) not in new_page  # type: ignore[attr-defined]


def _snapshot(owner: User) -> tuple:
    return (
        sorted(Batch.objects.for_user(owner).values_list("pk", "name", "canceled_at")),
        sorted(RenderJob.objects.for_user(owner).values_list("pk", "status", "attempts")),
        sorted(Template.objects.for_user(owner).values_list("pk", flat=True)),
        sorted(AudioClip.objects.for_user(owner).values_list("pk", flat=True)),
        list(Webhook.objects.filter(owner=owner).values_list("pk", "active", "secret")),
        list(ApiKey.objects.filter(user=owner).values_list("pk", "revoked_at")),
        list(ExportToken.objects.filter(owner=owner).values_list("pk", "revoked_at")),
    )


def test_anonymous_visitors_are_sent_to_login_and_change_nothing(
    objects: dict[str, object], client: Client, owner: User
) -> None:
    before = _snapshot(owner)
    for name, kind in USER_DATA_URLS:
        url = _url(name, objects[kind])
        for response in (client.post(url), client.get(url)):
            assert response.status_code == 302, name
            assert response["Location"].startswith("/accounts/login/?next="), name
            assert b"Launch" not in response.content and b"face.mp4" not in response.content
    assert _snapshot(owner) == before
