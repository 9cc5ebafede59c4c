"""The S3 store: any S3-compatible object store, through django-storages' ``S3Storage``.

A working copy is downloaded into SCRATCH_DIR (removed afterwards), ``put`` uploads
(multipart for large files; an object appears whole or not at all), reads stream in bounded
chunks, listings page through the bucket a thousand keys at a time, and browsers download
through presigned addresses. Every host sees the same files, so render caches are shared.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.files.storage import default_storage

from jobs.storage.leftovers import hold
from jobs.storage.stores import StoredFile, clean_name, scratch_dir

LIST_PAGE = 1000  # S3's largest page, and the most keys one DeleteObjects call takes


def not_found(exc: BaseException) -> bool:
    """Whether a boto3 error says the object is not there."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3Store:
    shared: ClassVar[bool] = True

    @classmethod
    def django_storage(cls, conf: Mapping[str, Any]) -> dict[str, Any]:
        if not conf.get("S3_BUCKET"):
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET (the bucket's name).")
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": conf["S3_BUCKET"],
                "endpoint_url": conf.get("S3_ENDPOINT_URL") or None,
                # Without keys, boto3's own chain (instance roles, AWS_* variables).
                "access_key": conf.get("S3_ACCESS_KEY_ID") or None,
                "secret_key": conf.get("S3_SECRET_ACCESS_KEY") or None,
                "region_name": conf.get("S3_REGION") or "us-east-1",
                "addressing_style": conf.get("S3_ADDRESSING_STYLE") or "path",
                "signature_version": "s3v4",
                "file_overwrite": False,  # generated names never collide; never overwrite
                "default_acl": None,  # private: bucket policy, no public objects
                "querystring_auth": True,
                "querystring_expire": conf.get("S3_PRESIGNED_EXPIRES") or 300,
            },
        }

    # --- the boto3 bucket behind S3Storage -------------------------------------------------

    @staticmethod
    def _bucket() -> Any:
        return default_storage.bucket  # type: ignore[attr-defined]

    @staticmethod
    def _key(name: str) -> str:
        return default_storage._normalize_name(clean_name(name))  # type: ignore[attr-defined]

    @staticmethod
    def _name(key: str) -> str:
        location = str(getattr(default_storage, "location", "") or "").strip("/")
        return key[len(location) + 1 :] if location and key.startswith(location + "/") else key

    # --- reading ---------------------------------------------------------------------------

    def stat(self, name: str) -> StoredFile | None:
        try:
            head = self._bucket().Object(self._key(name))
            return StoredFile(name, int(head.content_length), head.last_modified)
        except Exception as exc:
            if not_found(exc):
                return None
            raise

    def iter_bytes(self, name: str, *, start: int, chunk: int) -> Iterator[bytes]:
        extra = {"Range": f"bytes={start}-"} if start else {}
        try:
            body = self._bucket().Object(self._key(name)).get(**extra)["Body"]
        except Exception as exc:
            if not_found(exc):
                raise FileNotFoundError(name) from exc
            raise
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    @contextmanager
    def local_copy(self, name: str, *, suffix: str | None) -> Iterator[Path]:
        """A copy in SCRATCH_DIR, removed when the block ends."""
        suffix = suffix if suffix is not None else PurePosixPath(name).suffix
        fd, tmp = tempfile.mkstemp(prefix="in-", suffix=suffix, dir=scratch_dir())
        hold(fd)  # in use until the block ends (jobs.storage.leftovers)
        target = Path(tmp)
        try:
            try:
                self._bucket().download_file(self._key(name), str(target))
            except Exception as exc:
                if not_found(exc):
                    raise FileNotFoundError(name) from exc
                raise
            yield target
        finally:
            target.unlink(missing_ok=True)
            os.close(fd)

    def local_path(self, name: str) -> Path | None:
        return None

    # --- writing ---------------------------------------------------------------------------

    def put(self, source: Path, name: str, *, content_type: str | None) -> None:
        """Uploaded; the source stays for the caller to remove."""
        extra = {"ContentType": content_type} if content_type else {}
        self._bucket().upload_file(str(source), self._key(name), ExtraArgs=extra or None)

    def delete(self, name: str) -> None:
        self._bucket().Object(self._key(name)).delete()

    def delete_listed(self, name: str) -> None:
        self.delete(name)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        page: list[dict[str, str]] = []
        for item in self.iter_files(prefix, symlinks=False):
            page.append({"Key": self._key(item.name)})
            if len(page) == LIST_PAGE:
                self._bucket().delete_objects(Delete={"Objects": page, "Quiet": True})
                count += len(page)
                page = []
        if page:
            self._bucket().delete_objects(Delete={"Objects": page, "Quiet": True})
            count += len(page)
        return count

    def iter_files(self, prefix: str, *, symlinks: bool) -> Iterator[StoredFile]:
        client = self._bucket().meta.client
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket().name,
            Prefix=self._key(prefix) + "/",
            PaginationConfig={"PageSize": LIST_PAGE},
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredFile(self._name(item["Key"]), int(item["Size"]), item["LastModified"])

    def remove_empty_folders(self, prefix: str, *, keep: Collection[str]) -> None:
        return None  # an object store has no folders

    # --- downloads -------------------------------------------------------------------------

    def download_url(
        self, name: str, *, disposition: str, content_type: str, expires: int | None
    ) -> str | None:
        """Signed for S3_PUBLIC_ENDPOINT_URL, the address browsers reach, not the internal
        endpoint workers use (the host is part of the signature)."""
        return str(
            _public_client().generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket().name,
                    "Key": self._key(name),
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
