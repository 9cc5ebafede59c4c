"""The URLs of heygem_site.settings_pages: the whole site's but the REST API and the admin.

``admin:index`` (the staff link in the header) points at ``/admin/``, where the front proxy
sends the browser on to the whole site. The API addresses the pages link to (the subtitle
downloads, the API docs) are named here with the whole site's paths, so the pages reverse
them as there; the front proxy sends ``/api/`` to the whole site, and a request that reaches
this process anyway gets the API's JSON 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from heygem_site.errors import page_not_found
from heygem_site.site_urls import handler400, handler403, handler404, handler500, site_patterns
from rendering.subtitle_formats import FORMATS

admin_elsewhere = ([path("", RedirectView.as_view(url="/admin/"), name="index")], "admin")


def _api_elsewhere(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return page_not_found(request)


# Every "api:" name a page or template reverses, at its path in jobs.api.urls
# (tests/site/test_pages_process.py checks both reverse to the same address).
API_NAMES_PAGES_LINK_TO = {
    "docs": "docs/",
    "schema": "schema/",
    **{
        f"batch-subtitles-{suffix}": f"batches/<uuid:batch_id>/subtitles.{suffix}"
        for suffix in FORMATS
    },
    "job-result": "jobs/<uuid:job_id>/result/",
}
api_elsewhere = (
    [path(route, _api_elsewhere, name=name) for name, route in API_NAMES_PAGES_LINK_TO.items()],
    "api",
)

urlpatterns = [
    *site_patterns,
    path("admin/", include(admin_elsewhere)),
    path("api/v1/", include(api_elsewhere)),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
