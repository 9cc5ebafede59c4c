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
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import EmailAuthenticationForm, SignupForm
from accounts.models import ApiKey, ApiKeyScope
from jobs import services as job_services
from jobs.export import export_links_valid
from jobs.selectors import usage_for_user


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
def account(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/account.html",
        {
            "account": request.user,
            "usage": usage_for_user(request.user),  # type: ignore[arg-type]
            "export_links": export_links_valid(request.user),  # type: ignore[arg-type]
            "nav": "account",
            "confirm_word": delete_confirmation_word(),
            "limits": {
                "max_upload": settings.MAX_UPLOAD_SIZE,
                "max_templates": settings.MAX_TEMPLATES_PER_BATCH,
                "max_audio_seconds": int(settings.MAX_AUDIO_SECONDS),
                "max_template_seconds": int(settings.MAX_TEMPLATE_SECONDS),
            },
        },
    )


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


DELETE_ALL_CONFIRMATION = "delete"


def delete_confirmation_word() -> str:
    """The word to type before deleting everything, in the reader's language (删除); the
    English word is accepted in every language too."""
    return pgettext("the word typed to confirm deleting all data", "delete")


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.for_user(request.user), pk=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
    return redirect("accounts:api_keys")


@login_required
@require_POST
def account_data_delete(request: HttpRequest) -> HttpResponse:
    """Delete every batch, result, template and audio file of the signed-in user."""
    typed = request.POST.get("confirm", "").strip().lower()
    if typed not in {DELETE_ALL_CONFIRMATION, delete_confirmation_word().lower()}:
        messages.error(
            request,
            _("Nothing was deleted. Type “%(word)s” in the box to confirm, then press the button.")
            % {"word": delete_confirmation_word()},
        )
        return redirect("accounts:account")
    job_services.user_data_delete(user=request.user)  # type: ignore[arg-type]
    messages.success(
        request, _("All your batches, videos, templates and audio files were deleted.")
    )
    return redirect("accounts:account")
