"""WSGI entry point (gunicorn heygem_site.wsgi): the mode that streams large downloads."""

from __future__ import annotations

import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
application = get_wsgi_application()


def _sweep_leftovers() -> None:
    """A web worker starts (gunicorn replaces a killed one): remove the upload temporary
    files that no live worker holds. Never stops the start."""
    try:
        # Imported here: jobs' models load only once get_wsgi_application() set Django up.
        from jobs.storage.leftovers import leftovers_sweep

        leftovers_sweep()
    except Exception:
        logging.getLogger("heygem.jobs").exception("leftover sweep at start-up failed")


_sweep_leftovers()
