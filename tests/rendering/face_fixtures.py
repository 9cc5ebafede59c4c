"""Pytest fixtures for the face, engine, pipeline, quality and CLI tests.

Test modules load this with ``pytest_plugins`` (tests/rendering/conftest.py belongs to the
media/audio tests); plain helpers live in ``plain_av``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.rendering.plain_av import FACE, decode


@pytest.fixture(scope="session")
def face_frames() -> list[np.ndarray]:
    return decode(FACE)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render cache for tests that do not count runs: the fixture is tracked once."""
    return tmp_path_factory.mktemp("render-cache")
