"""Enqueue django-q2 tasks only after the transaction that created their rows commits
(otherwise the worker may look for rows that do not exist yet), on the right pool's queue.

Worker pools: every host runs a qcluster of one site (Q_CLUSTER_NAME, the same everywhere:
it is the key that signs task payloads). The main pool takes everything by default; a pool
named in ENGINE_POOLS (e.g. ``neural=gpu``) takes that engine's renders, from its own queue
``<site>-<pool>``, served by hosts started with ``Q_POOL=<pool>``. Tasks are always sent to
an explicit queue, so a task sent from a pool's worker (a webhook after a GPU render, say)
goes to the main queue, not back to the pool.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django_q.conf import Conf
from django_q.tasks import async_task

from rendering.engines import ENGINES

RENDER_TASK = "jobs.tasks.job_render"


def pool_queue(pool: str = "") -> str:
    """The broker queue of a pool ("" for the main one)."""
    return f"{Conf.PREFIX}-{pool}" if pool else str(Conf.PREFIX)


def engine_pool(engine: str) -> str:
    """The pool that renders with this engine ("" for the main one): ENGINE_POOLS, else the
    engine's own record (rendering.engines.ENGINES)."""
    spec = ENGINES.get(engine)
    return str(settings.ENGINE_POOLS.get(engine, spec.pool if spec is not None else ""))


def enqueue_on_commit(func: str, *args: Any, group: str | None = None, pool: str = "") -> None:
    cluster = pool_queue(pool)

    def send() -> None:
        async_task(func, *args, group=group, cluster=cluster)

    transaction.on_commit(send)


def render_enqueue_on_commit(*, job_id: Any, batch_id: Any, engine: str) -> None:
    """Send a job's render task to the pool of its batch's engine."""
    enqueue_on_commit(RENDER_TASK, str(job_id), group=str(batch_id), pool=engine_pool(engine))
