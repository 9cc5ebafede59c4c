"""The account pages that show a user's jobs and files: the account page (storage use, limits,
download links) and "delete all my data". They keep their ``accounts:`` names and addresses
(``heygem_site.site_urls`` joins ``urlpatterns`` below to ``accounts.urls`` under one
namespace), but live here: accounts sits below jobs and knows nothing of batches or files."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from jobs import services
from jobs.export import export_links_valid
from jobs.selectors import usage_for_user

DELETE_ALL_CONFIRMATION = "delete"


def delete_confirmation_word() -> str:
    """The word to type before deleting everything, in the reader's language (删除); the
    English word is accepted in every language too."""
    return pgettext("the word typed to confirm deleting all data", "delete")


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
    services.user_data_delete(user=request.user)  # type: ignore[arg-type]
    messages.success(
        request, _("All your batches, videos, templates and audio files were deleted.")
    )
    return redirect("accounts:account")


# Joined to accounts.urls' patterns under the "accounts" namespace, at /accounts/.
urlpatterns = [
    path("data/delete/", account_data_delete, name="data_delete"),
    path("", account, name="account"),
]
