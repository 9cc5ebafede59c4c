"""API authentication: ``Authorization: Bearer <key>`` for scripts, plus the site's session
(with CSRF) for its own JavaScript. Read-only keys may only use safe methods."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services import API_KEY_PREFIX, api_key_hash, api_key_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2 or not header[1].startswith(API_KEY_PREFIX):
            raise exceptions.AuthenticationFailed(
                _("Send the key as “Authorization: Bearer hgk_…” with nothing else in the header.")
            )
        key = ApiKey.objects.select_related("user").filter(key_hash=api_key_hash(header[1])).first()
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid. Create a key on your account page.")
            )
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                _("This API key was revoked. Create a new key on your account page.")
            )
        api_key_touch(key=key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing or wrong.
        return f'{self.keyword} realm="api"'


class KeyScopePermission(permissions.BasePermission):
    """Read-only keys may read; writes need a read-write key or the signed-in session."""

    message = _("This API key is read-only. Use a read-write key for this request.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        key = request.auth
        return not isinstance(key, ApiKey) or key.can_write


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the Bearer key in the OpenAPI schema (drf-spectacular finds it by subclassing)."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from your account page: `Authorization: Bearer hgk_…`.",
        }
