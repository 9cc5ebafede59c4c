"""Writes that concern accounts. Views, admin and commands call these."""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ApiKey, ApiKeyScope, User

log = logging.getLogger("heygem.accounts")


@transaction.atomic
def user_lock(user_id: int) -> User:
    """The user's row, locked until the transaction ends. One user's uploads, batch starts,
    retries, deletions, webhook and API-key creations and idempotent API calls take it
    first, so they queue behind each other and every count and quota check stays exact."""
    return User.objects.select_for_update().get(pk=user_id)


def user_create(
    *, email: str, password: str | None, display_name: str = "", is_staff: bool = False
) -> User:
    user = User.objects.create_user(
        email=email, password=password, display_name=display_name, is_staff=is_staff
    )
    log.info("user created", extra={"user_id": user.pk, "storage_id": user.storage_id})
    return user


def user_language_set(*, user: User, language: str) -> None:
    """Remember the language a user picked in the header ("" = follow the browser)."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Unknown language."), code="invalid")
    User.objects.filter(pk=user.pk).update(language=language)
    user.language = language


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


API_KEY_PREFIX = "hgk_"
MAX_API_KEYS = 20


def api_key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, user: User, name: str, scope: str = ApiKeyScope.WRITE) -> tuple[ApiKey, str]:
    """Create an API key and return it with the raw secret, which is shown once and never stored."""
    name = " ".join(name.split())[:100]
    if not name:
        raise ValidationError(
            _("Give the key a name, for example the script or server that will use it.")
        )
    if scope not in ApiKeyScope.values:
        raise ValidationError(
            _("Choose whether the key may only read or may also create and delete.")
        )
    user_lock(user.pk)  # serialises the count below
    if ApiKey.objects.for_user(user).live().count() >= MAX_API_KEYS:
        raise ValidationError(
            _("You already have %(n)d active API keys. Revoke one you no longer use first.")
            % {"n": MAX_API_KEYS}
        )
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name, scope=scope, prefix=raw[:12], key_hash=api_key_hash(raw)
    )
    log.info("api key created", extra={"user_id": user.pk, "api_key_id": key.pk})
    return key, raw


def api_key_revoke(*, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    log.info("api key revoked", extra={"user_id": key.user_id, "api_key_id": key.pk})


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once a minute, so a busy script does not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
