from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import FaceStatus, Template
from jobs.render.worker import preparation

pytestmark = pytest.mark.django_db


def test_it_marks_a_template_with_a_face_ready(template: Template, owner_client: Client) -> None:
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    status = owner_client.get(reverse("template_status") + f"?ids={template.pk},not-a-uuid").json()
    assert [(t["id"], t["face_status"]) for t in status["templates"]] == [
        (str(template.pk), "ready")
    ]


def test_it_says_why_a_template_has_no_usable_face(
    make_template: Callable[..., Template], no_face_video: Path, owner_client: Client
) -> None:
    template = make_template(no_face_video, name="empty room.mp4")
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.FAILED
    template.refresh_from_db()
    assert "face" in template.face_error.lower() and template.face_error.endswith(".")
    page = owner_client.get(reverse("template_library")).content.decode()
    assert "empty room.mp4" in page and "No usable face" in page


def test_it_ignores_a_template_deleted_before_its_analysis(template: Template) -> None:
    template_id = template.pk
    template.delete()
    assert preparation.template_analyse(template_id=template_id) == "missing"
