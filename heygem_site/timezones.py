"""Time zones: the browser's, remembered per user, applied to every page.

The browser says its IANA zone in the ``tz`` cookie (static/js/common.js sets it from
``Intl.DateTimeFormat().resolvedOptions().timeZone`` on every page). A signed-in user's zone
is stored on the account when it changes (``User.time_zone``), so requests without a
browser (the API, the worker's notices) and a new device's first page use it too.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import tzinfo
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo | None:
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def valid_zone(name: str) -> str:
    """``name`` when it is an IANA zone this server knows, else ""."""
    return name if _zone(name) is not None else ""


def zone_or_default(name: str) -> tzinfo:
    return _zone(name) or timezone.get_default_timezone()


def user_local_now(user: Any) -> Any:
    """Now on the user's clock: their remembered zone, else the active one."""
    name = getattr(user, "time_zone", "") or ""
    zone = _zone(name)
    return timezone.localtime(timezone=zone) if zone is not None else timezone.localtime()


class UserTimeZoneMiddleware:
    """Activate the browser's time zone (remembering it on the account), or the account's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        browser = valid_zone(unquote(request.COOKIES.get(COOKIE, "")))
        user = getattr(request, "user", None)
        name = browser
        if user is not None and user.is_authenticated:
            if browser and browser != user.time_zone:
                get_user_model().objects.filter(pk=user.pk).update(time_zone=browser)
                user.time_zone = browser
            name = name or valid_zone(user.time_zone)
        if name:
            timezone.activate(zone_or_default(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
