"""The account's webhooks page: add a URL for some events, see its secret, send a test
event, pause, delete, and see recent deliveries. Thin: `jobs.webhooks.services` holds the logic,
and every id is looked up through the signed-in user (a foreign id is a 404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from jobs.models import WebhookEvent
from jobs.webhooks import services as webhooks

# Deliveries shown per webhook; older ones stay in the database.
RECENT_DELIVERIES = 10


def _user(request: HttpRequest) -> Any:
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    error = ""
    url = ""
    chosen: list[str] = [str(e.value) for e in WebhookEvent]
    if request.method == "POST":
        url = request.POST.get("url", "")
        chosen = request.POST.getlist("events")
        try:
            webhook = webhooks.webhook_create(owner=user, url=url, events=chosen)
        except ValidationError as exc:
            error = " ".join(str(m) for m in exc.messages)
        else:
            messages.success(
                request,
                _("Webhook added. Copy its signing secret below to verify deliveries."),
            )
            return redirect(f"{request.path}#webhook-{webhook.pk}")
    rows = [
        (hook, list(webhooks.deliveries_for_webhook(hook)[:RECENT_DELIVERIES]))
        for hook in webhooks.webhooks_for_user(user)
    ]
    return render(
        request,
        "jobs/webhooks.html",
        {
            "nav": "account",
            "rows": rows,
            "events": WebhookEvent.choices,
            "chosen": chosen,
            "url": url,
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def webhook_ping(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = webhooks.webhook_get(_user(request), webhook_id)
    webhooks.webhook_ping(webhook=webhook)
    messages.success(request, _("Test event queued. Its delivery shows below in a moment."))
    return redirect(f"{_list_url()}#webhook-{webhook.pk}")


@login_required
@require_POST
def webhook_toggle(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = webhooks.webhook_get(_user(request), webhook_id)
    webhooks.webhook_update(webhook=webhook, active=not webhook.active)
    return redirect(f"{_list_url()}#webhook-{webhook.pk}")


@login_required
@require_POST
def webhook_rotate_secret(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = webhooks.webhook_get(_user(request), webhook_id)
    webhooks.webhook_update(webhook=webhook, rotate_secret=True)
    messages.success(request, _("New secret made. Deliveries are signed with it from now on."))
    return redirect(f"{_list_url()}#webhook-{webhook.pk}")


@login_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: Any) -> HttpResponse:
    webhook = webhooks.webhook_get(_user(request), webhook_id)
    webhooks.webhook_delete(webhook=webhook)
    messages.success(request, _("Webhook deleted."))
    return redirect(_list_url())


def _list_url() -> str:
    return reverse("webhooks")
