"""A track's per-frame trust (a head pose fit per frame) is computed once per track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rendering import faces
from tests.rendering.plain_av import FACE

pytest_plugins = ["tests.rendering.face_fixtures"]


def test_trust_is_fitted_once_and_callers_get_their_own_copy(
    shared_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    track = faces.track(FACE, cache_dir=shared_cache)
    fitted: list[int] = []
    real = faces.frame_trust

    def counting(*args: object, **kwargs: object) -> float:
        fitted.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(faces, "frame_trust", counting)

    first = track.trust()
    first[:] = -1.0  # a caller's changes stay its own
    second = track.trust()
    again = faces.track(FACE, cache_dir=shared_cache).trust()  # another track: fitted again

    assert len(fitted) == 2 * int(track.present.sum())
    assert np.array_equal(second, again)
    assert second.min() >= 0.0 and second.max() > 0.5
    assert not np.array_equal(track.trust(min_eye_distance=1e4), second)  # its own entry
