"""./scripts/run.sh as a person starts it (issue #15, item 6): DEBUG off, so a wrong address
gets the site's own page (the API's gets JSON), never the URL list or a traceback, over plain
http://127.0.0.1; and a worker cluster that dies is restarted while the site stays up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT, stop_process_group, wait_for

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(session_root: int) -> list[int]:
    """Pids of `manage.py qcluster` parents started by the run.sh process `session_root`."""
    rows = subprocess.run(
        ["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    parents = {int(r.split()[0]): int(r.split()[1]) for r in rows}
    found = []
    for row in rows:
        pid, ppid, args = row.split(None, 2)
        if "manage.py qcluster" not in args:
            continue
        ancestor, hops = int(ppid), 0
        while ancestor not in (0, 1, session_root) and hops < 5:
            ancestor, hops = parents.get(ancestor, 0), hops + 1
        if ancestor == session_root and parents.get(int(ppid)) != int(pid):
            found.append(int(pid))
    return [p for p in found if parents.get(p) not in found]  # the cluster parents only


def test_run_sh_serves_safe_error_pages_and_restarts_a_dead_worker(tmp_path: Path) -> None:
    port = _port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HEYGEM_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "Q_CLUSTER_NAME": f"run-sh-{port}",
    }
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok
            except (requests.ConnectionError, requests.Timeout):
                return False  # not listening yet, or still starting (slow on a busy machine)

        wait_for(up, timeout=240, what="run.sh to serve the site")
        page = requests.get(f"{base}/no-such-page/", timeout=10, allow_redirects=False)
        assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
        assert "There is nothing at this address" in page.text
        assert "urlpatterns" not in page.text and "DEBUG" not in page.text
        api = requests.get(f"{base}/api/v1/no-such-thing/", timeout=10)
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        login = requests.get(f"{base}/accounts/login/", timeout=10, allow_redirects=False)
        assert login.status_code == 200  # plain HTTP: no redirect to https
        assert "Secure" not in login.headers.get("Set-Cookie", "")

        first = wait_for(lambda: _workers(proc.pid), timeout=60, what="the worker cluster")
        for pid in first:  # type: ignore[union-attr]
            os.killpg(pid, signal.SIGKILL)  # the whole cluster, as the OOM killer might
        again = wait_for(
            lambda: [p for p in _workers(proc.pid) if p not in first],  # type: ignore[operator]
            timeout=60,
            what="run.sh to restart the worker cluster",
        )
        assert again
        assert requests.get(f"{base}/healthz", timeout=10).ok  # the site never went down
        assert proc.poll() is None
    finally:
        stop_process_group(proc)
        log.close()
        time.sleep(0.5)
    output = (tmp_path / "run.log").read_text()
    assert "restarting it in 2 s" in output
