from __future__ import annotations

from pathlib import Path

import numpy as np

from rendering import faces
from rendering.audio import analyse
from rendering.engines import get_engine
from rendering.quality import measure_sync, offset_correlations
from tests.rendering.plain_av import FACE, SPEECH, speech_clip

pytest_plugins = ["tests.rendering.face_fixtures"]


def test_offset_correlations_find_a_known_lag() -> None:
    rng = np.random.default_rng(1)
    envelope = np.convolve(rng.random(200), np.ones(4) / 4, mode="same")
    gaps = np.roll(envelope, 3)  # the mouth moves 3 frames after the sound

    corrs = offset_correlations(gaps, envelope, 10)

    assert int(np.argmax(corrs)) - 10 == 3


def test_the_sync_measure_separates_synced_from_shifted_audio(
    tmp_path: Path, shared_cache: Path
) -> None:
    features = analyse(SPEECH, cache_dir=shared_cache)
    video = tmp_path / "out.mp4"
    get_engine("classic").render(
        template=FACE,
        track=faces.track(FACE, cache_dir=shared_cache),
        audio=features,
        audio_path=SPEECH,
        out_path=video,
    )
    shifted = speech_clip(tmp_path / "late.wav", features.duration, shift=0.5)

    synced = measure_sync(video, features, template=FACE, cache_dir=shared_cache)
    late = measure_sync(video, shifted, cache_dir=shared_cache)

    assert synced.corr_at_0 > 0.6
    assert abs(synced.best_offset) <= 2
    assert synced.psnr_outside is not None and synced.psnr_outside > 35
    assert late.corr_at_0 < synced.corr_at_0 - 0.3
    # The measure sees the shift: the best offset says the video is ~12 frames early.
    assert -15 <= late.best_offset <= -9
    assert late.psnr_outside is None
