from __future__ import annotations

import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("Batches and render jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        if "qcluster" in sys.argv[1:2]:
            # A worker cluster starts: what a killed one left in SCRATCH_DIR goes (files
            # nobody holds; jobs.storage.leftovers).
            from jobs.storage.leftovers import leftovers_sweep

            leftovers_sweep()

        # Imported in ready(), as Django asks: apps.py loads while the app registry is built.
        from jobs.storage import files

        if files.shared():
            # Caches (audio analyses, face tracks, mouth libraries) are shared through a
            # store every host sees, so any worker host reuses what another computed.
            from rendering.cache import use_remote

            use_remote(files.StoredCache())
