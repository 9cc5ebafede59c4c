"""Upload handling: every upload goes to a temporary file (so it can be probed before it
is kept) and is cut off as soon as it passes MAX_UPLOAD_SIZE. Django removes the temporary
file when the request ends, so a rejected upload leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from jobs.storage.leftovers import hold


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        folder = settings.FILE_UPLOAD_TEMP_DIR
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
        super().new_file(*args, **kwargs)
        # Held while this request has it: a killed web worker's file is then found and
        # removed by jobs.storage.leftovers (when the next web worker starts, or hourly).
        hold(self.file.fileno())

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.MAX_UPLOAD_SIZE:
            if self.request is not None:
                self.request.upload_too_large = True  # type: ignore[attr-defined]
            self.file.close()  # removes the temporary file now
            # Read (and drop) the rest of the body so the browser gets our answer.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)

    def upload_interrupted(self) -> None:
        file: Any = getattr(self, "file", None)
        if file is not None and not file.closed:
            file.close()


def upload_too_large_message(request: HttpRequest) -> str | None:
    """The sentence for an upload the handler above cut off, or None when it was not."""
    if not getattr(request, "upload_too_large", False):
        return None
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    return _(
        "This file is %(size)s; the upload limit is %(limit)s. Upload a shorter or smaller file."
    ) % {"size": filesizeformat(size), "limit": filesizeformat(settings.MAX_UPLOAD_SIZE)}


def media_limits(*, max_duration: float) -> Any:
    """The probe limits for an upload, from settings. PyAV is imported here, not at the top:
    the web process loads this module for every request and only an upload needs PyAV."""
    # PyAV: loaded by an upload, not by every page.
    from rendering.media import Limits

    return Limits(
        max_pixels=int(settings.MAX_VIDEO_PIXELS),
        max_duration=float(max_duration),
        max_fps=float(settings.MAX_VIDEO_FPS),
    )
