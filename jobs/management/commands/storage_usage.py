"""Recompute each user's storage use from the files on disk; report drift, fix with --fix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.template.defaultfilters import filesizeformat

from accounts.models import User
from jobs.storage.usage import usage_recompute


class Command(BaseCommand):
    help = (
        "Compare each user's recorded storage use with the sizes of their files on disk. "
        "Prints one line per user with drift; --fix corrects the rows and the counters."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="correct the drift found")
        parser.add_argument("--user", action="append", default=[], help="email (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        users = User.objects.filter(deleting_at__isnull=True).order_by("pk")
        if options["user"]:
            users = users.filter(email__in=[e.lower() for e in options["user"]])
        checked = drifted = 0
        for user_id in users.values_list("pk", flat=True):
            drift = usage_recompute(user_id=user_id, fix=options["fix"])
            checked += 1
            if drift.drift or drift.rows_fixed:
                drifted += 1
                self.stdout.write(
                    f"{drift.email}: recorded {drift.recorded} B ({filesizeformat(drift.recorded)}), "
                    f"on disk {drift.on_disk} B ({filesizeformat(drift.on_disk)}), "
                    f"drift {drift.drift:+d} B" + (" — fixed" if options["fix"] else "")
                )
        self.stdout.write(f"{checked} users checked, {drifted} with drift.")
