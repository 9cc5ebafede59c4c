"""Queue face listing for templates analysed before faces were listed (``faces`` is empty),
so their cards and the API can offer the choice of who speaks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from jobs.library import face_checks
from jobs.models import FaceStatus, Template


class Command(BaseCommand):
    help = (
        "Queue the face analysis again for every template whose faces were never listed "
        "(uploaded before the face choice existed). Safe to run twice: a listed template "
        "is skipped, and the analysis reuses cached face tracks."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        pending = Template.objects.filter(faces__isnull=True).exclude(
            face_status=FaceStatus.PENDING
        )
        ids = [str(pk) for pk in pending.values_list("pk", flat=True)]
        for template_id in ids:
            # Outside a transaction on_commit sends at once; inside one, after it commits.
            face_checks.template_check_send(template_id=template_id)
        self.stdout.write(f"{len(ids)} templates queued for face listing.")
