"""Webhooks and their deliveries in the admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from jobs.models import (
    Webhook,
    WebhookDelivery,
)

RECENT_DELIVERIES = 10


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin[Webhook]):
    list_display = ("url", "owner", "event_list", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "owner__email", "owner__display_name")
    list_select_related = ("owner",)
    # The secret signs the user's deliveries: staff have no need to see it.
    fields = ("owner", "url", "events", "active", "created_at", "recent_deliveries")
    readonly_fields = ("owner", "url", "events", "created_at", "recent_deliveries")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("events"))
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events)

    @admin.display(description=_("recent deliveries"))
    def recent_deliveries(self, webhook: Webhook) -> str:
        rows = WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at")[
            :RECENT_DELIVERIES
        ]
        table = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    d.created_at,
                    d.event,
                    d.get_status_display(),
                    d.attempts,
                    d.last_status_code or "",
                    d.last_error,
                )
                for d in rows
            ),
        )
        link = (
            reverse("admin:jobs_webhookdelivery_changelist") + f"?webhook__id__exact={webhook.pk}"
        )
        return format_html(
            "<table><tr><th>created</th><th>event</th><th>status</th><th>attempts</th>"
            '<th>answer</th><th>error</th></tr>{}</table><p><a href="{}">All deliveries</a></p>',
            table,
            link,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    """Read-only: what was sent where, and how it went."""

    list_display = (
        "event",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event")
    search_fields = ("event_id", "webhook__url", "webhook__owner__email")
    list_select_related = ("webhook",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
