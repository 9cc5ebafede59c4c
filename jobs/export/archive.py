"""One-click ZIP export: a streamed archive of one batch or many (links: jobs.export.links).

The archive is generated while it is sent (zipstream-ng), never written to disk. Videos are
STORED (deflating H.264 saves under 1 % and costs a core), so the exact size is known before
the first byte: the response carries a true Content-Length and HEAD answers the same number.
Each batch's `manifest.csv` / `manifest.json` come after its videos and list every item,
failed ones included; their size is known up front because every field is known except the
checksums, which are fixed-width hex.

The archive is deterministic: the same batches in the same state give the same bytes (every
member is dated with the archive's last change, not "now"), so a download that broke can
resume with a byte range, checked against an ETag of the archive's plan (``If-Range``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import zipstream.ng
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext
from zipstream import ZipStream

from heygem_site.timezones import user_local_now
from jobs.models import FINISHED_STATUSES, Batch, JobStatus, RenderJob
from jobs.names import result_stem, safe_member_name
from jobs.storage import files
from jobs.user_errors import error_text, job_error_text
from jobs.words.transcripts import subtitle_picture, subtitles_text
from rendering.subtitle_formats import FORMATS

log = logging.getLogger("heygem.jobs")

MAX_BATCHES_PER_EXPORT = 100
CHUNK = 1024 * 1024
SHA256_HEX = 64
MANIFEST_FIELDS = (
    "position",
    "file",
    "template",
    "status",
    "error",
    "error_code",
    "duration_seconds",
    "size_bytes",
    "sha256",
)

# --- The plan: what goes in the archive, known before any byte is read ----------------------


@dataclass
class ExportItem:
    job_id: uuid.UUID
    position: int
    template_name: str
    status: str
    error: str  # in the language of whoever downloads (jobs.user_errors), from error_code
    duration: float | None
    error_code: str = ""
    arcname: str = ""  # empty: listed in the manifest only (failed, canceled, unfinished)
    name: str | None = None  # the stored file (local disk or object storage)
    size: int | None = None
    modified_ns: int = 0
    sha256: str = ""


@dataclass
class ExportFolder:
    batch: Batch
    prefix: str  # "" for a single batch, "<batch name>/" for several
    items: list[ExportItem]

    def manifest_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "position": item.position,
                "file": item.arcname[len(self.prefix) :] if item.arcname else "",
                "template": item.template_name,
                "status": item.status,
                "error": item.error,
                "error_code": item.error_code,
                "duration_seconds": None if item.duration is None else round(item.duration, 3),
                "size_bytes": item.size,
                "sha256": item.sha256 or ("0" * SHA256_HEX if item.arcname else ""),
            }
            for item in self.items
        ]

    def manifest_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=MANIFEST_FIELDS, lineterminator="\r\n")
        writer.writeheader()
        for row in self.manifest_rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        # A BOM so spreadsheet programs read the UTF-8 template names right.
        return ("\ufeff" + out.getvalue()).encode()

    def subtitle_files(self) -> list[tuple[str, bytes]]:
        """``subtitles.<suffix>`` in every subtitle format with its bytes, when the batch has
        cues."""
        return _subtitle_files(self.batch)

    def manifest_json(self) -> bytes:
        doc = {
            "batch": {
                "id": str(self.batch.pk),
                "name": self.batch.name,
                "created_at": self.batch.created_at.isoformat(),
                "engine": self.batch.engine,
            },
            "items": self.manifest_rows(),
            # The words (jobs.words.transcripts): what was heard, with word times, and the
            # subtitle files beside the videos; null and [] when there is no transcript.
            "transcript": self.batch.transcript or None,
            "subtitles": [name for name, _ in self.subtitle_files()],
        }
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode()


class _PinnedClock:
    """zipstream-ng dates members it is given as data with ``time.localtime()`` ("now"), which
    would make every download of a link different bytes. It reads the clock through this
    stand-in, which answers the archive's own date while that archive is being generated
    (per thread: each gunicorn thread streams one response at a time)."""

    def __init__(self) -> None:
        self.local = threading.local()

    def localtime(self, seconds: float | None = None) -> time.struct_time:
        pinned = getattr(self.local, "pinned", None)
        if seconds is None and pinned is not None:
            return time.localtime(pinned)
        return time.localtime(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_CLOCK = _PinnedClock()
zipstream.ng.time = _CLOCK


def _subtitle_files(batch: Batch) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    if not batch.subtitle_cues:
        return files
    picture = subtitle_picture(batch)  # one query per batch, whatever the formats
    for kind in FORMATS:
        text = subtitles_text(batch, kind, picture=picture)
        if text is not None:
            files.append((f"subtitles.{kind}", text.encode("utf-8")))
    return files


def _deferred(render: Callable[[], bytes]) -> Iterator[bytes]:
    """Render when the stream reaches this member: the checksums are known by then."""
    yield render()


@dataclass
class ExportArchive:
    filename: str
    folders: list[ExportFolder]
    last_modified: datetime
    finished_only: bool
    _zip: ZipStream = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._zip = self._build()

    @property
    def size(self) -> int:
        return len(self._zip)

    @property
    def batch_ids(self) -> list[str]:
        return [str(f.batch.pk) for f in self.folders]

    def _build(self) -> ZipStream:
        zs = ZipStream(sized=True)
        for folder in self.folders:
            for item in folder.items:
                if item.arcname and item.name is not None and item.size is not None:
                    zs.add(self._read(item), item.arcname, size=item.size)
            for name, data in folder.subtitle_files():
                zs.add(data, folder.prefix + name)
            # Sized before the stream starts: hex checksums have a fixed width, so the
            # placeholder rendering has exactly the final length.
            for name, render in (
                ("manifest.csv", folder.manifest_csv),
                ("manifest.json", folder.manifest_json),
            ):
                zs.add(_deferred(render), folder.prefix + name, size=len(render()))
        return zs

    @staticmethod
    def _read(item: ExportItem) -> Iterator[bytes]:
        """The file's bytes in chunks (flat memory, from the disk or the object store), hashed
        on the way if no checksum is stored."""
        assert item.name is not None
        digest = None if item.sha256 else hashlib.sha256()
        for chunk in files.iter_bytes(item.name, chunk=CHUNK):
            if digest is not None:
                digest.update(chunk)
            yield chunk
        if digest is not None:
            item.sha256 = digest.hexdigest()
            # Remember it, so the next export of this result reads the file once, not twice.
            RenderJob.objects.filter(pk=item.job_id, output_sha256="").update(
                output_sha256=item.sha256
            )

    @property
    def etag(self) -> str:
        """Changes whenever the bytes would: names, sizes, file versions, manifests, date."""
        # Checksums are left out: one missing is computed while streaming, to the same bytes.
        digest = hashlib.sha256(f"{self.size}|{self.last_modified.isoformat()}".encode())
        for folder in self.folders:
            rows = [{**row, "sha256": ""} for row in folder.manifest_rows()]
            plan = json.dumps([folder.batch.name, rows], default=str, sort_keys=True)
            digest.update(folder.prefix.encode() + b"\0" + plan.encode())
            for item in folder.items:
                digest.update(f"{item.arcname}|{item.size}|{item.modified_ns}".encode())
        return f'"{digest.hexdigest()[:32]}"'

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_range(0, self.size - 1)

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` (inclusive) of the archive. The stream is generated from the
        start (its checksums need every byte) and the part before ``start`` is dropped, so a
        resumed download costs reading the files again, not sending them."""
        _CLOCK.local.pinned = self.last_modified.timestamp()
        try:
            position = 0
            for chunk in self._zip:
                following = position + len(chunk)
                if following > start and position <= end:
                    yield chunk[max(start - position, 0) : end + 1 - position]
                position = following
                if position > end:
                    break
        finally:
            _CLOCK.local.pinned = None


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in taken:
        candidate = f"{name} ({n})"
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _item(job: RenderJob, prefix: str) -> ExportItem:
    item = ExportItem(
        job_id=job.pk,
        position=job.position,
        template_name=job.template_name,
        status=job.status,
        error=job_error_text(job) if job.status == JobStatus.FAILED else "",
        error_code=(job.error_code or "unexpected") if job.status == JobStatus.FAILED else "",
        duration=job.output_duration,
    )
    if job.status == JobStatus.SUCCEEDED and job.output:
        try:
            stored = files.stat(job.output.name)
        except (OSError, ValueError, SuspiciousFileOperation):
            stored = None
        if stored is None:
            # The row says done but the file is gone: list it, do not promise its bytes.
            item.error_code = "output_missing"
            item.error = error_text(item.error_code, {}, "")
            return item
        item.arcname = f"{prefix}output_{job.position:03d}_{result_stem(job.template_name)}.mp4"
        item.name, item.size, item.sha256 = stored.name, stored.size, job.output_sha256
        item.modified_ns = int(stored.modified.timestamp() * 1e9)
    return item


