"""Every page a user reads, asked for in Chinese, has no English sentence left in it."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.export import export_link_create
from jobs.models import AudioClip, JobStatus, Template, Webhook
from tests.support.jobs import finish_job

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}

# Latin text a Chinese page may show: names, formats, units, codes and examples, not sentences.
ALLOWED = re.compile(
    r"HeyGem Studio|HeyGem|English|ZIP|API|REST|Webhook|URL|HTTP|HMAC-SHA256|SHA-256|Python|JSON|"
    r"MP4|MOV|WebM|MKV|AVI|WAV|MP3|M4A|AAC|FLAC|OGG|Opus|CPU|GPU|Hz|KB|MB|GB|fps|"
    r"POST|Authorization: Bearer|X-HeyGem-[A-Za-z]+|[a-z]+\.[a-z]+(?:\.[a-z]+)?|https?://\S+|"
    r"[\w.+-]+@[\w.-]+|batch_\d{8}_\d{4}|hgk_|whsec_\S*|Olivia Owner|Olivia|Owner|"
    r"[\w-]+\.(?:mp4|wav)|v1|t=|unix"
)


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style|pre|code)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return html.unescape(page)


def english_words(page: str) -> set[str]:
    leftover = ALLOWED.sub(" ", visible_text(page))
    return set(re.findall(r"[A-Za-z]{3,}", leftover))


@pytest.fixture
def batch_id(owner: User, audio_clip: AudioClip, template: Template) -> str:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"mp4")
    Webhook.objects.create(owner=owner, url="https://example.com/h", secret="whsec_t")
    return str(batch.pk)


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "batch_new",
        "history",
        "template_library",
        "accounts:account",
        "accounts:api_keys",
        "accounts:password_change",
        "webhooks",
    ],
)
def test_signed_in_pages(owner_client: Client, batch_id: str, name: str) -> None:
    page = owner_client.get(reverse(name), **ZH).content.decode()
    assert english_words(page) == set()


def test_the_batch_page_and_an_expired_link(
    owner: User, owner_client: Client, batch_id: str
) -> None:
    page = owner_client.get(reverse("batch_detail", args=[batch_id]), **ZH).content.decode()
    assert english_words(page) == set()
    link = export_link_create(user=owner, batch_ids=[batch_id], now=1_000_000_000)
    assert english_words(owner_client.get(link.url, **ZH).content.decode()) == set()


@pytest.mark.parametrize("name", ["home", "accounts:login", "accounts:signup"])
def test_signed_out_pages(client: Client, db: None, name: str) -> None:
    assert english_words(client.get(reverse(name), **ZH).content.decode()) == set()


def test_a_refused_sign_up_in_chinese(client: Client, owner: User) -> None:
    page = client.post(
        reverse("accounts:signup"),
        {"email": owner.email, "password1": "short", "password2": "other"},
        **ZH,
    ).content.decode()
    assert "该邮箱已注册" in page
    assert english_words(page) == set()
