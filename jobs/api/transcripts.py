"""The batch's subtitles over the API: ``GET /api/v1/batches/{id}/subtitles.srt`` and ``.vtt``.

The text is made from the cues stored on the batch (jobs.transcripts); another user's batch
is a 404 like any foreign id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heygem_site.api import error_body
from jobs import selectors, transcripts
from jobs.api.common import ERROR, api_user
from jobs.names import content_disposition


class _TextRenderer(BaseRenderer):
    """Lets a client ask for the subtitle type; the view answers with the text itself."""

    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data) if data is not None else b""


class SrtRenderer(_TextRenderer):
    media_type = transcripts.SUBTITLE_KINDS["srt"]
    format = "srt"


class VttRenderer(_TextRenderer):
    media_type = transcripts.SUBTITLE_KINDS["vtt"]
    format = "vtt"


def subtitles_response(batch: Any, kind: str) -> HttpResponse | None:
    """The batch's subtitles as a download, or None when it has none."""
    text = transcripts.subtitles_text(batch, kind)
    if text is None:
        return None
    response = HttpResponse(
        text.encode("utf-8"), content_type=f"{transcripts.SUBTITLE_KINDS[kind]}; charset=utf-8"
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


class BatchSrtView(_SubtitlesView):
    kind = "srt"
    renderer_classes = (JSONRenderer, SrtRenderer)

    @extend_schema(
        responses={(200, SrtRenderer.media_type): OpenApiTypes.STR, 404: ERROR},
        summary="Download the batch's subtitles as SubRip (.srt)",
    )
    def get(self, request: Request, batch_id: str) -> HttpResponseBase:
        return super().get(request, batch_id)


class BatchVttView(_SubtitlesView):
    kind = "vtt"
    renderer_classes = (JSONRenderer, VttRenderer)

    @extend_schema(
        responses={(200, VttRenderer.media_type): OpenApiTypes.STR, 404: ERROR},
        summary="Download the batch's subtitles as WebVTT (.vtt)",
    )
    def get(self, request: Request, batch_id: str) -> HttpResponseBase:
        return super().get(request, batch_id)
