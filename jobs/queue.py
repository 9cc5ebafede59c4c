"""Enqueue django-q2 tasks only after the transaction that created their rows commits
(otherwise the worker may look for rows that do not exist yet)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_q.tasks import async_task


def enqueue_on_commit(func: str, *args: Any, group: str | None = None) -> None:
    def send() -> None:
        async_task(func, *args, group=group)

    transaction.on_commit(send)
