"""The API takes as many batches per export as the pages and the README say: 100."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from jobs.export import MAX_BATCHES_PER_EXPORT

pytestmark = pytest.mark.django_db


def test_an_export_takes_up_to_100_batches(api: APIClient) -> None:
    assert MAX_BATCHES_PER_EXPORT == 100
    ids = [str(uuid.uuid4()) for _ in range(MAX_BATCHES_PER_EXPORT + 1)]
    within = api.post("/api/v1/exports/", {"batches": ids[:51]}, format="json")
    assert within.status_code == 404  # the count is fine; these ids are nobody's
    at_limit = api.post("/api/v1/exports/", {"batches": ids[:100]}, format="json")
    assert at_limit.status_code == 404
    over = api.post("/api/v1/exports/", {"batches": ids}, format="json")
    assert over.status_code == 400 and over.json()["error"]["code"] == "invalid"
    assert "100" in over.json()["error"]["message"]
