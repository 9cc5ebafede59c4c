"""Fixtures shared by the jobs tests."""

from collections.abc import Iterator

import pytest

from tests.support.webhook_receiver import Receiver, start_receiver


@pytest.fixture
def receiver(settings, queue_name: str) -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1, with this test's own django-q2 queue.

    The queue is the test's own (`queue_name`), not the default one: a Redis broker
    outlives the test database, and its default list may hold tasks that an earlier run
    signed with another SECRET_KEY, which this run cannot read.
    """
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver is on 127.0.0.1
    server = start_receiver()
    yield server
    server.stop()
