"""Which rendering engines this server offers, and the options the worker builds them with.

``rendering`` knows nothing of settings: this module is where settings become engine
options. Pages, services and the API list :func:`engines_offered`; the worker builds each
engine once per process with :func:`engine_options`; audio is analysed with the options
from :func:`analysis_options`, so a neural batch's Whisper layers are computed once per
batch (in ``batch_prepare``) and found in the cache by every job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def engine_options(name: str) -> dict[str, Any]:
    """Options for ``rendering.engines.get_engine(name, **options)`` from settings."""
    if name == "neural":
        return {
            "model_dir": settings.NEURAL_MODEL_DIR or None,
            "device": settings.NEURAL_DEVICE,
            "batch_size": settings.NEURAL_BATCH_SIZE or None,
            "compile": settings.NEURAL_COMPILE,
            "bbox_shift": settings.NEURAL_BBOX_SHIFT,
        }
    if name == "classic":
        # Template mouth libraries are kept here (keyed by content and face track), so a
        # template is analysed once (in template_analyse) and every batch reuses it.
        return {"cache_dir": str(settings.RENDER_CACHE_DIR)}
    return {}


def engines_offered() -> list[str]:
    """Engine names a new batch may use here (the neural one only when configured)."""
    from rendering.engines import available_engines

    return available_engines(engine_options)


def engine_problem(name: str) -> str | None:
    """Why ``name`` cannot be used on this server (a sentence), or None."""
    from rendering.engines import engine_problem as problem
    from rendering.engines import known_engines

    if name not in known_engines():
        return "Choose one of: " + ", ".join(engines_offered()) + "."
    return problem(name, engine_options(name))


def analysis_options(engine: str) -> dict[str, Any]:
    """Keyword arguments for ``rendering.audio.analyse`` for a batch rendered by ``engine``."""
    if engine == "neural" and settings.NEURAL_MODEL_DIR:
        from rendering.neural.layout import whisper_checkpoint

        return {
            "whisper_model": whisper_checkpoint(Path(settings.NEURAL_MODEL_DIR)),
            "transcribe": False,
        }
    return {"whisper_model": settings.WHISPER_MODEL_PATH or None}
