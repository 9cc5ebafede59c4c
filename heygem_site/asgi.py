"""ASGI entry point. Prefer WSGI for big downloads: ASGI buffers synchronous streams."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
application = get_asgi_application()
