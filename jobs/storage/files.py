"""The one door to stored bytes, on the local disk or an S3-compatible object store.

Every file a user owns has a relative name (``users/<storage id>/...``) in Django's default
storage: ``FileSystemStorage`` under MEDIA_ROOT (the embedded default) or django-storages'
``S3Storage`` (``STORAGE_BACKEND=s3``). Code outside this module never builds a path from a
name: it asks for a local copy (``local_copy``), puts a finished local file in place
(``put``), streams bytes (``iter_bytes``), or asks for a download address (``download_url``).

On the local disk a "copy" is the stored file itself and ``put`` is an atomic rename, so
the embedded set-up costs nothing extra. On object storage a copy is downloaded into
SCRATCH_DIR (removed afterwards), ``put`` uploads (multipart for large files; an object
appears whole or not at all), reads stream in bounded chunks, and listings page through the
bucket a thousand keys at a time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, default_storage

from jobs.storage.leftovers import hold
from jobs.storage.paths import media_path

CHUNK = 1024 * 1024
LIST_PAGE = 1000  # S3's largest page, and the most keys one DeleteObjects call takes


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    modified: datetime


def is_local() -> bool:
    return isinstance(default_storage, FileSystemStorage)


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


# --- Object storage: the boto3 bucket behind S3Storage -------------------------------------


def _bucket() -> Any:
    return default_storage.bucket  # type: ignore[attr-defined]


def _key(name: str) -> str:
    return default_storage._normalize_name(clean_name(name))  # type: ignore[attr-defined]


def _name(key: str) -> str:
    location = str(getattr(default_storage, "location", "") or "").strip("/")
    return key[len(location) + 1 :] if location and key.startswith(location + "/") else key


# --- Reading --------------------------------------------------------------------------------


def exists(name: str | None) -> bool:
    if not name:
        return False
    if is_local():
        return media_path(name).is_file()
    return bool(default_storage.exists(clean_name(name)))


def size(name: str | None) -> int:
    """The stored size in bytes, 0 for a file that is not there."""
    if not name:
        return 0
    if is_local():
        path = media_path(name)
        return path.stat().st_size if path.is_file() else 0
    try:
        return int(_bucket().Object(_key(name)).content_length)
    except Exception as exc:
        if _not_found(exc):
            return 0
        raise


def stat(name: str | None) -> StoredFile | None:
    """Size and time of a stored file, or None when it is not there."""
    if not name:
        return None
    if is_local():
        path = media_path(name)
        if not path.is_file():
            return None
        info = path.stat()
        return StoredFile(name, info.st_size, datetime.fromtimestamp(info.st_mtime, tz=UTC))
    try:
        head = _bucket().Object(_key(name))
        return StoredFile(name, int(head.content_length), head.last_modified)
    except Exception as exc:
        if _not_found(exc):
            return None
        raise


def _not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def iter_bytes(name: str, *, start: int = 0, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's bytes from `start`, `chunk` at a time: memory stays bounded whatever its size."""
    if is_local():
        with media_path(name).open("rb") as handle:
            handle.seek(start)
            while block := handle.read(chunk):
                yield block
        return
    extra = {"Range": f"bytes={start}-"} if start else {}
    body = _bucket().Object(_key(name)).get(**extra)["Body"]
    try:
        yield from body.iter_chunks(chunk)
    finally:
        body.close()


def sha256(name: str) -> str:
    """Hex SHA-256 of a stored file's bytes, read in chunks."""
    digest = hashlib.sha256()
    for block in iter_bytes(name):
        digest.update(block)
    return digest.hexdigest()


def read_bytes(name: str) -> bytes:
    return b"".join(iter_bytes(name))


@contextmanager
def local_copy(name: str | None, *, suffix: str | None = None) -> Iterator[Path]:
    """A path on this host holding the stored file, for tools that need one (PyAV, OpenCV).

    Local disk: the stored file itself (read it, never change it). Object storage: a copy in
    SCRATCH_DIR, removed when the block ends."""
    if is_local():
        yield media_path(name)
        return
    name = clean_name(name)
    suffix = suffix if suffix is not None else PurePosixPath(name).suffix
    fd, tmp = tempfile.mkstemp(prefix="in-", suffix=suffix, dir=scratch_dir())
    hold(fd)  # in use until the block ends (jobs.storage.leftovers)
    target = Path(tmp)
    try:
        try:
            _bucket().download_file(_key(name), str(target))
        except Exception as exc:
            if _not_found(exc):
                raise FileNotFoundError(name) from exc
            raise
        yield target
    finally:
        target.unlink(missing_ok=True)
        os.close(fd)


# --- Writing --------------------------------------------------------------------------------


def put(source: Path, name: str, *, content_type: str | None = None) -> int:
    """Put a finished local file at `name` (replacing what is there) and return its size.

    Local disk: renamed into place when on the same file system (atomic), else copied to a
    hidden name beside the target and renamed. Object storage: uploaded; the source stays
    for the caller to remove."""
    name = clean_name(name)
    size_bytes = source.stat().st_size
    if is_local():
        target = media_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except OSError:
            hidden = target.with_name(f".{target.name}.incoming")
            shutil.copyfile(source, hidden)
            os.replace(hidden, target)
        target.chmod(settings.FILE_UPLOAD_PERMISSIONS or 0o640)
        return size_bytes
    extra = {"ContentType": content_type} if content_type else {}
    _bucket().upload_file(str(source), _key(name), ExtraArgs=extra or None)
    return size_bytes


