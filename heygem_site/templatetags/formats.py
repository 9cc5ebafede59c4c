"""Template filters loaded on every page (settings.TEMPLATES "builtins")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html

from heygem_site import formats

register = template.Library()


@register.filter
def size(value: Any) -> str:
    return formats.size_label(value)


@register.filter
def duration(value: Any) -> str:
    return formats.duration_label(value)


@register.filter
def batch_status(value: Any) -> str:
    return formats.batch_status_label(value)


@register.filter
def percent(value: Any) -> str:
    return formats.percent_label(value)


@register.filter
def ago(value: datetime | None) -> str:
    """'3 minutes ago' in a <time> element that static/js/common.js keeps moving."""
    if value is None:
        return ""
    return format_html(
        '<time datetime="{}" data-relative title="{}">{}</time>',
        value.isoformat(),
        timezone.localtime(value).strftime("%Y-%m-%d %H:%M"),
        naturaltime(value),
    )


@register.filter
def css_share(part: Any, whole: Any) -> str:
    """'0.200%' for a style attribute: never localised, never above 100%."""
    whole = float(whole or 0)
    share = 100.0 if whole <= 0 else 100.0 * float(part or 0) / whole
    return f"{min(100.0, max(0.0, share)):.3f}%"


@register.filter
def engine_label(value: Any) -> str:
    return formats.engine_label(str(value))


@register.filter
def share_of(part: Any, whole: Any) -> str:
    """'0.2 %': part of whole, unrounded before formatting (a tiny share is '< 0.1 %', not 0)."""
    whole = float(whole or 0)
    return formats.percent_label(
        100.0 if whole <= 0 else min(100.0, 100.0 * float(part or 0) / whole)
    )
