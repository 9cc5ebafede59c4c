"""Where stored bytes live: one :class:`Store` per backend, chosen once from settings.

Modelled on django-q2's broker modules: each backend is one module here holding one class,
and :data:`STORES` maps the name ``STORAGE_BACKEND`` takes to that class's dotted path.
Settings validate the name against this registry and take Django's ``STORAGES["default"]``
from the chosen class (:func:`django_storage`); :func:`store` hands the rest of the project
the instance. A new backend is its module plus one line below; nothing else asks which
backend is in use.

This module imports nothing that needs Django's apps loaded: settings import it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.utils.module_loading import import_string

# STORAGE_BACKEND -> the class that implements it.
STORES: dict[str, str] = {
    "local": "jobs.storage.stores.local.LocalStore",
    "s3": "jobs.storage.stores.s3.S3Store",
}

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    modified: datetime


def clean_name(name: str | None) -> str:
    """A stored name as given, refusing one that is empty, absolute or climbs out."""
    if not name:
        raise SuspiciousFileOperation("no file name")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise SuspiciousFileOperation(f"{name!r} is not a relative stored name")
    return path.as_posix()


def scratch_dir() -> Path:
    """This host's folder for working copies (never shared between hosts)."""
    folder = Path(settings.SCRATCH_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Store(Protocol):
    """What every backend does with stored names (``users/<storage id>/...``).

    ``jobs.storage.files`` is the project's door to these methods; only it calls them."""

    # Every host sees the same files, so render caches are shared through the store.
    shared: ClassVar[bool]

    @classmethod
    def django_storage(cls, conf: Mapping[str, Any]) -> dict[str, Any]:
        """Django's ``STORAGES["default"]`` entry, from the settings read so far (`conf`)."""
        ...

    def stat(self, name: str) -> StoredFile | None: ...

    def iter_bytes(self, name: str, *, start: int, chunk: int) -> Iterator[bytes]:
        """Raises FileNotFoundError (on the first read) for a name that is not there."""
        ...

    def local_copy(self, name: str, *, suffix: str | None) -> AbstractContextManager[Path]:
        """A path on this host holding the file, for tools that need one (PyAV, OpenCV)."""
        ...

    def local_path(self, name: str) -> Path | None:
        """The stored file's own path on this host, or None when it lives elsewhere."""
        ...

    def put(self, source: Path, name: str, *, content_type: str | None) -> None: ...

    def delete(self, name: str) -> None: ...

    def delete_listed(self, name: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def iter_files(self, prefix: str, *, symlinks: bool) -> Iterator[StoredFile]: ...

    def remove_empty_folders(self, prefix: str, *, keep: Collection[str]) -> None: ...

    def download_url(
        self, name: str, *, disposition: str, content_type: str, expires: int | None
    ) -> str | None:
        """A short-lived address the browser fetches the file from, or None when the web
        process serves it itself."""
        ...


def store_class(name: str) -> type[Store]:
    try:
        path = STORES[name]
    except KeyError:
        raise ValueError(
            f"STORAGE_BACKEND={name!r}: write one of {', '.join(sorted(STORES))}."
        ) from None
    cls: type[Store] = import_string(path)
    return cls


def django_storage(name: str, conf: Mapping[str, Any]) -> dict[str, Any]:
    """``STORAGES["default"]`` for backend `name`; `conf` holds the settings read so far."""
    return store_class(name).django_storage(conf)


_lock = threading.Lock()
_current: tuple[str, Store] | None = None


def store() -> Store:
    """The store ``STORAGE_BACKEND`` names, built once (again only if the setting changes,
    as tests do)."""
    global _current
    name = settings.STORAGE_BACKEND
    current = _current
    if current is None or current[0] != name:
        with _lock:
            current = (name, store_class(name)())
            _current = current
    return current[1]
