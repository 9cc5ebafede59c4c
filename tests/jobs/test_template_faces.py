"""Which face speaks: a template showing two people lists both (a thumbnail each) after its
analysis, the user picks one on the card or through the API (another user gets 404), and a
batch rendered afterwards edits the chosen face only.

The two-person template is made here from the committed face fixture: the face at full size
on the left and smaller on the right, side by side (as tests/rendering/test_mouths.py does).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, FaceStatus, JobStatus, Template
from jobs.render.job_log import log_text
from jobs.render.worker import preparation, runner
from jobs.storage.cleanup import sweep
from rendering import faces, media, mouths
from tests.api.conftest import key_client
from tests.support.media import FACE

FPS = 25
LEFT = slice(0, 250)  # the large face's side of the canvas
RIGHT = slice(272, 448)  # the small face's side


def make_two_faces_video(path: Path) -> Path:
    """The fixture face large on the left (256 px) and small on the right (160 px)."""
    frames = list(media.iter_frames(FACE, fps=FPS))
    with media.VideoWriter(path, width=448, height=256, fps=FPS, crf=14) as writer:
        for frame in frames:
            canvas = np.full((256, 448, 3), 230, np.uint8)
            canvas[:, :256] = frame
            canvas[48:208, 272:432] = cv2.resize(frame, (160, 160), interpolation=cv2.INTER_AREA)
            writer.write(canvas)
    return path


@pytest.fixture(scope="session")
def two_faces_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_two_faces_video(tmp_path_factory.mktemp("two-faces") / "two people.mp4")


@pytest.fixture
def two_faces(make_template: Callable[..., Template], two_faces_video: Path) -> Template:
    """The two-person template, uploaded and analysed as the worker does it."""
    template = make_template(two_faces_video)
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    template.refresh_from_db()
    return template


def local_change(a: np.ndarray, b: np.ndarray) -> float:
    """Largest change of any small area (grey levels, blurred): an edit, not codec noise."""
    diff = np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=2)
    return float(cv2.GaussianBlur(diff, (0, 0), 3.0).max())


@pytest.mark.django_db
def test_analysis_lists_both_faces_with_a_thumbnail_each(
    two_faces: Template, owner_client: Client, other_client: Client
) -> None:
    faces = two_faces.face_list
    assert len(faces) == 2
    assert faces[0]["x"] < 0.5 < faces[1]["x"]  # the larger face is the default speaker
    assert two_faces.face_choice is None and two_faces.speaker_index == 0
    for face in faces:
        stored = Path(settings.MEDIA_ROOT) / face["thumbnail"]
        assert stored.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        assert face["thumbnail"].startswith(two_faces.owner.storage_prefix + "/")

    status = owner_client.get(reverse("template_status") + f"?ids={two_faces.pk}").json()
    listed = status["templates"][0]["faces"]
    assert [(f["index"], f["speaks"]) for f in listed] == [(0, True), (1, False)]
    picture = owner_client.get(listed[1]["thumbnail_url"])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    assert b"".join(picture.streaming_content)[:2] == b"\xff\xd8"  # type: ignore[attr-defined]
    assert other_client.get(listed[1]["thumbnail_url"]).status_code == 404
    missing = reverse("template_face_thumbnail", args=[two_faces.pk, 2])
    assert owner_client.get(missing).status_code == 404

    # Both cards show the picker with the default marked; a one-face template shows none.
    for page in ("template_library", "batch_new"):
        html = owner_client.get(reverse(page)).content.decode()
        assert html.count('data-testid="face-option"') == 2, page
        assert re.findall(r'value="(\d)" class="face chosen"', html) == ["0"], page


@pytest.mark.django_db
def test_the_choice_is_stored_from_the_card_and_the_api_and_only_by_the_owner(
    two_faces: Template, owner: User, other: User, owner_client: Client, other_client: Client
) -> None:
    url = reverse("template_face_choose", args=[two_faces.pk])

    # Another user: 404 on the page and through the API, and nothing changes.
    assert other_client.post(url, {"face": "1"}).status_code == 404
    other_api = key_client(other)
    detail = reverse("api:template-detail", args=[two_faces.pk])
    denied = other_api.patch(detail, {"face_choice": 1}, format="json")
    assert denied.status_code == 404 and denied.json()["error"]["code"] == "not_found"
    thumb = reverse("api:template-face-thumbnail", args=[two_faces.pk, 0])
    assert other_api.get(thumb).status_code == 404
    two_faces.refresh_from_db()
    assert two_faces.face_choice is None

    # The card's form (no script): stored, back to the page it came from.
    answer = owner_client.post(url, {"face": "1", "next": reverse("batch_new")})
    assert answer.status_code == 302 and answer["Location"] == reverse("batch_new")
    two_faces.refresh_from_db()
    assert two_faces.face_choice == 1 and two_faces.speaker_index == 1
    html = owner_client.get(reverse("template_library")).content.decode()
    assert re.findall(r'value="(\d)" class="face chosen"', html) == ["1"]

    # The page's script asks for JSON; a face that is not there is refused with a sentence.
    bad = owner_client.post(url, {"face": "5"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "2 faces" in bad.json()["error"]["message"]
    back = owner_client.post(url, {"face": ""}, HTTP_ACCEPT="application/json").json()
    assert back["face_choice"] is None and [f["speaks"] for f in back["faces"]] == [True, False]

    # The API: faces with thumbnail links, PATCH to choose.
    api = key_client(owner)
    body = api.get(detail).json()
    assert [f["index"] for f in body["faces"]] == [0, 1] and body["face_choice"] is None
    picture = api.get(body["faces"][1]["thumbnail_url"])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    chose = api.patch(detail, {"face_choice": 1}, format="json")
    assert chose.status_code == 200, chose.content
    assert chose.json()["face_choice"] == 1 and chose.json()["faces"][1]["speaks"] is True
    two_faces.refresh_from_db()
    assert two_faces.face_choice == 1
    refused = api.patch(detail, {"face_choice": 2}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    two_faces.refresh_from_db()
    assert two_faces.face_choice == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_rendered_after_the_choice_edits_the_chosen_face_only(
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
    two_faces_video: Path,
    owner_client: Client,
) -> None:
    template = make_template(two_faces_video)
    preparation.template_analyse(template_id=template.pk)
    template.refresh_from_db()
    services.template_face_choose(template=template, face=1)  # the small face on the right
    # The choice queued the analysis again (run here as the worker would): the chosen face's
    # track and mouth library are ready before any batch needs them.
    preparation.template_analyse(template_id=template.pk)
    batch = services.batch_create(owner=owner, audio_id=audio_clip.pk, template_ids=[template.pk])
    preparation.batch_prepare(batch_id=batch.pk)
    job = batch.jobs.get()
    tracked, analysed = faces.TRACK_RUNS, mouths.LIBRARY_RUNS
    assert runner.job_run(job_id=job.pk) == JobStatus.SUCCEEDED
    assert (tracked, analysed) == (faces.TRACK_RUNS, mouths.LIBRARY_RUNS)  # all from the cache
    job.refresh_from_db()
    assert "Face 2 of 2 (chosen by you)" in log_text(job.log)

    output = list(media.iter_frames(Path(settings.MEDIA_ROOT) / job.output.name, fps=FPS))
    source = list(media.iter_frames(two_faces_video, fps=FPS))
    pairs = list(zip(output, source, strict=False))  # the first pass plays the template forward
    left = max(local_change(o[:, LEFT], s[:, LEFT]) for o, s in pairs)
    right = max(local_change(o[:, RIGHT], s[:, RIGHT]) for o, s in pairs)
    # A plain re-encode of this template at the engine's crf measures about 6 here; a
    # re-animated mouth measures 40 or more.
    assert left < 10.0, left  # the other person: codec noise only
    assert right > 20.0, right  # the chosen person's mouth moved

    # The result was measured on the face that was edited, and the report is published.
    assert job.quality is not None and job.quality["coverage"] > 0.6
    state = owner_client.get(reverse("batch_progress", args=[batch.pk])).json()
    assert state["jobs"][0]["quality"] == job.quality

    # Choosing again later leaves this result as it was; only new batches use the choice.
    before = (job.output.name, job.output_sha256, job.quality, job.status)
    services.template_face_choose(template=template, face=0)
    job.refresh_from_db()
    assert (job.output.name, job.output_sha256, job.quality, job.status) == before


@pytest.mark.django_db(transaction=True)
def test_face_thumbnails_live_and_go_with_their_template(two_faces: Template) -> None:
    names = two_faces.face_thumbnail_names()
    assert len(names) == 2
    root = Path(settings.MEDIA_ROOT)
    # The hourly sweep knows them (an old file no row names would be removed).
    later = timezone.now() + timedelta(seconds=settings.ORPHAN_FILE_GRACE + 60)
    for name in names:
        os.utime(root / name, (0, 0))
    assert sweep(now=later).orphan_files == 0
    assert all((root / name).is_file() for name in names)
    services.template_delete(template=two_faces)
    assert not any((root / name).exists() for name in names)


@pytest.mark.django_db(transaction=True)
def test_templates_analysed_before_faces_were_listed_can_be_queued_again(
    make_template: Callable[..., Template],
    two_faces_video: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.core.management import call_command

    from jobs.library import face_checks

    old = make_template(two_faces_video)
    Template.objects.filter(pk=old.pk).update(face_status=FaceStatus.READY)  # faces: None
    queued: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(face_checks, "enqueue_on_commit", lambda f, *a, **k: queued.append((f, a)))
    call_command("template_faces")
    assert queued == [("jobs.tasks.template_analyse", (str(old.pk),))]

    preparation.template_analyse(template_id=old.pk)  # what that task runs
    old.refresh_from_db()
    assert len(old.face_list) == 2
    queued.clear()
    call_command("template_faces")
    assert queued == []


@pytest.mark.django_db
def test_a_group_of_six_lists_six_faces_in_the_picker_and_the_choice_is_tracked(
    make_template: Callable[..., Template], owner_client: Client, tmp_path: Path
) -> None:
    """Six people of about 40-65 px eye distance (more than the mesh's own five, smaller
    than its detector sees): all are listed, and the one chosen is the one tracked."""
    from tests.rendering.turned_faces import group_of_six

    group = group_of_six()
    path = tmp_path / "six people.mp4"
    with media.VideoWriter(path, width=1280, height=720, fps=FPS, crf=14) as writer:
        for i in range(10):
            writer.write(np.roll(group, i % 3, axis=1))
    template = make_template(path)
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    template.refresh_from_db()

    assert len(template.face_list) == 6
    html = owner_client.get(reverse("template_library")).content.decode()
    assert html.count('data-testid="face-option"') == 6
    # The bottom-right person, chosen: the check runs again and tracks her.
    pick = max(range(6), key=lambda i: template.face_list[i]["x"] + template.face_list[i]["y"])
    services.template_face_choose(template=template, face=pick)
    assert preparation.template_analyse(template_id=template.pk) == FaceStatus.READY
    track = faces.track(
        Path(template.file.path), cache_dir=None, face=preparation.template_face_hint(template)
    )
    assert track.present.all()
    centres = (
        (track.boxes[:, 0] + track.boxes[:, 2]) / 2,
        (track.boxes[:, 1] + track.boxes[:, 3]) / 2,
    )
    assert (centres[0] > 2 * 1280 / 3).all() and (centres[1] > 720 / 2).all()
