"""The landing page: what the product does, for a visitor who is not signed in."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse


def test_it_tells_signed_out_visitors_what_the_product_does(client: Client, db) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="landing"' in html
    assert "One audio, many talking-head videos" in html
    assert reverse("accounts:signup") in html and reverse("accounts:login") in html


def test_it_speaks_chinese_to_a_chinese_browser(client: Client, db) -> None:
    html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "一段音频，批量生成数字人口播视频" in html
    assert "免费注册" in html


def test_it_still_sends_signed_in_users_to_their_dashboard(owner_client: Client) -> None:
    response = owner_client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
