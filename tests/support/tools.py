"""System tools some tests run (bsdtar, unzip, curl, jq): their path, or a failure naming
the tool and the Debian package that has it.

``scripts/test.sh`` installs them first (``scripts/system-tools.sh``), so this fails only
where that could not run (no root, no apt-get, ``HEYGEM_SYSTEM_TOOLS=skip``). A test that
needs a tool fails rather than skips: a skipped check proves nothing.
"""

from __future__ import annotations

import shutil

import pytest


def system_tool(name: str, package: str) -> str:
    """The absolute path of ``name`` on PATH; fails the test, naming it, when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: this test runs it. ./scripts/test.sh installs it "
            f"(scripts/system-tools.sh), or: apt-get install {package}",
            pytrace=False,
        )
    return path
