"""Counts that never hide a failure, 📦 only when there is something to download, and a
canceled batch that says so instead of promising a transcript."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import Batch, JobStatus

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}


def _counts(page: str) -> list[str]:
    import re

    return [
        re.sub(r"<[^>]+>", "", part.split("</span></td>", 1)[0])
        for part in page.split('data-testid="batch-counts">')[1:]
    ]


def test_the_dashboard_and_history_say_failed_and_canceled_videos(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED))
    dashboard = owner_client.get(reverse("dashboard"), **ZH).content.decode()
    assert _counts(dashboard) == ["1/3 已完成，1 个失败，1 个已取消"]
    history = owner_client.get(reverse("history"), **ZH).content.decode()
    assert _counts(history) == ["1/3 已完成，1 个失败，1 个已取消"]
    english = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _counts(english) == ["1 / 3 done, 1 failed, 1 canceled"]


def test_download_all_is_off_when_no_video_finished(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    nothing = make_batch(statuses=(JobStatus.FAILED, JobStatus.CANCELED))
    page = owner_client.get(reverse("batch_detail", args=[nothing.pk]), **ZH).content.decode()
    button = page.split('id="download-all"', 1)[1].split(">", 1)[0]
    assert " disabled" in button and "还没有可下载的内容" in button

    done = make_batch(statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED))
    page = owner_client.get(reverse("batch_detail", args=[done.pk]), **ZH).content.decode()
    button = page.split('id="download-all"', 1)[1].split(">", 1)[0]
    assert " disabled" not in button


def test_a_canceled_batch_does_not_promise_a_transcript(
    make_batch: Callable[..., Batch], owner_client: Client
) -> None:
    batch = make_batch(statuses=(JobStatus.CANCELED, JobStatus.CANCELED))
    page = owner_client.get(reverse("batch_detail", args=[batch.pk]), **ZH).content.decode()
    card = page.split('id="transcript"', 1)[1].split("</section>", 1)[0]
    assert "这个批次在生成文字稿之前就取消了。" in card
    assert "刷新页面" not in card and "data-pending" not in card
