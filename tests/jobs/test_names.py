"""One set of name rules (jobs.names), applied when a name is stored and again when it is
served, on the page, the API and the export alike (issue #15, item 4)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, Template
from jobs.names import clean_display_name, clean_text_name, content_disposition, safe_file_name
from tests.api.conftest import key_client
from tests.support.jobs import finish_job
from tests.support.media import FACE, uploaded

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # right-to-left override: "report_\u202efdp.exe" shows as "report_exe.pdf"
HOSTILE = f"a/b\\c ../../x{RLO}fdp.exe\r\nSet-Cookie: x=1\u200b\u2028"


def header_names(disposition: str) -> list[str]:
    """Both names a Content-Disposition carries (the ASCII one and the RFC 5987 one)."""
    ascii_name = disposition.split('filename="', 1)[1].split('"', 1)[0]
    exact = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    return [ascii_name, exact]


def assert_clean_file_name(name: str) -> None:
    assert name and not name.startswith((".", " "))
    for bad in ("/", "\\", "..", "\r", "\n", RLO, "\u200b", "\u2028", '"'):
        assert bad not in name, (bad, name)


def test_the_rules() -> None:
    assert clean_display_name(f"report_{RLO}fdp.exe", fallback="f") == "report_fdp.exe"
    assert clean_display_name("C:\\Users\\x\\clip\r\n.mp4", fallback="f") == "clip .mp4"
    # A batch name keeps its slashes (it is not a path), loses what is invisible.
    assert clean_text_name(HOSTILE) == "a/b\\c ../../xfdp.exe Set-Cookie: x=1"
    assert (
        safe_file_name(HOSTILE + ".mp4", fallback="f") == "a_b_c ._._xfdp.exe Set-Cookie_ x=1.mp4"
    )
    assert safe_file_name("x" * 300 + ".mp4", fallback="f").endswith("x.mp4")
    for name in header_names(content_disposition(HOSTILE + "_001.mp4")):
        assert_clean_file_name(name)


def test_names_are_cleaned_when_stored(owner: User, audio_clip: AudioClip) -> None:
    template = services.template_upload(owner=owner, uploaded=uploaded(FACE, f"me{RLO}4pm.mov\n"))
    assert template.original_name == "me4pm.mov"
    batch = services.batch_create(
        owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk], name=HOSTILE
    )
    batch.refresh_from_db()
    assert batch.name == "a/b\\c ../../xfdp.exe Set-Cookie: x=1"
    assert batch.jobs.get().template_name == "me4pm.mov"


def test_names_are_cleaned_when_served_even_if_stored_raw(
    owner: User, owner_client: Client, audio_clip: AudioClip, make_template: Callable[..., Template]
) -> None:
    template = make_template()
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    # Rows written before these rules (or by hand) still carry the raw names.
    Batch.objects.filter(pk=batch.pk).update(name=HOSTILE)
    Template.objects.filter(pk=template.pk).update(original_name=f"x{RLO}vom.exe\r\n.mp4")
    job = batch.jobs.get()
    job.template_name = f"face{RLO}.mp4"
    job.save(update_fields=["template_name"])
    finish_job(job, status=JobStatus.SUCCEEDED, content=b"video" * 100)

    page = owner_client.get(reverse("job_download", args=[job.pk]))
    api = key_client(owner).get(f"/api/v1/jobs/{job.pk}/result/")
    inline = owner_client.get(reverse("template_video", args=[template.pk]))
    for response in (page, api, inline):
        assert response.status_code == 200
        for name in header_names(response["Content-Disposition"]):
            assert_clean_file_name(name)
    assert page["Content-Disposition"] == api["Content-Disposition"]
    assert header_names(page["Content-Disposition"])[1].endswith("_001_face.mp4")
    assert inline["Content-Disposition"].startswith("inline;")
