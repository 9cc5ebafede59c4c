"""Writes that concern accounts. Views, admin and commands call these."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import User

log = logging.getLogger("heygem.accounts")


@transaction.atomic
def user_create(
    *, email: str, password: str | None, display_name: str = "", is_staff: bool = False
) -> User:
    user = User.objects.create_user(
        email=email, password=password, display_name=display_name, is_staff=is_staff
    )
    log.info("user created", extra={"user_id": user.pk, "storage_id": user.storage_id})
    return user


@transaction.atomic
def demo_user_ensure(*, email: str, password: str) -> tuple[User, bool]:
    """Create the demo user, or reset its password so the printed login always works."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return user_create(email=email, password=password, display_name="Demo"), True
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    return user, False
