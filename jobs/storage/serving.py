"""Serve a user's file after the view has checked ownership: byte ranges (so <video> can
seek), HEAD, a safe Content-Disposition, and optionally nginx X-Accel-Redirect; from object
storage, a redirect to a short-lived presigned address signed for the public endpoint."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils.http import http_date

from jobs.names import content_disposition
from jobs.storage import files

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _read_range(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def serve_file(
    request: HttpRequest,
    name: str | None,
    *,
    download_name: str,
    as_attachment: bool,
    content_type: str | None = None,
    within: str | None = None,
) -> HttpResponseBase:
    """`within`: a folder inside MEDIA_ROOT (the owner's `users/<storage id>`) that the file
    must resolve into; anything else is a 404, whatever the database row says."""
    if not name:
        raise Http404
    try:
        clean = files.clean_name(name)
    except SuspiciousFileOperation:
        raise Http404 from None
    if within is not None and not clean.startswith(within.rstrip("/") + "/"):
        raise Http404
    try:
        path = files.local_path(clean)
        inside = files.local_path(within) if within is not None and path is not None else None
    except SuspiciousFileOperation:
        raise Http404 from None
    if path is None:
        return _redirect_to_object_store(
            clean,
            download_name=download_name,
            as_attachment=as_attachment,
            content_type=content_type,
        )
    if inside is not None and not path.is_relative_to(inside):
        raise Http404
    if not path.is_file():
        raise Http404
    size = path.stat().st_size
    content_type = (
        content_type or mimetypes.guess_type(download_name)[0] or "application/octet-stream"
    )
    disposition = content_disposition(download_name, inline=not as_attachment)
    common = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": disposition,
        "Last-Modified": http_date(path.stat().st_mtime),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
    }

    if settings.FILE_X_ACCEL_REDIRECT:
        # nginx serves the bytes (ranges, HEAD, sendfile) from an `internal` location that
        # maps FILE_X_ACCEL_PREFIX onto MEDIA_ROOT; Python only checked who may have them.
        relative = path.relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()
        accel = HttpResponse(content_type=content_type)
        accel["X-Accel-Redirect"] = settings.FILE_X_ACCEL_PREFIX + quote(relative)
        for key, value in common.items():
            accel[key] = value
        return accel

    match = _RANGE.match(request.headers.get("Range", "").strip())
    if match and match[1] and match[2] and int(match[2]) < int(match[1]):
        match = None  # RFC 9110 14.1.1: an invalid range (last before first) is ignored
    if match and size:
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        elif last:
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = 0, size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        length = end - start + 1
        partial = StreamingHttpResponse(
            [] if request.method == "HEAD" else _read_range(path.open("rb"), start, length),
            status=206,
            content_type=content_type,
        )
        partial["Content-Range"] = f"bytes {start}-{end}/{size}"
        partial["Content-Length"] = str(length)
        for key, value in common.items():
            partial[key] = value
        return partial

    head: HttpResponseBase
    if request.method == "HEAD":
        head = HttpResponse(content_type=content_type)
        head["Content-Length"] = str(size)
    else:
        head = FileResponse(path.open("rb"), content_type=content_type)
    for key, value in common.items():
        head[key] = value
    return head


def _redirect_to_object_store(
    name: str, *, download_name: str, as_attachment: bool, content_type: str | None
) -> HttpResponseBase:
    """A store elsewhere (object storage): the browser fetches the bytes from the store
    itself, through a short-lived presigned address (ranges and HEAD included); the view already checked who
    may have them. The redirect is never cached: the address expires."""
    if not files.exists(name):
        raise Http404
    url = files.download_url(
        name,
        disposition=content_disposition(download_name, inline=not as_attachment),
        content_type=content_type
        or mimetypes.guess_type(download_name)[0]
        or "application/octet-stream",
    )
    if url is None:  # a store with neither a local path nor addresses serves nothing
        raise Http404
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "private, no-store"
    return response
