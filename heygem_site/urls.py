from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from heygem_site import views

admin.site.site_header = "HeyGem Studio administration"
admin.site.site_title = "HeyGem Studio admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/webhooks/", include("jobs.webhooks.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.urls")),
    path("", include("jobs.urls")),
]

# The project's error pages (used whenever DEBUG is off): JSON on /api/ routes, a page elsewhere.
handler400 = "heygem_site.errors.bad_request"
handler403 = "heygem_site.errors.permission_denied"
handler404 = "heygem_site.errors.page_not_found"
handler500 = "heygem_site.errors.server_error"
