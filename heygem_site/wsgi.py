"""WSGI entry point (gunicorn heygem_site.wsgi): the mode that streams large downloads."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
application = get_wsgi_application()
