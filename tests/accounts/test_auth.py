from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_signs_up_and_lands_on_the_dashboard(client: Client) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "New.Person@Example.com",
            "display_name": "Nia",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert response.context["user"] == user
    assert b"Nia" in response.content


def test_it_refuses_a_duplicate_email(client: Client, owner: User) -> None:
    response = client.post(
        reverse("accounts:signup"),
        {"email": "OWNER@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "An account with this email already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_it_logs_in_with_any_case_email_and_logs_out(client: Client, owner: User) -> None:
    response = client.post(
        reverse("accounts:login"), {"username": "Owner@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_it_says_what_went_wrong_on_a_bad_password(client: Client, owner: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": owner.email, "password": "nope"})
    assert "That email and password do not match" in response.content.decode()


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_it_throttles_repeated_bad_passwords(client: Client, owner: User) -> None:
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": owner.email, "password": "wrong"})
    # Even the right password is refused while the account is locked.
    response = client.post(
        reverse("accounts:login"), {"username": owner.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_it_forgets_failures_after_a_good_login(client: Client, owner: User) -> None:
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": owner.email, "password": "wrong"})
    assert (
        client.post(
            reverse("accounts:login"), {"username": owner.email, "password": PASSWORD}
        ).status_code
        == 302
    )
    client.post(reverse("accounts:logout"))
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": owner.email, "password": "wrong"})
    assert (
        client.post(
            reverse("accounts:login"), {"username": owner.email, "password": PASSWORD}
        ).status_code
        == 302
    )


def test_it_changes_the_password(owner_client: Client, owner: User) -> None:
    response = owner_client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another fine passphrase",
            "new_password2": "another fine passphrase",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("another fine passphrase")


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    # "/" is the landing page for signed-out visitors (tests/site/test_landing.py); the
    # pages behind it send them to sign in.
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )
    assert client.get(reverse("accounts:login")).status_code == 200


def test_it_shows_the_layout_with_name_nav_and_admin_link_for_staff(
    owner_client: Client, admin_client: Client
) -> None:
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Olivia Owner" in page
    for label in ("New batch", "History", "Templates", "Account"):
        assert label in page
    assert reverse("admin:index") not in page
    assert reverse("admin:index") in admin_client.get(reverse("dashboard")).content.decode()