def put_bytes(data: bytes, name: str, *, content_type: str | None = None) -> int:
    fd, tmp = tempfile.mkstemp(prefix="out-", dir=scratch_dir())
    hold(fd)
    path = Path(tmp)
    try:
        os.write(fd, data)
        return put(path, name, content_type=content_type)
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def scratch_file(*, suffix: str = "") -> Iterator[Path]:
    """A new, empty path in SCRATCH_DIR for a tool to write into, removed afterwards (unless
    `put` already moved it into place)."""
    fd, tmp = tempfile.mkstemp(prefix="work-", suffix=suffix, dir=scratch_dir())
    hold(fd)
    path = Path(tmp)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def delete(name: str | None) -> None:
    """Remove a stored file; one already gone is fine."""
    if not name:
        return
    if is_local():
        media_path(name).unlink(missing_ok=True)
        return
    _bucket().Object(_key(name)).delete()


def delete_listed(name: str) -> None:
    """Remove a file that `iter_files` listed (a link on the local disk is removed itself,
    never what it points at)."""
    if is_local():
        (Path(settings.MEDIA_ROOT).resolve() / clean_name(name)).unlink(missing_ok=True)
        return
    delete(name)


def delete_prefix(prefix: str) -> int:
    """Remove every file under a folder name (``users/<id>/batches/<batch>``); returns how
    many. Never the whole store: an empty prefix is refused."""
    prefix = clean_name(prefix).rstrip("/")
    if is_local():
        path = media_path(prefix)
        if path == Path(settings.MEDIA_ROOT).resolve() or not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return count
    count = 0
    page: list[dict[str, str]] = []
    for item in iter_files(prefix):
        page.append({"Key": _key(item.name)})
        if len(page) == LIST_PAGE:
            _bucket().delete_objects(Delete={"Objects": page, "Quiet": True})
            count += len(page)
            page = []
    if page:
        _bucket().delete_objects(Delete={"Objects": page, "Quiet": True})
        count += len(page)
    return count


def iter_files(prefix: str, *, symlinks: bool = False) -> Iterator[StoredFile]:
    """Every stored file under a folder name, in name order, read a page at a time
    (`symlinks`: on the local disk, links too, which only the sweeper wants to see)."""
    prefix = clean_name(prefix).rstrip("/")
    if is_local():
        root = Path(settings.MEDIA_ROOT).resolve()
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
        return
    client = _bucket().meta.client
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=_bucket().name,
        Prefix=_key(prefix) + "/",
        PaginationConfig={"PageSize": LIST_PAGE},
    )
    for page in pages:
        for item in page.get("Contents", []):
            yield StoredFile(_name(item["Key"]), int(item["Size"]), item["LastModified"])


# --- Downloads ------------------------------------------------------------------------------


def download_url(
    name: str, *, disposition: str, content_type: str, expires: int | None = None
) -> str | None:
    """A short-lived address the browser fetches the file from directly, or None when the
    web process serves it (local disk). Signed for S3_PUBLIC_ENDPOINT_URL, the address
    browsers reach, not the internal endpoint workers use (the host is part of the
    signature)."""
    if is_local():
        return None
    client = _public_client()
    return str(
        client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": _bucket().name,
                "Key": _key(name),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires or settings.S3_PRESIGNED_EXPIRES,
        )
    )


_PUBLIC_CLIENT: Any = None


def _public_client() -> Any:
    """A boto3 client whose endpoint is the public one; only used to sign (no request)."""
    global _PUBLIC_CLIENT
    endpoint = settings.S3_PUBLIC_ENDPOINT_URL or settings.S3_ENDPOINT_URL or None
    if _PUBLIC_CLIENT is None or _PUBLIC_CLIENT.meta.endpoint_url != endpoint:
        import boto3
        from botocore.config import Config

        options = default_storage  # S3Storage: the same credentials, region and style
        _PUBLIC_CLIENT = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=getattr(options, "access_key", None) or None,
            aws_secret_access_key=getattr(options, "secret_key", None) or None,
            region_name=getattr(options, "region_name", None) or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": settings.S3_ADDRESSING_STYLE or "auto"},
            ),
        )
    return _PUBLIC_CLIENT


# --- The render cache's shared tier ---------------------------------------------------------

CACHE_PREFIX = "cache"


class StoredCache:
    """rendering.cache's second tier in the default storage (``cache/<kind>/<version>/…``),
    so that a face track or an audio analysis made on one worker host serves every host."""

    def get(self, name: str) -> bytes | None:
        try:
            return read_bytes(f"{CACHE_PREFIX}/{name}")
        except Exception as exc:
            if _not_found(exc) or isinstance(exc, FileNotFoundError):
                return None
            raise

    def put(self, name: str, data: bytes) -> None:
        put_bytes(data, f"{CACHE_PREFIX}/{name}")

    def delete(self, name: str) -> None:
        delete(f"{CACHE_PREFIX}/{name}")
