"""The batch's subtitles over the API: ``GET /api/v1/batches/{id}/subtitles.<suffix>``, one
address per format of ``rendering.subtitle_formats.FORMATS`` (``.srt``, ``.vtt``, ``.ass``).

The text is made from the cues stored on the batch (jobs.words.transcripts); another user's batch
is a 404 like any foreign id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heygem_site.api import error_body
from jobs import selectors
from jobs.api.common import ERROR, api_user
from jobs.names import content_disposition
from jobs.words import transcripts
from rendering.subtitle_formats import FORMATS, SubtitleFormat


class _TextRenderer(BaseRenderer):
    """Lets a client ask for the subtitle type; the view answers with the text itself."""

    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data) if data is not None else b""


def subtitles_response(batch: Any, kind: str) -> HttpResponse | None:
    """The batch's subtitles as a download, or None when it has none."""
    text = transcripts.subtitles_text(batch, kind)
    if text is None:
        return None
    response = HttpResponse(
        text.encode("utf-8"), content_type=f"{FORMATS[kind].content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition(f"{batch.name}.{kind}")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def not_ready(batch: Any) -> Response:
    note = transcripts.transcript_note(batch) or _(
        "The transcript is not ready yet: it is made before the first video renders."
    )
    return Response(
        error_body("not_ready", _("This batch has no subtitles. %(reason)s") % {"reason": note}),
        status=404,
    )


class _SubtitlesView(APIView):
    kind: ClassVar[str] = ""

    def get(self, request: Request, batch_id: str) -> HttpResponseBase:
        batch = selectors.batch_get(api_user(request), batch_id)
        return subtitles_response(batch, self.kind) or not_ready(batch)


def subtitles_view(subtitle_format: type[SubtitleFormat]) -> type[_SubtitlesView]:
    """The API view of one format: its renderer (so a client may ask for its type) and its
    entry in the schema."""
    renderer = type(
        f"{subtitle_format.__name__}Renderer",
        (_TextRenderer,),
        {"media_type": subtitle_format.content_type, "format": subtitle_format.suffix},
    )

    @extend_schema(
        responses={(200, subtitle_format.content_type): OpenApiTypes.STR, 404: ERROR},
        summary=f"Download the batch's subtitles as {subtitle_format.title}",
    )
    def get(self: _SubtitlesView, request: Request, batch_id: str) -> HttpResponseBase:
        return _SubtitlesView.get(self, request, batch_id)

    return type(
        f"Batch{subtitle_format.__name__}View",
        (_SubtitlesView,),
        {
            "kind": subtitle_format.suffix,
            "renderer_classes": (JSONRenderer, renderer),
            "get": get,
        },
    )


def subtitle_urls() -> list[URLPattern]:
    """``batches/<id>/subtitles.<suffix>``, named ``batch-subtitles-<suffix>``, per format."""
    return [
        path(
            f"batches/<uuid:batch_id>/subtitles.{suffix}",
            subtitles_view(subtitle_format).as_view(),
            name=f"batch-subtitles-{suffix}",
        )
        for suffix, subtitle_format in FORMATS.items()
    ]
