"""The webhook pages, mounted under /accounts/webhooks/ (where users look for them)."""

from __future__ import annotations

from django.urls import path

from jobs.webhooks import views

urlpatterns = [
    path("", views.webhook_list, name="webhooks"),
    path("<uuid:webhook_id>/ping/", views.webhook_ping, name="webhook_ping"),
    path("<uuid:webhook_id>/toggle/", views.webhook_toggle, name="webhook_toggle"),
    path("<uuid:webhook_id>/secret/", views.webhook_rotate_secret, name="webhook_rotate_secret"),
    path("<uuid:webhook_id>/delete/", views.webhook_delete, name="webhook_delete"),
]
