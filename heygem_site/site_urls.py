"""The site's pages, shared by the whole site (heygem_site.urls) and by the pages-only
process (heygem_site.urls_pages, without the REST API and the admin)."""

from __future__ import annotations

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from heygem_site import views

site_patterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", views.language_set, name="language_set"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("accounts/webhooks/", include("jobs.webhooks.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("jobs.urls")),
]

# The project's error pages (used whenever DEBUG is off): JSON on /api/ routes, a page elsewhere.
handler400 = "heygem_site.errors.bad_request"
handler403 = "heygem_site.errors.permission_denied"
handler404 = "heygem_site.errors.page_not_found"
handler500 = "heygem_site.errors.server_error"
