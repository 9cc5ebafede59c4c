"""Lip-sync engines, chosen by name from one registry (:data:`ENGINES`).

Each engine has one :class:`EngineSpec` record below: the class that renders (imported
only when built, so asking for "classic" never imports torch), the options it is built
with and the settings they come from, the worker pool its renders go to, the name shown to
users, its failures worded for users, bounds on its settings, and whether it uses the
template's own mouth library. The worker, the pages, the catalogs and settings all read
this table; a new engine is its module in this package plus one record here.

A factory may refuse to build (missing weights, no GPU) by raising ``RenderingError`` with
a sentence saying what to configure. An engine that needs configuration has a cheap check
(``problem``, no model loading): it is offered by :func:`available_engines` only when its
options pass it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from rendering.engines.base import Engine, RenderResult, output_frame_count, ping_pong_index
from rendering.errors import RenderingError

__all__ = [
    "ENGINES",
    "Engine",
    "EngineSpec",
    "RenderResult",
    "available_engines",
    "engine_problem",
    "get_engine",
    "known_engines",
    "output_frame_count",
    "ping_pong_index",
]

# A setting's value by its name (the Django side passes its settings; this library has none).
Setting = Callable[[str], Any]


def gettext_noop(message: str) -> str:
    """Marks text for the translation catalogs, which the site words in the reader's
    language (makemessages reads this name); this library stays free of Django."""
    return message


@dataclass(frozen=True)
class EngineSpec:
    """Everything the product needs to know about one engine."""

    # "module:Class" of the Engine, imported when first built.
    engine: str
    # The name shown to users (English; a catalog entry).
    label: str
    # Options to build it with, from the site's settings (`setting(name)` reads one).
    options: Callable[[Setting], dict[str, Any]] = lambda setting: {}
    # The worker pool its renders go to when ENGINE_POOLS does not name one ("": the main one).
    pool: str = ""
    # Why it cannot be built with these options (a sentence), or None when it can; cheap.
    problem: Callable[[Mapping[str, Any]], str | None] | None = None
    # Keyword arguments for rendering.audio.analyse for a batch it renders.
    analysis: Callable[[Setting], dict[str, Any]] | None = None
    # Its failures, by code, as users read them (English; catalog entries).
    errors: Mapping[str, str] = field(default_factory=dict)
    # Settings it reads that must lie within bounds: name -> (lowest, highest).
    limits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # It draws from the template's own mouths: analyse them with the template's face check.
    mouth_library: bool = False

    def engine_class(self) -> type[Engine]:
        module, _, name = self.engine.partition(":")
        engine_class: type[Engine] = getattr(import_module(module), name)
        return engine_class

    def build(self, **options: Any) -> Engine:
        return self.engine_class()(**options)

    def accepted(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Those of ``options`` its engine is built with: the command line offers every
        engine's flags, and each engine takes its own."""
        taken = inspect.signature(self.engine_class()).parameters
        return {name: value for name, value in options.items() if name in taken}


def _classic_options(setting: Setting) -> dict[str, Any]:
    # Template mouth libraries are kept in the render cache (keyed by content and face
    # track), so a template is analysed once and every batch reuses it.
    return {"cache_dir": str(setting("RENDER_CACHE_DIR"))}


def _transcribing_analysis(setting: Setting) -> dict[str, Any]:
    return {"whisper_model": setting("WHISPER_MODEL_PATH") or None}


def _neural_options(setting: Setting) -> dict[str, Any]:
    return {
        "model_dir": setting("NEURAL_MODEL_DIR") or None,
        "device": setting("NEURAL_DEVICE"),
        "batch_size": setting("NEURAL_BATCH_SIZE") or None,
        "compile": setting("NEURAL_COMPILE"),
        "bbox_shift": setting("NEURAL_BBOX_SHIFT"),
    }


