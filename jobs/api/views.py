"""REST API v1 for scripts: thin DRF views over the same services and selectors as the pages.

Every lookup starts from ``request.user`` (a foreign id is a 404), every write goes through
``jobs.services``, and errors share one body shape (``heygem_site.api``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from heygem_site.api import error_body
from jobs import selectors, services
from jobs.api.common import DATE_FILTERS, ERROR, IDEMPOTENCY, api_user, created_between
from jobs.api.idempotency import idempotent
from jobs.api.serializers import (
    BATCH_STATUSES,
    AudioSerializer,
    BatchCreateSerializer,
    BatchDetailSerializer,
    BatchSerializer,
    EngineSerializer,
    ExportCreateSerializer,
    ExportLinkSerializer,
    JobSerializer,
    NoticeSerializer,
    RetrySerializer,
    TemplateSerializer,
    TemplateUpdateSerializer,
    UploadSerializer,
    UsageSerializer,
)
from jobs.export import ExportNotFound, export_link_create
from jobs.library.uploads import upload_too_large_message
from jobs.models import AudioClip, Batch, RenderJob, Template
from jobs.names import result_download_name
from jobs.render.worker.engines import engines_offered
from jobs.storage.serving import serve_file


def _upload(request: Request, service: Callable[..., Any], serializer: type[Any]) -> Response:
    uploaded = request.FILES.get("file")  # parses the body: the size check below needs that
    message = upload_too_large_message(request._request)
    if message is not None:
        return Response(error_body("too_large", message), status=413)
    if uploaded is None:
        raise ValidationError(
            gettext("Send the media file in a multipart form field named “file”.")
        )
    item = service(owner=api_user(request), uploaded=uploaded)
    return Response(serializer(item).data, status=status.HTTP_201_CREATED)


def _batches(user: User) -> QuerySet[Batch]:
    return selectors.batches_for_user(user).prefetch_related(
        Prefetch("jobs", queryset=RenderJob.objects.order_by("position"))
    )


# --- Audio ----------------------------------------------------------------------------------


class AudioListView(generics.ListAPIView[AudioClip]):
    serializer_class = AudioSerializer
    parser_classes = (MultiPartParser, FormParser)
    throttle_scope = "upload"

    def get_queryset(self) -> QuerySet[AudioClip]:
        return created_between(self.request, selectors.audio_for_user(api_user(self.request)))

    @extend_schema(parameters=DATE_FILTERS, summary="List your audio clips")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: AudioSerializer, 400: ERROR, 413: ERROR, 429: ERROR},
        summary="Upload an audio file (or a video whose sound to use)",
    )
    def post(self, request: Request) -> Response:
        return _upload(request, services.audio_upload, AudioSerializer)


class AudioDetailView(APIView):
    @extend_schema(responses={200: AudioSerializer, 404: ERROR}, summary="Get an audio clip")
    def get(self, request: Request, audio_id: str) -> Response:
        return Response(AudioSerializer(selectors.audio_get(api_user(request), audio_id)).data)

    @extend_schema(responses={204: None, 400: ERROR, 404: ERROR}, summary="Delete an audio clip")
    def delete(self, request: Request, audio_id: str) -> Response:
        services.audio_delete(clip=selectors.audio_get(api_user(request), audio_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Templates ------------------------------------------------------------------------------


class TemplateListView(generics.ListAPIView[Template]):
    serializer_class = TemplateSerializer
    parser_classes = (MultiPartParser, FormParser)
    throttle_scope = "upload"

    def get_queryset(self) -> QuerySet[Template]:
        qs = created_between(self.request, selectors.templates_for_user(api_user(self.request)))
        face = self.request.query_params.get("face_status", "")
        if face:
            qs = qs.filter(face_status=face)
        return qs

    @extend_schema(
        parameters=[
            *DATE_FILTERS,
            OpenApiParameter("face_status", str, enum=["pending", "ready", "failed"]),
        ],
        summary="List your template videos",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: TemplateSerializer, 400: ERROR, 413: ERROR, 429: ERROR},
        summary="Upload a template video (its face is checked in the background)",
    )
    def post(self, request: Request) -> Response:
        return _upload(request, services.template_upload, TemplateSerializer)


class TemplateDetailView(APIView):
    @extend_schema(responses={200: TemplateSerializer, 404: ERROR}, summary="Get a template")
    def get(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get(api_user(request), template_id)
        return Response(TemplateSerializer(template).data)

    @extend_schema(
        request=TemplateUpdateSerializer,
        responses={200: TemplateSerializer, 400: ERROR, 404: ERROR},
        summary="Choose which face speaks in new batches (finished results are untouched)",
    )
    def patch(self, request: Request, template_id: str) -> Response:
        template = selectors.template_get(api_user(request), template_id)
        incoming = TemplateUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        template = services.template_face_choose(
            template=template, face=incoming.validated_data["face_choice"]
        )
        return Response(TemplateSerializer(template).data)

    @extend_schema(
        responses={204: None, 400: ERROR, 404: ERROR},
        summary="Delete a template (finished results keep working)",
    )
    def delete(self, request: Request, template_id: str) -> Response:
        services.template_delete(template=selectors.template_get(api_user(request), template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JpegRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: image/jpeg``; the view answers with the file itself."""

    media_type = "image/jpeg"
    format = "jpg"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return json.dumps(data).encode() if data is not None else b""


