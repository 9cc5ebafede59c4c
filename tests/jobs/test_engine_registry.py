"""One record per engine (rendering.engines.ENGINES): the worker's options, the pool, the
name users read, the engine's failures and its settings' bounds all come from it, and a new
engine is one more record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from heygem_site.formats import engine_label
from jobs.render.queue import engine_pool
from jobs.render.worker.engines import (
    analysis_options,
    engine_options,
    engine_problem,
    engines_offered,
    mouth_library_wanted,
)
from jobs.user_errors import error_text
from rendering.engines import ENGINES, EngineSpec, get_engine
from rendering.engines.classic import ClassicEngine


def test_every_engine_has_a_name_and_failures_in_both_languages() -> None:
    for name, spec in ENGINES.items():
        with translation.override("en"):
            english = engine_label(name)
        with translation.override("zh-hans"):
            chinese = engine_label(name)
        assert english == spec.label and chinese and chinese != english, name
        for code, sentence in spec.errors.items():
            params = {"limit": 64}
            with translation.override("en"):
                assert error_text(code, params, "") == sentence % params
            with translation.override("zh-hans"):
                worded = error_text(code, params, "")
            assert worded != sentence % params, code
            assert "64" in worded or "%(limit)s" not in sentence, code
    with translation.override("zh-hans"):
        assert engine_label("classic") == "经典（CPU）"
        assert engine_label("someday") == "someday"  # an engine this site does not know


def test_the_worker_builds_each_engine_from_its_settings(settings: Any, tmp_path: Path) -> None:
    settings.RENDER_CACHE_DIR = tmp_path / "cache"
    settings.NEURAL_DEVICE = "cpu"
    settings.NEURAL_BATCH_SIZE = 0
    settings.NEURAL_MODEL_DIR = ""
    settings.WHISPER_MODEL_PATH = "/models/whisper.pt"

    assert engine_options("classic") == {"cache_dir": str(tmp_path / "cache")}
    assert engine_options("neural") == {
        "model_dir": None,
        "device": "cpu",
        "batch_size": None,
        "compile": settings.NEURAL_COMPILE,
        "bbox_shift": settings.NEURAL_BBOX_SHIFT,
    }
    # Without a model the neural engine is not offered, and its batches would be analysed
    # with the transcribing Whisper like the classic engine's.
    assert engines_offered() == ["classic"]
    assert "NEURAL_MODEL_DIR" in (engine_problem("neural") or "")
    assert analysis_options("neural") == analysis_options("classic")
    assert analysis_options("classic") == {"whisper_model": "/models/whisper.pt"}
    assert mouth_library_wanted()


def test_the_neural_bound_is_the_crop_s_own() -> None:
    from rendering.neural.crop import BBOX_SHIFT_LIMIT

    assert ENGINES["neural"].limits["NEURAL_BBOX_SHIFT"] == (-BBOX_SHIFT_LIMIT, BBOX_SHIFT_LIMIT)


def test_a_new_engine_is_one_record(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second CPU engine (the classic one at a higher quality) sent to its own pool: the
    list a new batch offers, the worker's options, the queue and the label follow its record."""
    settings.ENGINE_POOLS = {}
    settings.CLASSIC_FINE_CRF = 14
    monkeypatch.setitem(
        ENGINES,
        "classic-fine",
        EngineSpec(
            engine="rendering.engines.classic:ClassicEngine",
            label="Classic, finer (CPU)",
            options=lambda setting: {"crf": setting("CLASSIC_FINE_CRF"), "library": False},
            pool="cpu-fine",
        ),
    )

    assert engines_offered() == ["classic", "classic-fine"]
    assert engine_options("classic-fine") == {"crf": 14, "library": False}
    assert engine_pool("classic-fine") == "cpu-fine"
    assert engine_pool("classic") == ""
    assert engine_label("classic-fine") == "Classic, finer (CPU)"
    built = get_engine("classic-fine", **engine_options("classic-fine"))
    assert isinstance(built, ClassicEngine)
    settings.ENGINE_POOLS = {"classic-fine": "big"}
    assert engine_pool("classic-fine") == "big"  # ENGINE_POOLS still wins
