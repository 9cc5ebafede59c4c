from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

# The account page and "delete all my data" show jobs, so they live in jobs.account_views;
# heygem_site.site_urls joins their patterns to these under the same "accounts" namespace.
app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
