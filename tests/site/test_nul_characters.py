"""A NUL character in any text of a request answers 400 with a sentence (the API's error
shape under /api/), never a 500: PostgreSQL cannot store or compare one (psycopg.DataError;
CI's second leg runs these on PostgreSQL, where each case answered 500 before)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, User
from jobs.models import Batch
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db

SENTENCE = "contains a NUL character"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/batches/?search=%00",
        "/api/v1/batches/?search=a%00b&status=done",
        "/api/v1/batches/?status=%00",
        "/api/v1/templates/?face_status=%00",
        "/api/v1/templates/?%00=1",
        "/api/v1/audio/?cursor=%00",
        "/api/v1/notices/?x=%00",
    ],
)
def test_every_api_filter_refuses_a_nul_in_the_api_error_shape(owner: User, path: str) -> None:
    api: APIClient = key_client(owner)
    response = api.get(path)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid" and SENTENCE in error["message"]


@pytest.mark.parametrize(
    "path",
    ["/history/?q=%00", "/history/?q=x%00&page=2", "/templates/?q=%00", "/dashboard/?next=%00"],
)
def test_every_page_filter_refuses_a_nul_with_a_sentence(owner_client: Client, path: str) -> None:
    response = owner_client.get(path)
    assert response.status_code == 400
    assert SENTENCE in response.content.decode()


def test_a_form_with_a_nul_creates_nothing(owner: User, owner_client: Client) -> None:
    response = owner_client.post("/accounts/api-keys/", {"name": "ci\x00key", "scope": "read"})
    assert response.status_code == 400  # multipart, as the test client sends it
    assert SENTENCE in response.content.decode()
    response = owner_client.post(
        "/accounts/api-keys/",
        "name=ci%00key&scope=read",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400  # form-encoded, as a browser sends it
    assert SENTENCE in response.content.decode()
    assert not ApiKey.objects.filter(user=owner).exists()
    # The same form without it works (the check refuses the NUL, not the form).
    assert (
        owner_client.post("/accounts/api-keys/", {"name": "ci key", "scope": "read"}).status_code
        == 200
    )
    assert ApiKey.objects.filter(user=owner, name="ci key").exists()


def test_a_json_body_with_a_nul_is_refused_by_its_field(owner: User) -> None:
    api = key_client(owner)
    response = api.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/\x00", "events": ["batch.completed"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    response = api.post(
        "/api/v1/batches/", {"audio": "x", "templates": [], "name": "a\x00b"}, format="json"
    )
    assert response.status_code == 400
    assert not Batch.objects.exists()


def test_an_encoded_percent_sign_is_not_taken_for_a_nul(owner_client: Client) -> None:
    assert owner_client.get("/history/?q=%2500").status_code == 200


def test_every_query_parameter_of_the_api_schema_refuses_a_nul(owner: User) -> None:
    """Each parameter the schema lists, on each operation that has one (ids are random:
    the check comes before the lookup)."""
    import re
    import uuid

    schema = Client().get("/api/v1/schema/?format=json").json()
    api = key_client(owner)
    checked = 0
    for route, operations in schema["paths"].items():
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route)
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                response = getattr(api, method)(f"{url}?{parameter['name']}=a%00b")
                assert response.status_code == 400, (method, route, parameter["name"])
                assert SENTENCE in response.json()["error"]["message"]
                checked += 1
    assert checked >= 5
