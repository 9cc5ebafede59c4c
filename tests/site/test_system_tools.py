"""scripts/system-tools.sh, which ./scripts/test.sh runs first (issue 27): the system tools
the tests use are set up by the README's test command itself, and a test that needs a
missing one names it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import ROOT
from tests.support.tools import system_tool

SCRIPT = ROOT / "scripts" / "system-tools.sh"
BASH = shutil.which("bash") or "/bin/bash"
# Every command the script looks for, and those it runs itself.
TOOLS = ["chromium", "bsdtar", "unzip", "curl", "jq", "xgettext", "msgfmt", "espeak-ng", "sox"]
# Not sudo nor apt-get: the script must find it cannot install, whoever runs the test.
USED = ["bash", "fc-list", "grep", "id", "env"]


def _path_without(root: Path, missing: set[str]) -> str:
    """A PATH of links to the real tools, less ``missing``, that any user can read."""
    bin_dir = root / "bin"
    bin_dir.mkdir(mode=0o755)
    for name in TOOLS + USED:
        real = shutil.which(name)
        if real is not None and name not in missing:
            (bin_dir / name).symlink_to(real)
    return str(bin_dir)


def test_it_does_nothing_and_says_nothing_when_every_tool_is_there() -> None:
    for tool in TOOLS:
        system_tool(tool, tool)  # this machine's set-up ran: the premise of the test

    done = subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_it_names_what_is_missing_and_what_needs_it() -> None:
    # As a user who cannot install (nobody): it says what it would install, in one line,
    # and how, and lets the tests run (those that need the tool then name it).
    with tempfile.TemporaryDirectory() as name:  # under /tmp: pytest's tmp_path is root's only
        root = Path(name)
        root.chmod(0o755)
        path = _path_without(root, {"sox", "jq"})
        command = [BASH, str(SCRIPT)]
        if os.geteuid() == 0:
            command = [shutil.which("runuser") or "runuser", "-u", "nobody", "--", *command]

        done = subprocess.run(
            command, capture_output=True, text=True, timeout=60, env={"PATH": path}, cwd=root
        )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "==> installing system tools for the tests: jq (API walk-through) sox (test speech)"
    ]
    assert "apt-get install jq sox" in done.stderr


def test_it_can_be_turned_off() -> None:
    done = subprocess.run(
        [BASH, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/nonexistent", "HEYGEM_SYSTEM_TOOLS": "skip"},
    )

    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_a_test_that_needs_a_missing_tool_names_it() -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        system_tool("heygem-no-such-tool", "heygem-tools")

    assert "heygem-no-such-tool is not installed" in str(failed.value)
    assert "apt-get install heygem-tools" in str(failed.value)
