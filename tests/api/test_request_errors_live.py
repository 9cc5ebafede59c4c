"""The same refusals through gunicorn (as ./scripts/run.sh serves the site), on one
keep-alive connection: a body over the limit gets the JSON 413, and the next request on
that connection is still answered (issue #15, item 3)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from accounts.models import ApiKeyScope, User
from accounts.services import api_key_create
from tests.support.processes import ROOT, child_env, stop_process_group, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_body_leaves_the_keep_alive_connection_usable(
    owner: User, tmp_path: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    _key, raw = api_key_create(user=owner, name="live", scope=ApiKeyScope.WRITE)
    port = _port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "heygem_site.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2",
         "--error-logfile", str(tmp_path / "error.log")],
        cwd=ROOT,
        env=child_env(LOG_DIR=str(tmp_path / "log"), DEBUG="1"),
        start_new_session=True,
    )  # fmt: skip
    try:

        def up() -> bool:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            except OSError:
                time.sleep(0.2)
                return False

        wait_for(up, timeout=60, what="gunicorn to answer")
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
    finally:
        stop_process_group(proc)
