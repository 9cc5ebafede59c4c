from __future__ import annotations

from django.urls import path

from jobs import export_views, library_views, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch_detail"),
    path("batches/<uuid:batch_id>/progress.json", views.batch_progress, name="batch_progress"),
    path("batches/<uuid:batch_id>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("batches/<uuid:batch_id>/retry/", views.batch_retry, name="batch_retry"),
    path("batches/<uuid:batch_id>/delete/", views.batch_delete, name="batch_delete"),
    path("batches/<uuid:batch_id>/export/", export_views.batch_export, name="batch_export"),
    path("history/export/", export_views.batches_export_selected, name="batches_export_selected"),
    path("exports/download/", export_views.export_download, name="export_download"),
    path(
        "exports/<uuid:link_id>/revoke/",
        export_views.export_link_revoke_view,
        name="export_link_revoke",
    ),
    path("jobs/<uuid:job_id>/video.mp4", views.job_video, name="job_video"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job_download"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<uuid:job_id>/delete/", views.job_delete, name="job_delete"),
    path("history/", views.history, name="history"),
    path("history/delete/", views.batches_delete_selected, name="batches_delete_selected"),
    path("uploads/audio/", library_views.audio_upload, name="audio_upload"),
    path("uploads/templates/", library_views.template_upload, name="template_upload"),
    path("templates/", library_views.template_library, name="template_library"),
    path("templates/status.json", library_views.template_status, name="template_status"),
    path(
        "templates/<uuid:template_id>/thumbnail.jpg",
        library_views.template_thumbnail,
        name="template_thumbnail",
    ),
    path(
        "templates/<uuid:template_id>/faces/<int:index>.jpg",
        library_views.template_face_thumbnail,
        name="template_face_thumbnail",
    ),
    path(
        "templates/<uuid:template_id>/face/",
        library_views.template_face_choose,
        name="template_face_choose",
    ),
    path("templates/<uuid:template_id>/video", library_views.template_video, name="template_video"),
    path("audio/<uuid:audio_id>/file", library_views.audio_file, name="audio_file"),
    path(
        "templates/<uuid:template_id>/delete/",
        library_views.template_delete,
        name="template_delete",
    ),
]
