"""The face picker on template cards: a template's faces with links to their thumbnails, for
the cards' tag and for the library's JSON (jobs.library_views), which both call
:func:`template_faces_json` here (template tags import no views)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from jobs import selectors
from jobs.models import Template

register = template.Library()


def template_faces_json(template: Template) -> list[dict[str, Any]]:
    """The template's faces with links to their thumbnails (owner-checked)."""
    return [
        face
        | {"thumbnail_url": reverse("template_face_thumbnail", args=[template.pk, face["index"]])}
        for face in selectors.template_faces(template)
    ]


@register.simple_tag
def template_faces(tpl: Any) -> list[dict[str, Any]]:
    """The template's faces with their thumbnail links."""
    return template_faces_json(tpl)
