"""Lip-sync engines, chosen by name.

``get_engine("classic")`` is the CPU engine that always works. Other engines (the neural one
comes later) register a factory in ``_FACTORIES``; a factory may refuse to build (missing
weights, no GPU) by raising ``RenderingError`` with a sentence saying what to configure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rendering.engines.base import Engine, RenderResult, ping_pong_index
from rendering.errors import RenderingError

__all__ = ["Engine", "RenderResult", "available_engines", "get_engine", "ping_pong_index"]


def _classic(**options: Any) -> Engine:
    from rendering.engines.classic import ClassicEngine

    return ClassicEngine(**options)


# Factories import their engine lazily so asking for "classic" never imports torch.
_FACTORIES: dict[str, Callable[..., Engine]] = {"classic": _classic}


def available_engines() -> list[str]:
    """Names ``get_engine`` accepts, default first."""
    return list(_FACTORIES)


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine called ``name`` with its options (e.g. ``crf=20``)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(available_engines())
        raise RenderingError(
            f'There is no rendering engine called "{name}". Choose one of: {known}.'
        )
    try:
        return factory(**options)
    except TypeError as exc:  # an option the engine does not take
        raise RenderingError(
            f'The "{name}" engine does not accept these options. Check the engine settings.',
            detail=str(exc),
        ) from exc
