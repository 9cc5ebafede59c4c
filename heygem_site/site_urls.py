"""The site's pages, shared by the whole site (heygem_site.urls) and by the pages-only
process (heygem_site.urls_pages, without the REST API and the admin)."""

from __future__ import annotations

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts import urls as account_urls
from heygem_site import views
from jobs import account_views

# /accounts/: the account's own pages (accounts.urls) and those that show its jobs and files
# (jobs.account_views), under one "accounts" namespace; accounts imports nothing of jobs.
account_patterns = (
    [*account_urls.urlpatterns, *account_views.urlpatterns],
    account_urls.app_name,
)

site_patterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", views.language_set, name="language_set"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("accounts/webhooks/", include("jobs.webhooks.urls")),
    path("accounts/", include(account_patterns)),
    path("", include("jobs.urls")),
]

# The project's error pages (used whenever DEBUG is off): JSON on /api/ routes, a page elsewhere.
handler400 = "heygem_site.errors.bad_request"
handler403 = "heygem_site.errors.permission_denied"
handler404 = "heygem_site.errors.page_not_found"
handler500 = "heygem_site.errors.server_error"
