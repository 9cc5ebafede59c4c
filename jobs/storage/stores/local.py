"""The local-disk store: files under MEDIA_ROOT (the embedded default).

A "working copy" is the stored file itself and ``put`` is an atomic rename, so the
embedded set-up costs nothing extra. Only one host sees these files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings

from jobs.storage.paths import media_path
from jobs.storage.stores import StoredFile, clean_name


class LocalStore:
    shared: ClassVar[bool] = False

    @classmethod
    def django_storage(cls, conf: Mapping[str, Any]) -> dict[str, Any]:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}

    @staticmethod
    def _root() -> Path:
        return Path(settings.MEDIA_ROOT).resolve()

    def stat(self, name: str) -> StoredFile | None:
        path = media_path(name)
        if not path.is_file():
            return None
        info = path.stat()
        return StoredFile(name, info.st_size, datetime.fromtimestamp(info.st_mtime, tz=UTC))

    def iter_bytes(self, name: str, *, start: int, chunk: int) -> Iterator[bytes]:
        with media_path(name).open("rb") as handle:
            handle.seek(start)
            while block := handle.read(chunk):
                yield block

    @contextmanager
    def local_copy(self, name: str, *, suffix: str | None) -> Iterator[Path]:
        """The stored file itself: read it, never change it."""
        yield media_path(name)

    def local_path(self, name: str) -> Path | None:
        return media_path(name)

    def put(self, source: Path, name: str, *, content_type: str | None) -> None:
        """Renamed into place when on the same file system (atomic), else copied to a hidden
        name beside the target and renamed. The folder is made again when something (the
        sweeper's empty-folder pass) removed it between ``mkdir`` and the rename."""
        target = media_path(name)
        for attempt in range(3):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                _move(source, target)
                break
            except FileNotFoundError:
                if attempt == 2 or target.parent.is_dir():
                    raise  # the source is missing, not the folder
        target.chmod(settings.FILE_UPLOAD_PERMISSIONS or 0o640)

    def delete(self, name: str) -> None:
        media_path(name).unlink(missing_ok=True)

    def delete_listed(self, name: str) -> None:
        # A link is removed itself, never what it points at (media_path would resolve it).
        (self._root() / clean_name(name)).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        path = media_path(prefix)
        if path == self._root() or not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return count

    def iter_files(self, prefix: str, *, symlinks: bool) -> Iterator[StoredFile]:
        root = self._root()
        folder = media_path(prefix)
        if not folder.is_dir():
            return
        for path in sorted(folder.rglob("*")):
            link = path.is_symlink()
            if (link and not symlinks) or not (link or path.is_file()):
                continue
            info = path.lstat()
            yield StoredFile(
                path.relative_to(root).as_posix(),
                info.st_size,
                datetime.fromtimestamp(info.st_mtime, tz=UTC),
            )

    def remove_empty_folders(self, prefix: str, *, keep: Collection[str]) -> None:
        """Empty folders at and under `prefix`, deepest first, except those named in `keep`."""
        root = self._root()
        top = media_path(prefix)
        if top == root or not top.is_dir():
            return
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            directory = Path(dirpath)
            if directory.relative_to(root).as_posix() in keep:
                continue
            try:
                directory.rmdir()  # only an empty one goes
            except OSError:
                continue

    def download_url(
        self, name: str, *, disposition: str, content_type: str, expires: int | None
    ) -> str | None:
        return None  # the web process serves the file (ranges, or nginx X-Accel-Redirect)


def _move(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError:
        hidden = target.with_name(f".{target.name}.incoming")
        shutil.copyfile(source, hidden)
        os.replace(hidden, target)
