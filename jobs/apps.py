from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("Batches and render jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import sys

        from django.conf import settings

        if "qcluster" in sys.argv[1:2]:
            # A worker cluster starts: what a killed one left in SCRATCH_DIR goes (files
            # nobody holds; jobs.storage.leftovers).
            from jobs.storage.leftovers import leftovers_sweep

            leftovers_sweep()

        if settings.STORAGE_BACKEND == "s3":
            # Caches (audio analyses, face tracks, mouth libraries) are shared through the
            # object store, so any worker host reuses what another computed.
            from jobs.storage.files import StoredCache
            from rendering.cache import use_remote

            use_remote(StoredCache())
