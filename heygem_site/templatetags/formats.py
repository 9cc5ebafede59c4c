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
def fraction_percent(value: Any) -> str:
    """0.002 -> '0.2 %' (for labels)."""
    return formats.percent_label(float(value or 0) * 100)


@register.filter
def css_width(value: Any) -> str:
    """0.002 -> '0.200%' (for style attributes: never localised, never above 100%)."""
    return f"{min(100.0, max(0.0, float(value or 0) * 100)):.3f}%"


@register.filter
def engine_label(value: Any) -> str:
    return formats.engine_label(str(value))
