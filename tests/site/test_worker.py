"""A real django-q2 cluster (`manage.py qcluster`, not sync mode) runs a task against the
test database, on whichever broker this run is configured for (ORM on SQLite; Redis in CI's
PostgreSQL run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Task

from tests.support.processes import child_env, manage, unique_cluster_name, wait_for, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_it_runs_a_task_in_a_real_worker_cluster(broker: str, tmp_path) -> None:
    redis_url = os.environ.get("REDIS_URL", "")
    if broker == "redis" and not redis_url:
        pytest.skip("REDIS_URL is not set (CI's PostgreSQL + Redis run covers it)")
    env = child_env(
        Q_CLUSTER_NAME=unique_cluster_name(), REDIS_URL=redis_url if broker == "redis" else ""
    )
    task_id = (
        manage(
            "shell",
            "-c",
            "from django_q.tasks import async_task; print(async_task('heygem_site.tasks.worker_health'))",
            env=env,
        )
        .strip()
        .splitlines()[-1]
    )

    log = tmp_path / "worker.log"
    with worker(env, log):
        task = wait_for(
            lambda: Task.objects.filter(id=task_id).first(),
            timeout=90,
            what=f"task {task_id} to finish",
        )
    assert isinstance(task, Task)
    assert task.success, task.result
    assert task.result["ok"] is True
    # The worker used the very database this test created, not the development one.
    assert task.result["vendor"] == connection.vendor
    assert Path(task.result["database"]).name == Path(connection.settings_dict["NAME"]).name
