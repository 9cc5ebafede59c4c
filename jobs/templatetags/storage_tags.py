"""Template helpers for retention and notices."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from jobs.selectors import batch_expires_at
from jobs.storage.cleanup import notices_take
from jobs.user_errors import template_face_error_text, template_face_note_text

register = template.Library()


@register.filter
def expires_in(batch: Any, user: Any) -> str:
    """'expires in 7 days' for a history row, from the owner's retention period, rounded the
    way people count: 6 days 23 hours left is 7 days, not 6; under a day and a half, hours."""
    left = batch_expires_at(batch, retention_days=user.retention_days) - timezone.now()
    seconds = left.total_seconds()
    if seconds <= 30 * 60:
        return gettext("expires soon")
    if seconds < 36 * 3600:
        hours = max(1, round(seconds / 3600))
        return ngettext("expires in %(n)d hour", "expires in %(n)d hours", hours) % {"n": hours}
    days = round(seconds / 86400)
    return ngettext("expires in %(n)d day", "expires in %(n)d days", days) % {"n": days}


@register.simple_tag
def take_notices(user: Any) -> list[str]:
    """What the service removed on its own since the user's last page, shown once."""
    if not getattr(user, "is_authenticated", False):
        return []

    return notices_take(user=user)


@register.filter
def face_error_text(template: Any) -> str:
    """Why a template's face check failed, in the reader's language."""
    return template_face_error_text(template)


@register.filter
def face_note_text(template: Any) -> str:
    """The face check's advice on a usable template, in the reader's language."""
    return template_face_note_text(template)
