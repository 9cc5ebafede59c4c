"""A template's face check is watched like a job (jobs.library.face_checks): when it was asked for,
the heartbeat of the worker running it, and how many times it started."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.utils import timezone


def watch_pending_checks(apps: Any, schema_editor: Any) -> None:
    """A template still waiting for its check may have lost its task already: watch it from
    now, so the watchdog sends it again after JOB_STALE_AFTER if nobody takes it."""
    Template = apps.get_model("jobs", "Template")
    Template.objects.filter(face_status="pending").update(face_queued_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0012_render_segments"),
    ]

    operations = [
        migrations.AddField(
            model_name="template",
            name="face_attempts",
            field=models.PositiveSmallIntegerField(
                default=0, editable=False, verbose_name="face check attempts"
            ),
        ),
        migrations.AddField(
            model_name="template",
            name="face_heartbeat_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="face check heartbeat"
            ),
        ),
        migrations.AddField(
            model_name="template",
            name="face_queued_at",
            field=models.DateTimeField(
                blank=True, db_index=True, editable=False, null=True, verbose_name="face check sent"
            ),
        ),
        migrations.RunPython(watch_pending_checks, migrations.RunPython.noop),
    ]
