from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import EmailAuthenticationForm, SignupForm
from accounts.models import ApiKey, ApiKeyScope


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        messages.success(self.request, _("Your password was changed."))
        return super().form_valid(form)


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.SIGNUP_ENABLED:
        raise Http404
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data.get("display_name") or "",
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to HeyGem Studio."))
        return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """List, create and revoke API keys. A new key is shown once, in this response only."""
    user: Any = request.user
    new_key = ""
    error = ""
    if request.method == "POST":
        try:
            _key, new_key = services.api_key_create(
                user=user,
                name=request.POST.get("name", ""),
                scope=request.POST.get("scope", ApiKeyScope.WRITE),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    response = render(
        request,
        "accounts/api_keys.html",
        {
            "nav": "account",
            "keys": ApiKey.objects.for_user(user),
            "new_key": new_key,
            "error": error,
            "scopes": ApiKeyScope.choices,
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a secret
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.for_user(request.user), pk=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("accounts:api_keys")
