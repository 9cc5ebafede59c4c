"""IdempotencyRecord, moved here from accounts (accounts.0006): the model's state only. The
table keeps its name (accounts_idempotencyrecord, through db_table) and its rows; the
content type follows the model, so its permissions stay attached."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_move(apps, schema_editor, source="accounts", target="jobs"):
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    if not content_types.filter(app_label=target, model="idempotencyrecord").exists():
        content_types.filter(app_label=source, model="idempotencyrecord").update(app_label=target)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, source="jobs", target="accounts")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_idempotency_record_to_jobs"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("jobs", "0017_template_face_note"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=255, verbose_name="idempotency key")),
                        (
                            "fingerprint",
                            models.CharField(max_length=64, verbose_name="request fingerprint"),
                        ),
                        (
                            "status_code",
                            models.PositiveSmallIntegerField(verbose_name="HTTP status"),
                        ),
                        ("body", models.JSONField(verbose_name="answer body")),
                        (
                            "created_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="created"),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="idempotency_records",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="user",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "idempotency record",
                        "verbose_name_plural": "idempotency records",
                        "db_table": "accounts_idempotencyrecord",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "key"), name="idempotency_key_per_user"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_move, content_type_move_back, elidable=True),
    ]
