"""What every API view shares: the error response in the schema, the signed-in user, the
Idempotency-Key header and the created_after / created_before filters."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request

from accounts.models import User

ERROR = OpenApiResponse(description='Error: {"error": {"code", "message", "fields"?}}')
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string; a retry with the same key and body returns the first answer.",
)


def api_user(request: Request) -> User:
    """The signed-in user of an API request (session or API key)."""
    user: Any = request.user
    return user


def date_param(request: Request, name: str, *, end_of_day: bool = False) -> Any:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw) if len(raw) == 10 else None
            if day is None:
                raise ValueError(raw)
            moment = timezone.make_aware(
                datetime.combine(day, time.max if end_of_day else time.min)
            )
        elif timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        # Compare in UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(
            gettext(
                "%(name)s must be a date (2026-11-21) or a date and time (2026-11-21T09:30:00Z)."
            )
            % {"name": name}
        ) from None


def created_between(request: Request, qs: QuerySet[Any]) -> QuerySet[Any]:
    after = date_param(request, "created_after")
    before = date_param(request, "created_before", end_of_day=True)
    if after is not None:
        qs = qs.filter(created_at__gte=after)
    if before is not None:
        qs = qs.filter(created_at__lte=before)
    return qs


DATE_FILTERS = [
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="ISO date or date-time."),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="ISO date or date-time."),
]