def export_archive(*, batches: Sequence[Batch], finished_only: bool = False) -> ExportArchive:
    """The streamed ZIP of these batches (already checked to be the caller's to export).

    One batch: its videos and manifests at the top level. Several: one folder each, named
    after the batch (made unique). `finished_only` leaves queued and running items out of the
    manifest too; either way only finished videos are in the archive.
    """
    if not batches:
        raise ValidationError(gettext("Select at least one batch to download."))
    several = len(batches) > 1
    taken: set[str] = set()
    folders = []
    moments: list[datetime] = []
    for batch in batches:
        prefix = _unique(safe_member_name(batch.name, fallback="batch"), taken) + "/"
        prefix = prefix if several else ""
        qs = batch.jobs.order_by("position")
        if finished_only:
            qs = qs.filter(status__in=FINISHED_STATUSES)
        jobs = list(qs)
        items = [_item(job, prefix) for job in jobs]
        folders.append(ExportFolder(batch=batch, prefix=prefix, items=items))
        moments.append(batch.created_at)
        moments.extend(j.finished_at for j in jobs if j.finished_at)
    if several:
        # The owner's clock (their browser's time zone, heygem_site.timezones).
        filename = (
            f"heygem_{len(batches)}_batches_{user_local_now(batches[0].owner):%Y%m%d_%H%M}.zip"
        )
    else:
        filename = f"{safe_member_name(batches[0].name, fallback='batch', max_length=120)}.zip"
    return ExportArchive(
        filename=filename,
        folders=folders,
        last_modified=max(moments),
        finished_only=finished_only,
    )


def export_archive_for_admin(*, batches: QuerySet[Batch]) -> ExportArchive:
    """The admin's export of any batches it selected: the same archive, newest first."""
    return export_archive(batches=list(batches.order_by("-created_at")[:MAX_BATCHES_PER_EXPORT]))


def export_size(batch: Batch) -> int:
    """The exact size of the batch's ZIP right now, for the button's label."""
    return export_archive(batches=[batch]).size
