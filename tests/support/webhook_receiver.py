"""A real HTTP receiver for webhook tests, and the queue plumbing a worker would do.

`Receiver` is an http.server on 127.0.0.1 (a free port) in a thread that records every
request and answers with the statuses it is told to, in order (200 once they run out).
`run_queued_webhook_tasks` takes tasks off the real django-q2 broker and runs the webhook
ones, as a worker would; `run_due_webhook_schedules` lets time pass and runs django-q2's own
scheduler over the webhook retry schedules.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.utils.module_loading import import_string

from jobs.models import WebhookDelivery
from jobs.webhooks.delivery import DELIVER_TASK


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    location: str = ""

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server and close its port: later deliveries find the connection refused."""
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def run_queued_webhook_tasks() -> list[str]:
    """Take every task off the broker and run the webhook deliveries among them, in order."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    outcomes: list[str] = []
    while True:
        packages = broker.dequeue()
        if not packages:
            return outcomes
        for ack_id, package in packages:
            task = SignedPackage.loads(package)
            broker.acknowledge(ack_id)
            if task["func"] == DELIVER_TASK:
                outcomes.append(import_string(task["func"])(*task["args"]))


def run_due_webhook_schedules(*, seconds: float) -> list[str]:
    """Let `seconds` pass for the webhook retries, then run django-q2's scheduler (which
    queues what is due and deletes ONCE schedules) and the tasks it queued."""
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    back = timedelta(seconds=seconds)
    for row in Schedule.objects.filter(func=DELIVER_TASK):
        Schedule.objects.filter(pk=row.pk).update(next_run=row.next_run - back)
    for delivery in WebhookDelivery.objects.filter(next_attempt_at__isnull=False):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=delivery.next_attempt_at - back
        )
    scheduler()
    return run_queued_webhook_tasks()
