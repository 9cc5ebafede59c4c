"""The custom user: email login, per-user limits and an opaque id for the storage folder."""

from __future__ import annotations

import secrets
from datetime import tzinfo
from pathlib import PurePosixPath
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from heygem_site.timezones import zone_or_default


def new_storage_id() -> str:
    # Opaque and unguessable: folder names must not reveal user ids or emails.
    return secrets.token_hex(12)


def default_storage_quota() -> int:
    return int(settings.DEFAULT_STORAGE_QUOTA)


def default_max_concurrent_jobs() -> int:
    return int(settings.DEFAULT_MAX_CONCURRENT_JOBS)


def default_retention_days() -> int:
    return int(settings.DEFAULT_RETENTION_DAYS)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Email addresses are stored lower-cased, so logins ignore case.
        return self.get(email__iexact=username or "")


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    storage_id = models.CharField(
        _("storage id"),
        max_length=32,
        unique=True,
        default=new_storage_id,
        editable=False,
        help_text=_("Opaque name of this user's folder under MEDIA_ROOT/users/."),
    )
    storage_quota_bytes = models.BigIntegerField(
        _("storage quota (bytes)"), default=default_storage_quota
    )
    max_concurrent_jobs = models.PositiveIntegerField(
        _("max queued or running jobs"), default=default_max_concurrent_jobs
    )
    retention_days = models.PositiveIntegerField(
        _("retention (days)"), default=default_retention_days
    )
    storage_used_bytes = models.BigIntegerField(
        _("storage used (bytes)"), default=0, editable=False
    )
    # Empty: follow the browser. Set by the language switch in the header.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        choices=[("zh-hans", "简体中文"), ("en", "English")],
        help_text=_("Empty: the language the browser asks for."),
    )
    # The browser's IANA time zone, remembered from its last visit (heygem_site.middleware):
    # times, default batch names and ZIP names follow it, also where no browser is asking
    # (the API, notices). Empty: TIME_ZONE.
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("Empty: the server's time zone. Set from the browser on each visit."),
    )
    # Set (with is_active=False) when the account's deletion starts; the sweeper finishes
    # the deletion of a marked account whose removal was interrupted.
    deleting_at = models.DateTimeField(_("deletion started"), null=True, blank=True, editable=False)

    USERNAME_FIELD = "email"

    def zone(self) -> tzinfo:
        """The user's time zone (``time_zone``), or the server's when unset or unknown."""
        return zone_or_default(self.time_zone)

    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]

    @property
    def storage_prefix(self) -> str:
        """Relative folder (inside MEDIA_ROOT) that holds every file of this user."""
        return str(PurePosixPath("users") / self.storage_id)

    @property
    def storage_fraction(self) -> float:
        if self.storage_quota_bytes <= 0:
            return 1.0
        return min(1.0, self.storage_used_bytes / self.storage_quota_bytes)


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def for_user(self, user: Any) -> ApiKeyQuerySet:
        return self.filter(user=user)

    def live(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A secret that lets a script act as its user. Only a SHA-256 of the key is stored: the
    key is high-entropy random, so a fast hash is enough and lookups stay one index probe."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=16, help_text=_("The start of the key, to recognise it.")
    )
    key_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("key hash (SHA-256)")
    )
    scope = models.CharField(
        _("scope"), max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.WRITE
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked"))

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.WRITE
