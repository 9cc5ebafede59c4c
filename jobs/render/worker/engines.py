"""Which rendering engines this server offers, and the options the worker builds them with.

``rendering`` knows nothing of settings: each engine's record in
``rendering.engines.ENGINES`` names the settings its options come from, and this module
reads them. Pages, services and the API list :func:`engines_offered`; the worker builds each
engine once per process with :func:`engine_options`; audio is analysed with the options
from :func:`analysis_options`, so a neural batch's Whisper layers are computed once per
batch (in ``batch_prepare``) and found in the cache by every job.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from rendering.engines import ENGINES, EngineSpec, available_engines, known_engines
from rendering.engines import engine_problem as _problem


def _setting(name: str) -> Any:
    return getattr(settings, name)


def engine_spec(name: str) -> EngineSpec | None:
    return ENGINES.get(name)


def engine_options(name: str) -> dict[str, Any]:
    """Options for ``rendering.engines.get_engine(name, **options)`` from settings."""
    spec = ENGINES.get(name)
    return spec.options(_setting) if spec is not None else {}


def engines_offered() -> list[str]:
    """Engine names a new batch may use here (the neural one only when configured)."""
    return available_engines(engine_options)


def engine_problem(name: str) -> str | None:
    """Why ``name`` cannot be used on this server (a sentence), or None."""
    if name not in known_engines():
        return "Choose one of: " + ", ".join(engines_offered()) + "."
    return _problem(name, engine_options(name))


def analysis_options(engine: str) -> dict[str, Any]:
    """Keyword arguments for ``rendering.audio.analyse`` for a batch rendered by ``engine``."""
    spec = ENGINES.get(engine)
    if spec is None or spec.analysis is None:
        return {"whisper_model": settings.WHISPER_MODEL_PATH or None}
    return spec.analysis(_setting)


def mouth_library_wanted() -> bool:
    """Whether an engine offered here draws from templates' own mouths (analysed with the
    template's face check, so the first render finds them ready)."""
    return any(ENGINES[name].mouth_library for name in engines_offered())
