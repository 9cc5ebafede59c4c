"""IdempotencyRecord moved from accounts to jobs (migrations accounts.0006 and jobs.0018) by
its state only: records written before the move are read after it, from the same table, and
the content type (with its permissions) follows the model; the move also runs backwards."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from jobs.models import IdempotencyRecord

BEFORE = [("accounts", "0005_user_time_zone"), ("jobs", "0017_template_face_note")]
AFTER = [
    ("accounts", "0006_idempotency_record_to_jobs"),
    ("jobs", "0018_idempotency_record_from_accounts"),
]


def _migrate(targets: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_records_and_their_content_type_across_the_move() -> None:
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE)
        user = old.get_model("accounts", "User").objects.create(email="owner@example.com")
        old.get_model("accounts", "IdempotencyRecord").objects.create(
            user=user, key="retry-1", fingerprint="f" * 64, status_code=201, body={"id": "b1"}
        )
        # As on a database at the previous state: the model's content type is accounts'.
        ContentType.objects.filter(model="idempotencyrecord").delete()
        content_type = ContentType.objects.create(app_label="accounts", model="idempotencyrecord")

        _migrate(AFTER)
        record = IdempotencyRecord.objects.get(key="retry-1")
        assert (record.user_id, record.status_code, record.body) == (user.pk, 201, {"id": "b1"})
        assert IdempotencyRecord._meta.db_table == "accounts_idempotencyrecord"
        moved = ContentType.objects.get(pk=content_type.pk)
        assert (moved.app_label, moved.model) == ("jobs", "idempotencyrecord")
        assert ContentType.objects.get_for_model(IdempotencyRecord).pk == content_type.pk

        old = _migrate(BEFORE)
        back = old.get_model("accounts", "IdempotencyRecord").objects.get(key="retry-1")
        assert back.body == {"id": "b1"}
        assert ContentType.objects.get(pk=content_type.pk).app_label == "accounts"
    finally:
        _migrate(latest)
