from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import throttle
from accounts.models import User
from heygem_site.formats import parse_size, size_label


def client_address(request: Any) -> str | None:
    if request is None:
        return None
    return str(request.META.get("REMOTE_ADDR") or "") or None


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("That email and password do not match. Check both and try again."),
        "throttled": _("Too many failed sign-in attempts. Wait %(minutes)d minutes and try again."),
    }

    def clean(self) -> dict[str, Any]:
        email = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request)
        if email and throttle.is_locked(email, address):
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": throttle.minutes_in_window()},
            )
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if email and error.code == "invalid_login":
                throttle.record_failure(email, address)
            raise
        if email:
            throttle.clear(email)
        return cleaned


class SignupForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name")
        labels = {"display_name": _("Your name (optional)")}

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                _("An account with this email already exists. Sign in instead."), code="unique"
            )
        return email


class SizeField(forms.CharField):
    """A byte count typed and shown in decimal units, as the pages show it: "10 GB", "500 MB"."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return size_label(value).replace("\xa0", " ")
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return parse_size(text)
        except ValueError:
            raise ValidationError(
                _("Write a size like “10 GB” or “500 MB” (1 GB = 1,000 MB)."), code="invalid"
            ) from None


class UserAdminForm(UserChangeForm):
    """The admin's user form: the storage quota in GB/MB instead of raw bytes."""

    storage_quota_bytes = SizeField(
        label=_("storage quota"),
        help_text=_("Decimal units, as the pages show them: 1 GB = 1,000 MB. For example 10 GB."),
    )

    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
