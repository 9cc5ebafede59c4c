"""Read settings from environment variables, failing loudly on a bad value.

Every reader names the variable and says what was wrong, so a typo in a deployment
stops the process at start with a sentence instead of misbehaving later.
Secrets may come from ``<NAME>_FILE`` (a path whose content is the value).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is not None:
        return value
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points at {file_path!r}, which cannot be read ({exc.strerror})."
            ) from exc
    return None


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value. Use 1/0, true/false, yes/no or on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small; it must be at least {minimum}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small; it must be at least {minimum}.")
    return number


_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


def parse_size(text: str) -> int:
    """Parse '500MB', '10 GiB' or '1048576' into bytes (ValueError when it is not a size)."""
    stripped = text.strip().upper().replace("_", "")
    number = stripped.rstrip("KMGTIB ")
    unit = stripped[len(number) :].strip()
    if unit not in _SIZE_UNITS or not number:
        raise ValueError(text)
    return int(float(number) * _SIZE_UNITS[unit])


def env_size(name: str, default: int) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        size = parse_size(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a size. Write bytes or a number with a unit, like 500MB or 10GiB."
        ) from None
    if size <= 0:
        raise ImproperlyConfigured(f"{name}={value!r} must be larger than zero.")
    return size


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class DatabaseUrl:
    engine: str
    name: str
    user: str
    password: str
    host: str
    port: str
    options: dict[str, str]


def parse_database_url(name: str, url: str) -> DatabaseUrl:
    """Understand ``postgres://user:pass@host:5432/db`` and ``sqlite:////abs/path.sqlite3``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:////abs/path -> path "//abs/path"; sqlite:///rel -> "/rel"
        path = unquote(parts.path)
        path = path[1:] if path.startswith("//") else path.lstrip("/")
        if not path:
            raise ImproperlyConfigured(
                f"{name}={url!r} names no database file. Write sqlite:////absolute/path.sqlite3."
            )
        return DatabaseUrl("sqlite", path, "", "", "", "", {})
    if scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(
                f"{name}={url!r} names no database. Write postgres://user@host:5432/dbname."
            )
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return DatabaseUrl(
            "postgresql",
            db_name,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            parts.hostname or "",
            str(parts.port or ""),
            options,
        )
    raise ImproperlyConfigured(
        f"{name} uses the scheme {scheme or '(none)'!r}; only postgres:// and sqlite:// are supported."
    )
