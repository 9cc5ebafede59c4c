"""URLs of the REST API, mounted at /api/v1/ under the "api" namespace."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import AllowAny

from jobs.api import transcripts as transcript_api
from jobs.api import views as api
from jobs.api import webhooks as webhook_api

app_name = "api"

urlpatterns = [
    path("audio/", api.AudioListView.as_view(), name="audio-list"),
    path("audio/<uuid:audio_id>/", api.AudioDetailView.as_view(), name="audio-detail"),
    path("templates/", api.TemplateListView.as_view(), name="template-list"),
    path("templates/<uuid:template_id>/", api.TemplateDetailView.as_view(), name="template-detail"),
    path(
        "templates/<uuid:template_id>/faces/<int:index>/thumbnail/",
        api.TemplateFaceThumbnailView.as_view(),
        name="template-face-thumbnail",
    ),
    path("batches/", api.BatchListView.as_view(), name="batch-list"),
    path("batches/<uuid:batch_id>/", api.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<uuid:batch_id>/cancel/", api.BatchCancelView.as_view(), name="batch-cancel"),
    path("batches/<uuid:batch_id>/retry/", api.BatchRetryView.as_view(), name="batch-retry"),
    *transcript_api.subtitle_urls(),  # one per subtitle format
    path("jobs/<uuid:job_id>/", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<uuid:job_id>/result/", api.JobResultView.as_view(), name="job-result"),
    path("engines/", api.EngineListView.as_view(), name="engine-list"),
    path("usage/", api.UsageView.as_view(), name="usage"),
    path("notices/", api.NoticeListView.as_view(), name="notice-list"),
    path("exports/", api.ExportCreateView.as_view(), name="export-create"),
    path("webhooks/", webhook_api.WebhookListView.as_view(), name="webhook-list"),
    path(
        "webhooks/<uuid:webhook_id>/",
        webhook_api.WebhookDetailView.as_view(),
        name="webhook-detail",
    ),
    path(
        "webhooks/<uuid:webhook_id>/deliveries/",
        webhook_api.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<uuid:webhook_id>/ping/",
        webhook_api.WebhookPingView.as_view(),
        name="webhook-ping",
    ),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        # The split view serves its start-up script as a file (docs/?script=): the site's
        # Content-Security-Policy allows no inline <script> (heygem_site.http_edges).
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]
        ),
        name="redoc",
    ),
]