class TemplateFaceThumbnailView(APIView):
    renderer_classes = (JSONRenderer, JpegRenderer)

    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: ERROR},
        summary="A small JPEG of one face a template shows",
    )
    def get(self, request: Request, template_id: str, index: int) -> HttpResponseBase:
        user = api_user(request)
        template = selectors.template_get(user, template_id)
        return serve_file(
            request._request,
            selectors.template_face_thumbnail_name(template, index),
            download_name=f"face{index + 1}.jpg",
            as_attachment=False,
            content_type="image/jpeg",
            within=user.storage_prefix,
        )


# --- Batches --------------------------------------------------------------------------------


class BatchListView(generics.ListAPIView[Batch]):
    serializer_class = BatchSerializer
    throttle_scope = "create"

    def get_queryset(self) -> QuerySet[Batch]:
        qs = created_between(self.request, _batches(api_user(self.request)))
        wanted = self.request.query_params.get("status", "")
        if wanted:
            if wanted not in BATCH_STATUSES:
                raise ValidationError(
                    gettext("status must be one of: %(values)s.")
                    % {"values": ", ".join(BATCH_STATUSES)}
                )
            qs = selectors.batches_with_status(qs, wanted)
        search = self.request.query_params.get("search", "").strip()
        if search:
            qs = qs.filter(name__icontains=search)
        return qs

    @extend_schema(
        parameters=[
            *DATE_FILTERS,
            OpenApiParameter("status", str, enum=BATCH_STATUSES),
            OpenApiParameter("search", str, description="Part of the batch name."),
        ],
        summary="List your batches, newest first, with per-job status and progress",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=BatchCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: BatchDetailSerializer, 400: ERROR, 422: ERROR, 429: ERROR},
        summary="Start a batch: one audio drives every chosen template",
    )
    def post(self, request: Request) -> Response:
        incoming = BatchCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data

        def create() -> Response:
            batch = services.batch_create(
                owner=api_user(request),
                audio_id=data["audio"],
                template_ids=data["templates"],
                name=data.get("name", ""),
                engine=data.get("engine", ""),
                language=data.get("language", "auto"),
                script=data.get("script", ""),
                captions=data.get("captions", ""),
                caption_size=data.get("caption_size", "medium"),
            )
            fresh = _batches(api_user(request)).get(pk=batch.pk)
            return Response(BatchDetailSerializer(fresh).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class BatchDetailView(APIView):
    @extend_schema(
        responses={200: BatchDetailSerializer, 404: ERROR},
        summary="Get a batch, its jobs and its transcript with word timings",
    )
    def get(self, request: Request, batch_id: str) -> Response:
        return Response(BatchDetailSerializer(self._get(request, batch_id)).data)

    @extend_schema(
        responses={204: None, 404: ERROR},
        summary="Delete a batch and its results (running jobs are canceled)",
    )
    def delete(self, request: Request, batch_id: str) -> Response:
        services.batch_delete(batch=selectors.batch_get(api_user(request), batch_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _get(request: Request, batch_id: str) -> Batch:
        return get_object_or_404(_batches(api_user(request)), pk=batch_id)


class BatchCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: BatchSerializer, 404: ERROR},
        summary="Cancel the batch's queued and running jobs",
    )
    def post(self, request: Request, batch_id: str) -> Response:
        services.batch_cancel(batch=selectors.batch_get(api_user(request), batch_id))
        return Response(BatchSerializer(BatchDetailView._get(request, batch_id)).data)


class BatchRetryView(APIView):
    @extend_schema(
        request=None,
        responses={200: RetrySerializer, 400: ERROR, 404: ERROR},
        summary="Queue the batch's failed and canceled jobs again",
    )
    def post(self, request: Request, batch_id: str) -> Response:
        count = services.batch_retry_failed(batch=selectors.batch_get(api_user(request), batch_id))
        batch = BatchDetailView._get(request, batch_id)
        return Response({"requeued": count, "batch": BatchSerializer(batch).data})


# --- Jobs -----------------------------------------------------------------------------------


class Mp4Renderer(BaseRenderer):
    """Lets a client ask for ``Accept: video/mp4``; the view answers with the file itself."""

    media_type = "video/mp4"
    format = "mp4"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return json.dumps(data).encode() if data is not None else b""


class JobDetailView(APIView):
    @extend_schema(responses={200: JobSerializer, 404: ERROR}, summary="Get one render job")
    def get(self, request: Request, job_id: str) -> Response:
        return Response(JobSerializer(selectors.job_get(api_user(request), job_id)).data)


class JobResultView(APIView):
    renderer_classes = (JSONRenderer, Mp4Renderer)

    @extend_schema(
        responses={
            (200, "video/mp4"): OpenApiTypes.BINARY,
            (206, "video/mp4"): OpenApiTypes.BINARY,
            404: ERROR,
        },
        summary="Download a finished job's video (byte ranges supported)",
    )
    def get(self, request: Request, job_id: str) -> HttpResponseBase:
        job = selectors.job_get(api_user(request), job_id)
        if job.status != "succeeded" or not job.output:
            return Response(
                error_body("not_ready", _("This job has no finished video yet.")), status=404
            )
        return serve_file(
            request._request,
            job.output.name,
            download_name=result_download_name(job),
            as_attachment=True,
        )


# --- Engines --------------------------------------------------------------------------------


class EngineListView(APIView):
    @extend_schema(
        responses={200: EngineSerializer(many=True)}, summary="Engines this server can render with"
    )
    def get(self, request: Request) -> Response:
        default = settings.RENDER_ENGINE_DEFAULT
        return Response([{"name": n, "default": n == default} for n in engines_offered()])


# --- Exports --------------------------------------------------------------------------------


class ExportCreateView(APIView):
    throttle_scope = "create"

    @extend_schema(
        request=ExportCreateSerializer,
        responses={201: ExportLinkSerializer, 400: ERROR, 404: ERROR, 429: ERROR},
        summary="Mint a short-lived link to one ZIP of these batches",
    )
    def post(self, request: Request) -> Response:
        incoming = ExportCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            link = export_link_create(
                user=api_user(request),
                batch_ids=incoming.validated_data["batches"],
                finished_only=incoming.validated_data["finished_only"],
            )
        except ExportNotFound:
            raise NotFound from None
        body = {
            "url": request.build_absolute_uri(link.url),
            "filename": link.filename,
            "size": link.size,
            "expires_at": link.expires_at,
            "batches": list(link.batch_ids),
            "finished_only": link.finished_only,
        }
        response = Response(ExportLinkSerializer(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


# --- Usage ----------------------------------------------------------------------------------


class UsageView(APIView):
    @extend_schema(responses={200: UsageSerializer}, summary="Your storage use, quota and limits")
    def get(self, request: Request) -> Response:
        usage = selectors.usage_for_user(api_user(request))
        body = {
            "used_bytes": usage.used_bytes,
            "quota_bytes": usage.quota_bytes,
            "free_bytes": usage.free_bytes,
            "reserved_bytes": usage.reserved_bytes,
            "audio_bytes": usage.audio_bytes,
            "template_bytes": usage.template_bytes,
            "result_bytes": usage.result_bytes,
            "active_jobs": usage.active_jobs,
            "max_concurrent_jobs": usage.max_concurrent_jobs,
            "retention_days": usage.retention_days,
            "max_upload_bytes": settings.MAX_UPLOAD_SIZE,
            "max_templates_per_batch": settings.MAX_TEMPLATES_PER_BATCH,
            "max_audio_seconds": settings.MAX_AUDIO_SECONDS,
            "max_template_seconds": settings.MAX_TEMPLATE_SECONDS,
        }
        return Response(UsageSerializer(body).data)


# --- Notices --------------------------------------------------------------------------------


class NoticeListView(APIView):
    @extend_schema(
        responses={200: NoticeSerializer(many=True)},
        summary="What the service did to your data on its own (quota cleanup, retention): "
        "unseen first, newest first, at most 100",
    )
    def get(self, request: Request) -> Response:
        # Read-only: listing does not mark them shown (the site's pages still show each once).
        notices = selectors.notices_for_user(api_user(request))
        return Response(NoticeSerializer(notices, many=True).data)
