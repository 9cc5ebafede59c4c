"""The same refusals through gunicorn (as ./scripts/run.sh serves the site), on one
keep-alive connection: a body over the limit gets the JSON 413, and the next request on
that connection is still answered (issue #15, item 3)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from accounts.models import ApiKeyScope, User
from accounts.services import api_key_create
from tests.support.processes import child_env, gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_refused_body_leaves_the_keep_alive_connection_usable(
    owner: User, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    _key, raw = api_key_create(user=owner, name="live", scope=ApiKeyScope.WRITE)
    with gunicorn(
        tmp_path,
        "--error-logfile",
        str(tmp_path / "error.log"),
        env=child_env(LOG_DIR=str(tmp_path / "log"), DEBUG="1"),
    ) as base:
        port = int(base.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}
        big = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
        deep = "[" * 5000 + "]" * 5000
        for body, status in [(big, 413), (deep, 400), (big, 413)]:
            connection.request("POST", "/api/v1/batches/", body=body, headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read())
            assert response.status == status, payload
            assert response.getheader("Content-Type", "").startswith("application/json")
            assert payload["error"]["code"] in ("too_large", "invalid")
            # The same connection (or, where the server closed it, a fresh one) still works.
            auth = {"Authorization": headers["Authorization"]}
            connection.request("GET", "/api/v1/usage/", headers=auth)
            follow = connection.getresponse()
            assert follow.status == 200 and "quota_bytes" in json.loads(follow.read())
