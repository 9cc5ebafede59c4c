from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from jobs.models import Batch
from tests.api.conftest import FIXTURES, key_client

pytestmark = pytest.mark.django_db


def test_creation_is_limited_per_key_with_retry_after(settings, owner: User, batch: Batch) -> None:
    settings.API_RATES = {"create": "2/minute", "upload": "100/minute"}
    first, second = key_client(owner), key_client(owner)
    payload = {"audio": str(batch.audio_id), "templates": [str(batch.jobs.first().template_id)]}
    for _ in range(2):
        assert first.post("/api/v1/batches/", payload, format="json").status_code == 201
    refused = first.post("/api/v1/batches/", payload, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "Try again in" in refused.json()["error"]["message"]
    assert Batch.objects.count() == 3  # the fixture's batch and two from the key
    # Reads are not throttled, and another key has its own bucket.
    assert first.get("/api/v1/batches/").status_code == 200
    assert second.post("/api/v1/batches/", payload, format="json").status_code == 201


def test_uploads_are_limited_separately(settings, owner: User) -> None:
    settings.API_RATES = {"create": "100/minute", "upload": "1/hour"}
    client: APIClient = key_client(owner)
    with open(FIXTURES / "speech.wav", "rb") as fh:
        assert client.post("/api/v1/audio/", {"file": fh}, format="multipart").status_code == 201
    with open(FIXTURES / "speech.wav", "rb") as fh:
        refused = client.post("/api/v1/audio/", {"file": fh}, format="multipart")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 60
