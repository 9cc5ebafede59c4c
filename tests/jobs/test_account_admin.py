"""The user admin, split by layer (issue 21): accounts.admin registers the account's own admin
(limits, usage counter, no job in sight); jobs.admin.accounts registers its subclass in that
one's place, with last activity, usage from storage, quota cleanup and deletions with files."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin import site
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.admin import UserAdmin as AccountUserAdmin
from accounts.models import User
from jobs import services
from jobs.admin.accounts import UserAdmin as JobsUserAdmin
from jobs.models import AudioClip, Batch, JobStatus, Template
from tests.support.jobs import finish_job

pytestmark = pytest.mark.django_db

JOB_ACTIONS = {"recompute_usage", "apply_quota", "delete_all_data", "delete_with_files"}


def test_jobs_user_admin_takes_the_place_of_the_accounts_one(admin: User) -> None:
    request = RequestFactory().get("/admin/accounts/user/")
    request.user = admin
    registered = site._registry[User]
    assert type(registered) is JobsUserAdmin and issubclass(JobsUserAdmin, AccountUserAdmin)
    assert set(registered.get_actions(request)) == JOB_ACTIONS
    # The account's own admin knows no jobs: Django's plain delete, no job column.
    plain = AccountUserAdmin(User, site)
    assert set(plain.get_actions(request)) == {"delete_selected"}
    assert "last_activity" not in plain.list_display
    assert "last_activity" in registered.list_display


def test_the_user_list_shows_the_last_batch_as_last_activity(
    admin_client: Client, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    page = admin_client.get(reverse("admin:accounts_user_changelist"))
    row = next(u for u in page.context["cl"].result_list if u.pk == owner.pk)
    assert owner.last_login is None
    assert site._registry[User].last_activity(row) == batch.created_at


def test_delete_all_data_keeps_the_account_and_removes_its_batches_and_files(
    admin_client: Client,
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    django_capture_on_commit_callbacks,
) -> None:
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, content=b"result")
    result = Path(settings.MEDIA_ROOT) / batch.jobs.get().output.name
    assert result.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "delete_all_data", "_selected_action": [owner.pk]},
        )
    assert response.status_code == 302
    assert User.objects.filter(pk=owner.pk, is_active=True).exists()
    assert not Batch.all_objects.filter(owner=owner).exists() and not result.exists()
    assert not AudioClip.objects.filter(owner=owner).exists()
