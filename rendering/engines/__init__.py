"""Lip-sync engines, chosen by name.

``get_engine("classic")`` is the CPU engine that always works. Other engines register a
factory in ``_FACTORIES``; a factory may refuse to build (missing weights, no GPU) by
raising ``RenderingError`` with a sentence saying what to configure. An engine that needs
configuration also registers a cheap check in ``_PROBLEMS`` (no model loading): it is
offered by :func:`available_engines` only when its options pass it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rendering.engines.base import Engine, RenderResult, output_frame_count, ping_pong_index
from rendering.errors import RenderingError

__all__ = [
    "Engine",
    "RenderResult",
    "available_engines",
    "engine_problem",
    "get_engine",
    "known_engines",
    "output_frame_count",
    "ping_pong_index",
]


def _classic(**options: Any) -> Engine:
    from rendering.engines.classic import ClassicEngine

    return ClassicEngine(**options)


def _neural(**options: Any) -> Engine:
    from rendering.engines.neural import NeuralEngine

    return NeuralEngine(**options)


def _neural_problem(options: Mapping[str, Any]) -> str | None:
    from rendering.neural.layout import model_dir_problem

    return model_dir_problem(options.get("model_dir"))


# Factories import their engine lazily so asking for "classic" never imports torch.
_FACTORIES: dict[str, Callable[..., Engine]] = {"classic": _classic, "neural": _neural}
# Why an engine cannot be built with these options (a sentence), or None when it can.
_PROBLEMS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {"neural": _neural_problem}

EngineOptions = Callable[[str], Mapping[str, Any]]


def known_engines() -> list[str]:
    """Every engine this library has, configured or not."""
    return list(_FACTORIES)


def engine_problem(name: str, options: Mapping[str, Any] | None = None) -> str | None:
    """None when ``name`` can be built with ``options``, else a sentence saying why not."""
    if name not in _FACTORIES:
        known = ", ".join(_FACTORIES)
        return f'There is no rendering engine called "{name}". Choose one of: {known}.'
    check = _PROBLEMS.get(name)
    return None if check is None else check(options or {})


def available_engines(options: EngineOptions | None = None) -> list[str]:
    """Names ``get_engine`` can build, default first.

    ``options(name)`` gives each engine's options (the worker's settings); an engine that
    needs configuration ("neural": a model directory) is listed only when they suffice.
    Without ``options`` only engines that need none are listed.
    """
    return [
        name
        for name in _FACTORIES
        if engine_problem(name, options(name) if options is not None else None) is None
    ]


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine called ``name`` with its options (e.g. ``crf=20``)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(available_engines())
        raise RenderingError(
            f'There is no rendering engine called "{name}". Choose one of: {known}.',
            code="unknown_engine",
            params={"engine": name},
        )
    try:
        return factory(**options)
    except TypeError as exc:  # an option the engine does not take
        raise RenderingError(
            f'The "{name}" engine does not accept these options. Check the engine settings.',
            detail=str(exc),
            code="engine_options",
            params={"engine": name},
        ) from exc
