"""Idempotency-Key for the API's creating calls: one answer per key, stored per user for
API_IDEMPOTENCY_HOURS, under the user's row lock so concurrent retries queue up."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import user_lock
from heygem_site.api import error_body
from jobs.api.common import api_user
from jobs.models import IdempotencyRecord


def idempotent(request: Request, create: Callable[[], Response]) -> Response:
    """Run ``create`` once per ``Idempotency-Key``: a retry with the same key and the same
    request gets the stored answer; the same key with a different request is refused.

    The user's row is locked first, so two concurrent retries queue up instead of both
    creating. Only successful answers are stored: a request that failed may be retried.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return create()
    if len(key) > 255:
        raise ValidationError(gettext("An Idempotency-Key may be at most 255 characters long."))
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    fingerprint = hashlib.sha256(f"{request.path}\n{body}".encode()).hexdigest()
    user = api_user(request)
    with transaction.atomic():
        user_lock(user.pk)
        expired = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
        IdempotencyRecord.objects.filter(user=user, created_at__lt=expired).delete()
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is not None:
            if record.fingerprint != fingerprint:
                return Response(
                    error_body(
                        "idempotency_key_reused",
                        _(
                            "This Idempotency-Key was already used for a different request. "
                            "Use a new key for a new request."
                        ),
                    ),
                    status=422,
                )
            replay = Response(record.body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = create()
        if 200 <= response.status_code < 300:
            stored = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
            IdempotencyRecord.objects.create(
                user=user,
                key=key,
                fingerprint=fingerprint,
                status_code=response.status_code,
                body=stored,
            )
        return response
