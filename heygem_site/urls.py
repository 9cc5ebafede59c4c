from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from heygem_site import views

admin.site.site_header = _("HeyGem Studio administration")
admin.site.site_title = _("HeyGem Studio admin")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", views.language_set, name="language_set"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
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
