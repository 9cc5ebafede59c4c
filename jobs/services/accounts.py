"""Writes that remove what an account owns: all its batches, results, templates and audio
(the account stays), or the account with all of it. accounts knows nothing of jobs, so the
pages and the admin that offer these call them here."""

from __future__ import annotations

import logging

from accounts.models import User
from jobs.storage import deletion

log = logging.getLogger("heygem.jobs")


def user_data_delete(*, user: User) -> int:
    """Delete every batch, result, template and audio of the user; the account stays.
    Returns the bytes freed."""
    freed = deletion.user_data_mark(owner_id=user.pk)
    log.info("user data deleted", extra={"user_id": user.pk, "bytes": freed})
    return freed


def user_delete(*, user: User) -> None:
    """Delete an account with all its data and files (it cannot sign in from the start)."""
    deletion.user_mark(user_id=user.pk)
    log.info("user deletion started", extra={"user_id": user.pk})
