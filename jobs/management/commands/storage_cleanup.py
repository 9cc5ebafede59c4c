"""Run retention, quota cleanup and the sweeper now (the hourly schedule runs the same)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jobs.housekeeping import housekeeping_run
from jobs.storage import cleanup, retention


class Command(BaseCommand):
    help = (
        "Delete what outlived each user's retention period, bring users over quota back "
        "under it (oldest results first), finish interrupted deletions, and remove files "
        "with no row and rows whose file is gone, queue stuck webhook deliveries again and "
        "delete old delivery and idempotency rows. With no option, all of it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retention", action="store_true", help="only the retention step")
        parser.add_argument("--quota", action="store_true", help="only the quota cleanup")
        parser.add_argument("--sweep", action="store_true", help="only the sweeper")
        parser.add_argument(
            "--housekeeping",
            action="store_true",
            help="only the webhook and API tables: stuck deliveries, old rows",
        )
        parser.add_argument(
            "--ensure-schedule",
            action="store_true",
            help="also create the hourly django-q2 schedule if it is missing (idempotent)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        everything = not (
            options["retention"] or options["quota"] or options["sweep"] or options["housekeeping"]
        )
        if options["ensure_schedule"]:
            cleanup.schedule_ensure()
            self.stdout.write(f"schedule: {cleanup.SCHEDULE_NAME!r} present")
        if everything or options["retention"]:
            self.stdout.write(f"retention: removed {retention.retention_apply()}")
        if everything or options["quota"]:
            self.stdout.write(f"quota cleanup: removed {cleanup.quota_cleanup_all()} items")
        if everything or options["sweep"]:
            self.stdout.write(f"sweep: {cleanup.sweep()}")
        if everything or options["housekeeping"]:
            self.stdout.write(f"housekeeping: {housekeeping_run()}")
