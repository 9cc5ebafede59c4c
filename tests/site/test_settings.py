from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from heygem_site.env import parse_database_url, parse_size
from tests.support.processes import ROOT


def test_it_keeps_queue_retry_above_timeout() -> None:
    # Otherwise django-q2 hands a long render to a second worker while the first still runs.
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["timeout"] >= settings.RENDER_TASK_TIMEOUT
    assert q["max_attempts"] == 1, "attempts are counted in RenderJob rows, not by the broker"


def test_it_uses_wal_and_a_busy_timeout_on_sqlite(db) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000


def _start_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a yes/no value"),
        ({"Q_WORKERS": "many"}, "Q_WORKERS='many' is not a whole number"),
        ({"MAX_UPLOAD_SIZE": "big"}, "MAX_UPLOAD_SIZE='big' is not a size"),
        ({"DATABASE_URL": "mysql://x/y"}, "only postgres:// and sqlite:// are supported"),
        ({"REDIS_URL": "localhost:6379"}, "is not a Redis URL"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 50 characters"),
        ({"SECRET_KEY_FILE": "/nonexistent/key"}, "SECRET_KEY_FILE points at '/nonexistent/key'"),
        ({"NEURAL_BBOX_SHIFT": "65"}, "NEURAL_BBOX_SHIFT=65 is too large"),
        ({"NEURAL_BBOX_SHIFT": "-65"}, "NEURAL_BBOX_SHIFT=-65 is too small"),
        # Names the registries do not know (rendering.engines.ENGINES, jobs.storage.stores.STORES)
        (
            {"RENDER_ENGINE_DEFAULT": "fast"},
            "RENDER_ENGINE_DEFAULT='fast': write one of classic, neural.",
        ),
        (
            {"ENGINE_POOLS": "nueral=gpu"},
            "there is no engine 'nueral'; write one of classic, neural.",
        ),
        ({"STORAGE_BACKEND": "nfs"}, "STORAGE_BACKEND='nfs': write one of local, s3."),
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
    ],
)
def test_it_refuses_to_start_with_a_bad_value(env: dict[str, str], sentence: str, tmp_path) -> None:
    result = _start_with({"HEYGEM_VAR_DIR": str(tmp_path), **env})
    assert result.returncode != 0
    assert sentence in result.stderr


def test_it_passes_the_deploy_check_with_production_variables(tmp_path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k" * 20 + "-a-long-random-production-secret-value-for-tests-0123456789")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            "HEYGEM_VAR_DIR": str(tmp_path),
            "DEBUG": "0",
            "SECRET_KEY_FILE": str(key_file),
            "ALLOWED_HOSTS": "studio.example.com",
            "SITE_URL": "https://studio.example.com",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_it_parses_database_urls() -> None:
    pg = parse_database_url(
        "DATABASE_URL", "postgres://app:s%40cret@db.internal:5433/heygem?sslmode=require"
    )
    assert (pg.engine, pg.user, pg.password, pg.host, pg.port, pg.name) == (
        "postgresql",
        "app",
        "s@cret",
        "db.internal",
        "5433",
        "heygem",
    )
    assert pg.options == {"sslmode": "require"}
    assert (
        parse_database_url("DATABASE_URL", "sqlite:////var/lib/h.sqlite3").name
        == "/var/lib/h.sqlite3"
    )
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        parse_database_url("DATABASE_URL", "postgres://host:5432/")


def test_it_parses_sizes() -> None:
    assert parse_size("500MB") == 500 * 1000**2
    assert parse_size("10 GiB") == 10 * 1024**3
    assert parse_size("1_024") == 1024
    with pytest.raises(ValueError):
        parse_size("ten")


def test_the_cache_never_shares_the_queues_redis_database(tmp_path) -> None:
    """Clearing the cache (flushdb, as every test does) must not wipe django-q's queue."""
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'heygem_site.settings'; "
        "django.setup(); from django.conf import settings as s; "
        "print(s.Q_CLUSTER['redis'], s.CACHES['default']['LOCATION'])"
    )
    for env, expected in [
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/1"),
        ({"REDIS_URL": "redis://cache:6379/4"}, "redis://cache:6379/5"),
        (
            {"REDIS_URL": "redis://q:6379/0", "REDIS_CACHE_URL": "redis://c:6379/3"},
            "redis://c:6379/3",
        ),
    ]:
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "HEYGEM_VAR_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        queue, cache = result.stdout.split()
        assert queue == env["REDIS_URL"] and cache == expected and cache != queue
