from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, webhook_views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("data/delete/", views.account_data_delete, name="data_delete"),
    path("", views.account, name="account"),
    path("webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("webhooks/<uuid:webhook_id>/ping/", webhook_views.webhook_ping, name="webhook_ping"),
    path("webhooks/<uuid:webhook_id>/toggle/", webhook_views.webhook_toggle, name="webhook_toggle"),
    path(
        "webhooks/<uuid:webhook_id>/secret/",
        webhook_views.webhook_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path("webhooks/<uuid:webhook_id>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
]
