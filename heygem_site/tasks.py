"""Tasks that belong to the service as a whole rather than to one app."""

from __future__ import annotations

import os

from django.db import connection


def worker_health() -> dict[str, object]:
    """Prove a worker is alive and talking to the database: returns what it sees."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {
        "ok": one == 1,
        "vendor": connection.vendor,
        "database": str(connection.settings_dict["NAME"]),
        "pid": os.getpid(),
    }
