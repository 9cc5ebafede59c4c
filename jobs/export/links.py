"""Export links: short-lived, revocable downloads of one archive.

A link is `/exports/download/?token=…`: the token is an opaque random string (only its
SHA-256 is stored, in an :class:`~jobs.models.ExportToken` row) and the credential (it works
with no session, e.g. from curl). The row says whose batches, which, until when; the owner
sees valid links on the account page and can revoke them, as can an admin. An unknown token
is a 404; a revoked or expired one, or one whose batches were deleted or whose owner was
deactivated, gets a 410 page that says so. The token travels in the query string because
neither django.request (which logs the path of 4xx answers) nor our run log records query
strings, and the gunicorn logger in heygem_site/log_redaction.py redacts it from the access log.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from jobs.export.archive import MAX_BATCHES_PER_EXPORT, ExportArchive, export_archive
from jobs.models import Batch, ExportToken

log = logging.getLogger("heygem.jobs")


@dataclass(frozen=True)
class ExportLink:
    url: str  # path and query; the API makes it absolute with request.build_absolute_uri
    expires_at: datetime
    size: int
    filename: str
    batch_ids: tuple[str, ...]
    finished_only: bool
    id: uuid.UUID | None = None


class ExportNotFound(LookupError):
    """No such link, or batches the user does not have: the web layer answers 404 (a guess
    learns nothing)."""


class ExportLinkGone(Exception):
    """The link existed but no longer works (a 410 page): ``reason`` is ``"revoked"``,
    ``"expired"`` or ``"deleted"`` (a batch in it was deleted); ``link`` is its row, so the
    page can offer its signed-in owner a new link for the same batches."""

    def __init__(self, reason: str, link: ExportToken) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _batches_for(user: User, batch_ids: Iterable[Any]) -> list[Batch]:
    """The user's batches with exactly these ids, in the order given; any missing raises
    :class:`ExportNotFound`."""
    ids: list[uuid.UUID] = []
    for raw in batch_ids:
        try:
            value = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except ValueError:
            raise ExportNotFound from None
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValidationError(gettext("Select at least one batch to download."))
    if len(ids) > MAX_BATCHES_PER_EXPORT:
        raise ValidationError(
            gettext("One download can hold at most %(n)d batches. Select fewer.")
            % {"n": MAX_BATCHES_PER_EXPORT}
        )
    found = {b.pk: b for b in Batch.objects.for_user(user).filter(pk__in=ids)}
    if len(found) != len(ids):
        raise ExportNotFound
    return [found[i] for i in ids]


def export_link_create(
    *,
    user: User,
    batch_ids: Sequence[Any],
    finished_only: bool = False,
    now: float | None = None,
) -> ExportLink:
    """A short-lived download link for these batches of the user's (foreign or missing: 404).

    `now` is the clock (seconds since the epoch), for tests of expiry.
    """
    batches = _batches_for(user, batch_ids)
    archive = export_archive(batches=batches, finished_only=finished_only)
    token = secrets.token_urlsafe(32)
    issued = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    row = ExportToken.objects.create(
        owner=user,
        token_sha256=_token_sha256(token),
        batch_ids=archive.batch_ids,
        finished_only=finished_only,
        filename=archive.filename,
        size=archive.size,
        created_at=issued,
        expires_at=issued + timedelta(seconds=settings.EXPORT_LINK_MAX_AGE),
    )
    log.info(
        "export link created",
        extra={"user_id": user.pk, "batch_ids": ",".join(archive.batch_ids), "bytes": archive.size},
    )
    return ExportLink(
        url=f"{reverse('export_download')}?{urlencode({'token': token})}",
        expires_at=row.expires_at,
        size=archive.size,
        filename=archive.filename,
        batch_ids=tuple(archive.batch_ids),
        finished_only=finished_only,
        id=row.pk,
    )


def export_link_open(*, token: str) -> ExportArchive:
    """The archive a token grants. An unknown token is a 404 (a guess learns nothing); a
    revoked, expired or orphaned one raises :class:`ExportLinkGone` saying which."""
    if not token or len(token) > 200:
        raise ExportNotFound
    row = (
        ExportToken.objects.select_related("owner")
        .filter(token_sha256=_token_sha256(token))
        .first()
    )
    if row is None:
        raise ExportNotFound
    if row.revoked_at is not None or not row.owner.is_active:
        raise ExportLinkGone("revoked", row)
    if row.expires_at <= timezone.now():
        raise ExportLinkGone("expired", row)
    try:
        batches = _batches_for(row.owner, row.batch_ids)
    except (ExportNotFound, ValidationError):
        raise ExportLinkGone("deleted", row) from None
    archive = export_archive(batches=batches, finished_only=row.finished_only)
    # The name the link was made with (its maker's clock), not one of the download's moment.
    archive.filename = row.filename or archive.filename
    log.info(
        "export downloaded",
        extra={
            "user_id": row.owner_id,
            "batch_ids": ",".join(archive.batch_ids),
            "bytes": archive.size,
        },
    )
    return archive


def export_link_revoke(*, link: ExportToken, by: User) -> bool:
    """Stop a link now (its owner or an admin); False when it was already revoked."""
    done = ExportToken.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    if done:
        log.info("export link revoked", extra={"user_id": link.owner_id, "by": by.pk})
    return bool(done)


def export_links_valid(user: User) -> QuerySet[ExportToken]:
    """The user's links that still work, newest first (the account page lists them)."""
    return user.export_tokens.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
