"""The one heartbeat thread: while work runs, call ``beat`` every JOB_HEARTBEAT_INTERVAL so
the watchdog knows a live worker holds it (a running job, a segment, a join, a batch's
preparation, a template's face check)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

log = logging.getLogger("heygem.jobs")


class Heartbeat(threading.Thread):
    """Calls ``beat`` every JOB_HEARTBEAT_INTERVAL until ``end``; ``alive`` turns (and stays)
    False once ``beat`` answers False: the work was canceled or taken away meanwhile."""

    def __init__(self, beat: Callable[[], Any], name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.beat = beat
        self.stop = threading.Event()
        self.alive = True

    def run(self) -> None:
        try:
            while not self.stop.wait(settings.JOB_HEARTBEAT_INTERVAL):
                try:
                    self.alive = bool(self.beat()) and self.alive
                except Exception:
                    # A failed write (the database restarting, a dropped connection) must
                    # not end the beating: the watchdog would take live work for lost.
                    log.warning("heartbeat not written; trying again", exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own database connection

    def end(self) -> None:
        self.stop.set()
        self.join(timeout=5)


@contextmanager
def beating(beat: Callable[[], Any], name: str) -> Iterator[Heartbeat]:
    """``beat`` every JOB_HEARTBEAT_INTERVAL while the body runs (its answer is ignored
    unless the body reads ``alive``)."""
    heart = Heartbeat(beat, name)
    heart.start()
    try:
        yield heart
    finally:
        heart.end()
