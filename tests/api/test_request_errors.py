"""Bodies the server cannot take: JSON in the API's error shape on /api/ routes, a plain
page on the site's forms, never a 500 or a traceback (issue #15, items 2 and 3)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

API_POSTS = ["/api/v1/batches/", "/api/v1/webhooks/", "/api/v1/exports/"]


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"].endswith(".")
    return dict(body["error"])


@pytest.mark.parametrize("path", API_POSTS)
@pytest.mark.parametrize("depth", [40, 1000, 100_000])
def test_deeply_nested_json_is_a_400_in_the_api_shape(
    api: APIClient, path: str, depth: int
) -> None:
    body = "[" * depth + "]" * depth
    response = api.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and "nested more than 32 levels" in error["message"]
    nested = json.dumps({"audio": [[[[[[["x"]]]]]]]})  # deep enough to be wrong, not refused
    response = api.generic("POST", path, nested, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_broken_json_is_a_400_in_the_api_shape(api: APIClient) -> None:
    for body in ['{"name": ', b'{"name": "\xff"}', "[1, 2", "\x00"]:
        response = api.generic("POST", "/api/v1/batches/", body, content_type="application/json")
        assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_a_body_over_the_limit_is_a_json_413(api: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    big = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    for path in API_POSTS:
        response = api.generic("POST", path, big, content_type="application/json")
        assert response.status_code == 413
        error = error_of(response)
        assert error["code"] == "too_large" and "larger than 2.0" in error["message"]


def test_too_many_fields_is_a_json_400_on_the_api(api: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    form = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    response = api.generic(
        "POST", "/api/v1/batches/", form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "more than 1000 fields" in error_of(response)["message"]


def test_unknown_api_routes_answer_json_and_pages_answer_a_page(
    api: APIClient, owner_client: Client
) -> None:
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    page = owner_client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert b"There is nothing at this address" in page.content
    assert b"urlpatterns" not in page.content and b"Traceback" not in page.content


def test_a_page_form_with_too_many_fields_gets_a_page_that_says_why(
    owner: User, owner_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    fields = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5)}
    response = owner_client.post(reverse("batch_new"), fields)
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert b"more than 1000 fields" in response.content
    assert not owner.batches.exists()
