"""IdempotencyRecord moves to jobs (the API's app): only Django's idea of which app holds the
model changes; the table, its rows and constraint stay as they are (jobs.0018 takes it over,
keeping the table's name with db_table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_time_zone"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
