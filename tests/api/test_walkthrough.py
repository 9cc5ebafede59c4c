# ruff: noqa: F811  (pytest fixtures imported from the UI tests are parameters here)
"""The curl walk-through of docs/api.md (linked from the README), run verbatim against a live
server and a real worker."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from accounts.services import api_key_create
from tests.api.conftest import FIXTURES
from tests.support.tools import system_tool
from tests.ui.conftest import artifacts_dir, live_worker  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def walkthrough_script() -> str:
    text = README.read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert block, "the README lost its walk-through block"
    return block.group(1)


def test_the_readme_walkthrough_works(
    live_server: Any, live_worker: Path, owner: User, tmp_path: Path
) -> None:
    for name in ("speech.wav", "face.mp4", "face_with_audio.mp4"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    _key, raw = api_key_create(user=owner, name="walk-through")
    system_tool("curl", "curl")
    system_tool("jq", "jq")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough_script()],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HEYGEM_URL": live_server.url, "HEYGEM_KEY": raw},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        tail = live_worker.read_text(errors="replace")[-3000:]
        pytest.fail(f"walk-through failed ({result.returncode}):\n{output}\n--- worker ---\n{tail}")
    assert "done: 2 / 2 done" in output
    with zipfile.ZipFile(tmp_path / "batch.zip") as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    assert sum(n.endswith(".mp4") for n in names) == 2, names
    assert any(n.endswith("manifest.csv") for n in names), names
