"""Login throttling: too many wrong passwords for one email, or from one address, lock
further attempts for a while. Counters live in the shared cache (file or Redis), so every
web process sees the same numbers.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

# One address may try several accounts (an office behind one NAT), so it gets more room.
_ADDRESS_FACTOR = 4


def _keys(email: str, address: str | None) -> list[tuple[str, int]]:
    limit = int(settings.LOGIN_FAILURE_LIMIT)
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"login-fail:email:{digest}", limit)]
    if address:
        keys.append((f"login-fail:addr:{address}", limit * _ADDRESS_FACTOR))
    return keys


def is_locked(email: str, address: str | None) -> bool:
    return any(int(cache.get(key, 0)) >= limit for key, limit in _keys(email, address))


def record_failure(email: str, address: str | None) -> None:
    window = int(settings.LOGIN_FAILURE_WINDOW)
    for key, _limit in _keys(email, address):
        # add() starts the window on the first failure; later failures only count.
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=window)


def clear(email: str) -> None:
    cache.delete(_keys(email, None)[0][0])


def minutes_in_window() -> int:
    return max(1, int(settings.LOGIN_FAILURE_WINDOW) // 60)
