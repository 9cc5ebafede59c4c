"""The language follows the browser, can be switched in the header, and is kept per user."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User

ZH = "zh-CN,zh;q=0.9,en;q=0.5"


def test_it_follows_the_browser(owner_client: Client) -> None:
    zh = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=ZH)
    assert zh["Content-Language"] == "zh-hans"
    html = zh.content.decode()
    assert '<html lang="zh-Hans">' in html
    for label in ("批量生成", "历史记录", "模板", "账号", "退出登录"):
        assert label in html
    en = owner_client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="en">' in en.content.decode() and "New batch" in en.content.decode()


def test_the_header_offers_the_switch_on_every_page(owner_client: Client, client: Client) -> None:
    for c, name in ((owner_client, "dashboard"), (client, "accounts:login")):
        html = c.get(reverse(name)).content.decode()
        assert 'data-testid="language-switch"' in html
        assert 'value="zh-hans"' in html and 'value="en"' in html


def test_a_switch_is_remembered_for_the_user_over_the_browser(
    owner: User, owner_client: Client
) -> None:
    response = owner_client.post(
        reverse("language_set"), {"language": "zh-hans", "next": reverse("history")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("history")
    owner.refresh_from_db()
    assert owner.language == "zh-hans"
    # Another device with an English browser and no cookie: still Chinese for this user.
    other_device = Client()
    other_device.force_login(owner)
    html = other_device.get(reverse("history"), HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "历史记录" in html and '<html lang="zh-Hans">' in html


def test_a_signed_out_visitor_gets_a_cookie(client: Client, db) -> None:
    response = client.post(reverse("language_set"), {"language": "zh-hans", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    html = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "登录" in html


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_the_switch_never_redirects_off_site(client: Client, db, target: str) -> None:
    response = client.post(reverse("language_set"), {"language": "en", "next": target})
    assert response["Location"] == "/"


def test_the_javascript_catalog_follows_the_language(owner_client: Client) -> None:
    zh = owner_client.get(reverse("javascript_catalog"), HTTP_ACCEPT_LANGUAGE=ZH).content.decode()
    assert (
        "\\u6b63\\u5728\\u68c0\\u6d4b\\u4eba\\u8138" in zh or "正在检测人脸" in zh
    )  # Checking the face…
    en = owner_client.get(reverse("javascript_catalog"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "正在检测人脸" not in en and "\\u6b63\\u5728\\u68c0\\u6d4b" not in en
