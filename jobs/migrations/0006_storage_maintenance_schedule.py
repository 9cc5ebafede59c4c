"""Retention, quota cleanup and the sweeper run every hour. Created here, idempotently
(update_or_create by name), so repeated migrations or starts never duplicate the schedule;
`jobs.storage.cleanup.schedule_ensure` does the same at run time with the live model."""

from django.db import migrations

NAME = "heygem: retention, quota cleanup and sweep"
FIELDS = {
    "func": "jobs.tasks.storage_maintenance",
    "schedule_type": "I",
    "minutes": 60,
    "repeats": -1,
}


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(name=NAME, defaults=FIELDS)


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0005_storage_lifecycle")]
    operations = [migrations.RunPython(create, remove)]
