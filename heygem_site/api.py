"""The REST API's plumbing: one error body shape, cursor pagination, per-key throttles, and
the JSON parser (:class:`SafeJSONParser`: a body nested deeper than ``MAX_JSON_DEPTH``, or deep
enough to exhaust Python's recursion, is a 400 ``invalid``, not a 500)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler

from accounts.models import ApiKey
from heygem_site.errors import drain_refused_body, request_error_response

MAX_JSON_DEPTH = 32  # our bodies nest two levels; no client needs more than this


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iterative: no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        message = _(
            "The JSON body is nested more than %(depth)d levels deep. Send a flat object "
            "as the API reference shows."
        ) % {"depth": MAX_JSON_DEPTH}
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message) from None
        except ParseError as exc:
            reason = str(exc.detail).removeprefix("JSON parse error - ")
            raise ParseError(
                _("The body is not valid JSON (%(reason)s). Send a JSON object.")
                % {"reason": reason}
            ) from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise ParseError(message)
        return data


_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            text = _first_message(value)
            return text if field == "non_field_errors" else f"{field}: {text}"
        return ""
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error answers ``{"error": {"code", "message", "fields"?}}`` with the right status."""
    refused = request_error_response(exc)
    if refused is not None:  # Django refused the body (too large, too many fields)
        code_status, code, message = refused
        if isinstance(exc, RequestDataTooBig) and context.get("request") is not None:
            drain_refused_body(context["request"]._request)
        return Response(error_body(code, message), status=code_status)
    if isinstance(exc, DjangoValidationError):
        message = " ".join(str(m) for m in exc.messages)
        return Response(error_body("invalid", message), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", response.data)
    code = _CODES.get(response.status_code, "error")
    fields = None
    if isinstance(exc, exceptions.ValidationError):
        fields = detail if isinstance(detail, dict) else None
        message = _first_message(detail) or _("The request is not valid.")
    else:
        message = _first_message(detail)
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        message = _("Too many requests. Try again in %(seconds)d seconds.") % {
            "seconds": int(wait + 0.999)
        }
    response.data = error_body(code, message, fields)
    return response


class CreatedCursorPagination(CursorPagination):
    """Newest first; stable under inserts (a page never repeats or skips a row)."""

    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class KeyRateThrottle(SimpleRateThrottle):
    """One bucket per API key (per user for the site's session), for one group of endpoints.

    Views name their group in ``throttle_scope``; rates come from ``API_RATES`` at request
    time, so operators (and tests) can change them without code.
    """

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", "")
        if not self.scope or request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:
        return dict(settings.API_RATES).get(self.scope or "")

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return f"throttle:{self.scope}:{ident}"
