"""HTTP edges (issue #24 item 7): an early 413 for a body declared larger than any upload,
refusals that leave a keep-alive connection usable, invalid ranges ignored (RFC 9110), and
a Content-Security-Policy on every answer. The browser half is in tests/ui/test_csp.py."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import ApiKeyScope, User
from accounts.services import api_key_create
from heygem_site.http_edges import CONTENT_SECURITY_POLICY
from jobs.models import JobStatus
from tests.support.processes import child_env, gunicorn

pytestmark = pytest.mark.django_db

HUGE = 10 * 1000**3  # the adversarial run's 10 GB multipart declaration


def test_a_body_declared_larger_than_any_upload_is_refused_before_it_is_read(
    owner_client: Client,
) -> None:
    api = owner_client.post(
        "/api/v1/audio/",
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(HUGE),
    )
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "too_large"
    assert "the upload limit is" in api.json()["error"]["message"]
    page = owner_client.post(
        "/uploads/audio/",
        b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(HUGE),
    )
    assert page.status_code == 413 and "the upload limit is" in page.content.decode()


def test_an_invalid_range_is_ignored_and_the_whole_file_sent(
    owner_client: Client, make_batch
) -> None:  # type: ignore[no-untyped-def]
    batch = make_batch(statuses=(JobStatus.SUCCEEDED,))
    job = batch.jobs.get()
    url = f"/jobs/{job.pk}/video.mp4"
    whole = owner_client.get(url, HTTP_RANGE="bytes=5-2")
    assert whole.status_code == 200
    assert int(whole["Content-Length"]) == job.output_size
    assert owner_client.get(url, HTTP_RANGE="bytes=2-5").status_code == 206
    assert owner_client.get(url, HTTP_RANGE=f"bytes={job.output_size + 5}-").status_code == 416


def test_an_invalid_range_of_an_export_is_ignored_too(owner: User, make_batch) -> None:  # type: ignore[no-untyped-def]
    from jobs.export import export_link_create

    batch = make_batch(statuses=(JobStatus.SUCCEEDED,))
    link = export_link_create(user=owner, batch_ids=[batch.pk])
    response = Client().get(link.url, HTTP_RANGE="bytes=9-3")
    assert response.status_code == 200
    assert int(response["Content-Length"]) == link.size


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/docs/", "/admin/login/"])
def test_every_answer_carries_the_content_security_policy(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<script>" not in response.content.decode()  # nothing inline for it to block


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_throttled_request_with_an_unread_body_leaves_the_connection_usable(
    owner: User, tmp_path: Path
) -> None:
    """A 429 answered before the view read a 1 MB body: the next request on the same
    keep-alive connection is answered, not dropped."""
    _key, raw = api_key_create(user=owner, name="edge", scope=ApiKeyScope.WRITE)
    env = child_env(LOG_DIR=str(tmp_path / "log"), API_RATE_CREATE="1/hour")
    with gunicorn(tmp_path, env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        auth = {"Authorization": f"Bearer {raw}"}
        body = json.dumps({"name": "x" * 1_000_000, "audio": "a", "templates": []})
        statuses = []
        for _ in range(3):
            connection.request(
                "POST",
                "/api/v1/batches/",
                body=body,
                headers=auth | {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            statuses.append(response.status)
            payload = json.loads(response.read())
            assert "error" in payload
            connection.request("GET", "/api/v1/usage/", headers=auth)  # the same connection
            follow = connection.getresponse()
            assert follow.status == 200 and "quota_bytes" in json.loads(follow.read())
            assert follow.getheader("Connection", "").lower() != "close"
        assert statuses[1:] == [429, 429], statuses
