"""The URLs of heygem_site.settings_pages: the whole site's but the REST API and the admin.

``admin:index`` (the staff link in the header) points at ``/admin/``, where the front proxy
sends the browser on to the whole site.
"""

from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

from heygem_site.site_urls import handler400, handler403, handler404, handler500, site_patterns

admin_elsewhere = ([path("", RedirectView.as_view(url="/admin/"), name="index")], "admin")

urlpatterns = [*site_patterns, path("admin/", include(admin_elsewhere))]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
