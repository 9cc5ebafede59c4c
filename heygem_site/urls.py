from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from heygem_site.site_urls import handler400, handler403, handler404, handler500, site_patterns

admin.site.site_header = _("HeyGem Studio administration")
admin.site.site_title = _("HeyGem Studio admin")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("jobs.api.urls")),
    *site_patterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
