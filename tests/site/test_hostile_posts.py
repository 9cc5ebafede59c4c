"""Every POST route of the site and of the API, fed hostile bodies (wrong types, bad ids,
invisible characters, too many fields, broken encodings, a garbage file, deep JSON): never a
5xx, and never an HTML body on an API route (issue #15: the fuzz run covers the pages' forms).
The routes are read off the URL conf, so a new form is covered without anyone adding it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests.api.conftest import key_client
from tests.site.test_isolation import ID_KINDS, OTHER_ARGS
from tests.site.test_isolation import objects as objects  # the fixture

pytestmark = pytest.mark.django_db

SKIP = {"admin"}  # staff pages: Django's own admin
KINDS = {**ID_KINDS, "audio_id": "audio"}  # the API names audio by id too

FORM = {
    "audio": "not-a-uuid",
    "templates": ["x", "../../etc", "00000000-0000-0000-0000-000000000000"],
    "template": "\x00",
    "name": "\u202eexe.fdp\r\nX-Injected: 1" * 20,
    "engine": "🙂",
    "confirm": "nope",
    "url": "javascript:alert(1)",
    "events": ["nope", ""],
    "scope": "root",
    "batch": ["zzz", "1"],
    "finished_only": "maybe",
    "face": "-1",
    "index": "9999999999999999999999",
    "email": "a@",
    "password": "",
    "active": "perhaps",
}


def _routes(
    patterns: list[URLPattern | URLResolver], namespace: str = ""
) -> Iterator[tuple[str, list[str]]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIP:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _routes(entry.url_patterns, inner)
        elif entry.name:
            yield f"{namespace}{entry.name}", list(entry.pattern.converters)


ROUTES = sorted(dict(_routes(get_resolver().url_patterns)).items())


def _url(name: str, converters: list[str], objects: dict[str, object]) -> str:
    kwargs = {
        k: OTHER_ARGS[k] if k in OTHER_ARGS else objects[KINDS[k]].pk  # type: ignore[attr-defined]
        for k in converters
    }
    return reverse(name, kwargs=kwargs)


def _bodies() -> list[tuple[str, dict[str, object]]]:
    many = "&".join(f"f{i}=1" for i in range(1100))
    deep = "[" * 3000 + "]" * 3000
    return [
        ("wrong types", {"data": FORM}),
        ("too many fields", {"data": many, "content_type": "application/x-www-form-urlencoded"}),
        (
            "broken encoding",
            {"data": b"\xff\xfe%%%&&&==\x00", "content_type": "application/x-www-form-urlencoded"},
        ),
        ("deep json", {"data": deep, "content_type": "application/json"}),
        (
            "garbage file",
            {
                "data": {
                    **FORM,
                    "file": SimpleUploadedFile("../../x.mp4", b"\x00garbage" * 100, "video/mp4"),
                }
            },
        ),
    ]


@pytest.mark.parametrize(("name", "converters"), ROUTES, ids=[r[0] for r in ROUTES])
def test_no_post_route_answers_5xx_or_html_on_the_api(
    name: str, converters: list[str], objects: dict[str, object], owner: User
) -> None:
    url = _url(name, converters, objects)
    # The API's documentation pages (Swagger UI, ReDoc) are HTML by design.
    api = url.startswith("/api/") and name not in {"api:docs", "api:redoc"}
    for what, body in _bodies():
        if api:
            client: Client | APIClient = key_client(owner)
        else:
            client = Client()
            client.force_login(owner)
        if what == "garbage file":
            body = {"data": {**FORM, "file": SimpleUploadedFile("../../x.mp4", b"\x00" * 800)}}
        for method in ("post", "put", "patch", "delete") if api else ("post",):
            response = getattr(client, method)(url, **body)
            assert response.status_code < 500, (name, what, method, response.status_code)
            if api and response.status_code != 204:
                content_type = response.get("Content-Type", "")
                assert not content_type.startswith("text/html"), (name, what, method)
            if not api and response.status_code >= 400:
                assert (
                    b"Traceback" not in response.content and b"urlpatterns" not in response.content
                )
