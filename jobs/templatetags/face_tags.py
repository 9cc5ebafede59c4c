"""Template helpers for the face picker on template cards."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def template_faces(tpl: Any) -> list[dict[str, Any]]:
    """The template's faces with their thumbnail links (jobs.library_views.template_faces_json)."""
    from jobs.library_views import template_faces_json

    return template_faces_json(tpl)
