"""The site without the REST API and the admin: pages, uploads, previews, result downloads
and ZIP exports, in a process that never loads Django REST framework, drf-spectacular or
the admin (about 48 MiB resident after start against 73 MiB for the whole site).

A deployment that wants its download-serving processes lean runs two gunicorns from the
same code: this one (``DJANGO_SETTINGS_MODULE=heygem_site.settings_pages``) for everything
but ``/api/`` and ``/admin/``, which nginx routes to the whole site (docs/deployment.md).
Every setting is the whole site's; only the apps and the URLs differ.
"""

from __future__ import annotations

from heygem_site.settings import *  # noqa: F403
from heygem_site.settings import INSTALLED_APPS

_API_AND_ADMIN = {
    "django.contrib.admin",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
}
INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in _API_AND_ADMIN]
ROOT_URLCONF = "heygem_site.urls_pages"