def _neural_problem(options: Mapping[str, Any]) -> str | None:
    # The rendering.neural package loads numpy, and settings import this registry.
    from rendering.neural.layout import model_dir_problem

    return model_dir_problem(options.get("model_dir"))


def _neural_analysis(setting: Setting) -> dict[str, Any]:
    """The neural engine reads its own Whisper's encoder layers: analyse with that
    checkpoint, so a batch's layers are computed once (in its preparation) and cached."""
    if not setting("NEURAL_MODEL_DIR"):
        return _transcribing_analysis(setting)
    # The rendering.neural package loads numpy, and settings import this registry.
    from rendering.neural.layout import whisper_checkpoint

    return {
        "whisper_model": whisper_checkpoint(Path(setting("NEURAL_MODEL_DIR"))),
        "transcribe": False,
    }


_NEURAL_BBOX_SHIFT = 64  # rendering.neural.crop.BBOX_SHIFT_LIMIT (that module loads OpenCV)

ENGINES: dict[str, EngineSpec] = {
    "classic": EngineSpec(
        engine="rendering.engines.classic:ClassicEngine",
        label=gettext_noop("Classic (CPU)"),
        options=_classic_options,
        analysis=_transcribing_analysis,
        mouth_library=True,
    ),
    "neural": EngineSpec(
        engine="rendering.engines.neural:NeuralEngine",
        label=gettext_noop("Neural (GPU)"),
        options=_neural_options,
        problem=_neural_problem,
        analysis=_neural_analysis,
        limits={"NEURAL_BBOX_SHIFT": (-_NEURAL_BBOX_SHIFT, _NEURAL_BBOX_SHIFT)},
        errors={
            "neural_not_configured": gettext_noop(
                "The neural engine is not set up on this server. Start a new batch with the "
                "classic engine."
            ),
            "neural_no_gpu": gettext_noop(
                "The neural engine needs a GPU, and the server that took this video has none. "
                "Retry later, or start a new batch with the classic engine."
            ),
            "neural_model_invalid": gettext_noop(
                "The neural engine's model on this server is not usable. Tell the "
                "administrator, or start a new batch with the classic engine."
            ),
            "neural_bbox_shift": gettext_noop(
                "The neural engine's mouth-box shift on this server lies outside -%(limit)s to "
                "%(limit)s. Tell the administrator, or start a new batch with the classic engine."
            ),
        },
    ),
}

EngineOptions = Callable[[str], Mapping[str, Any]]


def known_engines() -> list[str]:
    """Every engine this library has, configured or not."""
    return list(ENGINES)


def engine_problem(name: str, options: Mapping[str, Any] | None = None) -> str | None:
    """None when ``name`` can be built with ``options``, else a sentence saying why not."""
    spec = ENGINES.get(name)
    if spec is None:
        known = ", ".join(ENGINES)
        return f'There is no rendering engine called "{name}". Choose one of: {known}.'
    return None if spec.problem is None else spec.problem(options or {})


def available_engines(options: EngineOptions | None = None) -> list[str]:
    """Names ``get_engine`` can build, default first.

    ``options(name)`` gives each engine's options (the worker's settings); an engine that
    needs configuration ("neural": a model directory) is listed only when they suffice.
    Without ``options`` only engines that need none are listed.
    """
    return [
        name
        for name in ENGINES
        if engine_problem(name, options(name) if options is not None else None) is None
    ]


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine called ``name`` with its options (e.g. ``crf=20``)."""
    spec = ENGINES.get(name)
    if spec is None:
        known = ", ".join(available_engines())
        raise RenderingError(
            f'There is no rendering engine called "{name}". Choose one of: {known}.',
            code="unknown_engine",
            params={"engine": name},
        )
    try:
        return spec.build(**options)
    except TypeError as exc:  # an option the engine does not take
        raise RenderingError(
            f'The "{name}" engine does not accept these options. Check the engine settings.',
            detail=str(exc),
            code="engine_options",
            params={"engine": name},
        ) from exc
