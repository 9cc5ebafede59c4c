"""Fixtures for the browser tests: a real Chromium (Playwright), a real worker cluster, and a
template video with no face in it.

The live server (pytest-django's ``live_server``) runs in this process and enqueues with this
process's django-q2 settings; the worker is a ``manage.py qcluster`` subprocess. Both must use
one queue name, so each test picks a unique one and sets it on both sides (see ``queue_name``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.support.processes import child_env, worker

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        # A browser test that skips silently when the browser is missing proves nothing;
        # CI installs Debian's chromium, and so must anyone running these tests.
        pytest.fail(
            "Chromium is not installed, so the browser tests cannot run. "
            "Install it (Debian/Ubuntu: apt-get install chromium) and run the tests again.",
            pytrace=False,
        )
    return path


@pytest.fixture
def artifacts_dir() -> Path:
    """Screenshots and logs of the browser tests (gitignored; CI keeps them as artifacts)."""
    path = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def live_worker(queue_name: str, artifacts_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A real worker cluster on the test database; yields its log file."""
    log_path = artifacts_dir / f"worker-{queue_name}.log"  # one per test: runs never share it
    env = child_env(Q_CLUSTER_NAME=queue_name)
    with worker(env, log_path) as proc:
        yield log_path
        assert proc.poll() is None, f"the worker died early; see {log_path}"


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A Chromium page at 1200x900 that records uncaught JS errors in ``page.js_errors``."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    # Playwright's sync API keeps an event loop in this thread; Django's ORM (used by the
    # test database's teardown and by this test's own checks) refuses to run beside one.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        context.set_default_timeout(30_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

        def on_console(msg: Any) -> None:
            # HTTP errors show up as "Failed to load resource"; the test expects some (the
            # rejected upload's 400, the missing favicon's 404) and checks what the page
            # shows for them, so only script errors count here.
            if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                url = (msg.location or {}).get("url", "")
                errors.append(f"console: {msg.text} ({url})")

        page.on("console", on_console)
        page.js_errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()
            browser.close()


def write_faceless_video(path: Path, *, seconds: float = 2.0, size: int = 160) -> Path:
    """A real H.264 video with nothing like a face in it: a slowly drifting colour gradient.

    It passes upload probing (a readable video stream) and fails at face tracking.
    """
    fps = 25
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            t = i / fps
            rgb = np.stack(
                [
                    0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.2 * t)),
                    0.5 + 0.5 * np.sin(2 * np.pi * (y + 0.15 * t)),
                    np.full_like(x, 0.4 + 0.1 * np.sin(t)),
                ],
                axis=-1,
            )
            frame = av.VideoFrame.from_ndarray((rgb * 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture
def faceless_mp4(tmp_path: Path) -> Path:
    return write_faceless_video(tmp_path / "no_face.mp4")


@pytest.fixture
def not_a_video(tmp_path: Path) -> Path:
    path = tmp_path / "bad.mp4"
    path.write_text("This is a shopping list, not a video.\nmilk\neggs\n")
    return path
