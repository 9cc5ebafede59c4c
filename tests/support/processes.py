"""Start real processes (a django-q2 cluster, a web server) against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """A DATABASE_URL for the database this test process is using right now."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="heygem_site.settings",
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        RENDER_CACHE_DIR=str(settings.RENDER_CACHE_DIR),
        SCRATCH_DIR=str(settings.SCRATCH_DIR),
        WHISPER_MODEL_DIR=str(settings.WHISPER_MODEL_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def unique_cluster_name() -> str:
    # Each test gets its own queue, so a stray worker (a dev server, a parallel run)
    # never steals its tasks and leftovers never leak into the next test.
    return f"test-{uuid.uuid4().hex[:10]}"


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


@contextmanager
def worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `manage.py qcluster` process; stopped (TERM, then KILL) on exit."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], *, hard: bool = False) -> None:
    """Stop a process we started in its own session.

    A clean stop sends TERM to the parent alone: django-q2's cluster then stops its own
    children in about a second, while a TERM to every process of the group at once leaves
    it waiting on children that are already gone. KILL goes to the whole group.
    """
    if proc.poll() is not None:
        return
    try:
        if hard:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    proc.wait(timeout=10)


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def gunicorn(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real gunicorn serving the site (one worker, two threads); yields its base URL.

    The listening socket is bound here and handed to gunicorn as ``fd://N``: choosing a free
    port, closing it and letting the server bind it again would leave a moment in which
    another process (a parallel run) could take it.
    """
    import requests

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    port = int(listener.getsockname()[1])
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "heygem_site.wsgi:application",
         "--bind", f"fd://{listener.fileno()}", "--workers", "1", "--threads", "2",
         "--control-socket", str(tmp_path / "gunicorn.ctl"), *args],
        cwd=ROOT,
        env=env or child_env(LOG_DIR=str(tmp_path / "log")),
        pass_fds=(listener.fileno(),),
        start_new_session=True,
    )  # fmt: skip
    listener.close()  # gunicorn holds it now
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_for(up, timeout=60, what="gunicorn to answer")
        yield base
    finally:
        stop_process_group(proc)
