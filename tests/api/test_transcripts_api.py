"""The words over the API: batch create takes language, script and captions; batch detail
returns the transcript with word timings; subtitles download as SRT, WebVTT and ASS; another
user's batch is a 404 (real Whisper base)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import srt as srt_parser
import webvtt
from rest_framework.test import APIClient

from accounts.models import User
from jobs.models import AudioClip, Batch, Template
from jobs.render.worker import preparation
from tests.support.subtitles import parse_ass, seconds

pytestmark = pytest.mark.django_db

SCRIPT = "Hello, this is HeyGem Studio. One audio drives many faces."


def _create(api: APIClient, audio: AudioClip, template: Template, **extra: object) -> dict:
    response = api.post(
        "/api/v1/batches/",
        {"audio": str(audio.pk), "templates": [str(template.pk)], **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_batch_takes_its_words_options_and_returns_the_transcript(
    transcripts_on: Path, api: APIClient, audio_clip: AudioClip, template: Template
) -> None:
    created = _create(
        api,
        audio_clip,
        template,
        language="en",
        script=SCRIPT,
        captions="bottom",
        caption_size="large",
    )
    assert created["language"] == "en" and created["script"] == SCRIPT
    assert created["captions"] == {"position": "bottom", "size": "large"}
    assert created["transcript"] is None and created["subtitles"] is None

    preparation.batch_prepare(batch_id=created["id"])
    detail = api.get(f"/api/v1/batches/{created['id']}/").json()

    transcript = detail["transcript"]
    assert transcript["language"] == "en" and transcript["detected"] is False
    assert transcript["text"].startswith("Hello, this is")
    first = transcript["words"][0]
    assert first["text"] == "Hello," and 0.2 < first["start"] < first["end"] < 1.0
    assert detail["subtitles"] == {
        "srt": f"/api/v1/batches/{created['id']}/subtitles.srt",
        "vtt": f"/api/v1/batches/{created['id']}/subtitles.vtt",
        "ass": f"/api/v1/batches/{created['id']}/subtitles.ass",
    }
    listed = api.get("/api/v1/batches/").json()["results"][0]
    assert listed["subtitles"] == detail["subtitles"] and "transcript" not in listed


def test_subtitles_download_as_srt_and_webvtt_and_only_for_the_owner(
    transcripts_on: Path,
    api: APIClient,
    other_api: APIClient,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    created = _create(api, audio_clip, template, language="en", script=SCRIPT)
    url = f"/api/v1/batches/{created['id']}/subtitles"
    early = api.get(f"{url}.srt")
    assert early.status_code == 404 and early.json()["error"]["code"] == "not_ready"
    preparation.batch_prepare(batch_id=created["id"])

    as_srt = api.get(f"{url}.srt")
    as_vtt = api.get(f"{url}.vtt", HTTP_ACCEPT="text/vtt")

    assert as_srt.status_code == 200
    assert as_srt["Content-Type"] == "application/x-subrip; charset=utf-8"
    assert as_srt["Content-Disposition"].startswith("attachment;")
    cues = list(srt_parser.parse(as_srt.content.decode()))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == SCRIPT
    assert as_vtt.status_code == 200 and as_vtt["Content-Type"] == "text/vtt; charset=utf-8"
    captions = webvtt.from_buffer(io.StringIO(as_vtt.content.decode()))
    assert len(captions) == len(cues)
    # ASS: the same cues, styled for the batch's template (its size is the script's).
    as_ass = api.get(f"{url}.ass")
    assert as_ass.status_code == 200 and as_ass["Content-Type"] == "text/x-ssa; charset=utf-8"
    info, styles, events = parse_ass(as_ass.content.decode())
    assert (int(info["PlayResX"]), int(info["PlayResY"])) == (template.width, template.height)
    assert styles["Default"]["Fontname"] == "Noto Sans CJK SC" and len(events) == len(cues)
    for event, cue in zip(events, cues, strict=True):
        assert abs(seconds(event["Start"]) - cue.start.total_seconds()) <= 0.005
        assert " ".join(event["Text"].split("\\N")) == cue.content.replace("\n", " ")
    for suffix in (".srt", ".vtt", ".ass", "/"):
        response = other_api.get(
            url + suffix if suffix != "/" else f"/api/v1/batches/{created['id']}/"
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_without_a_model_the_batch_says_why_it_has_no_transcript(
    api: APIClient, audio_clip: AudioClip, template: Template
) -> None:
    created = _create(api, audio_clip, template)
    preparation.batch_prepare(batch_id=created["id"])

    detail = api.get(f"/api/v1/batches/{created['id']}/").json()

    assert detail["transcript"] is None and detail["subtitles"] is None
    assert detail["transcript_note"].startswith("Transcripts are off on this server")
    assert "/" not in detail["transcript_note"]  # no server path
    missing = api.get(f"/api/v1/batches/{created['id']}/subtitles.vtt")
    assert (
        missing.status_code == 404 and "Transcripts are off" in missing.json()["error"]["message"]
    )


@pytest.mark.parametrize(
    "bad",
    [{"language": "xx"}, {"captions": "left"}, {"caption_size": "huge"}, {"script": "a" * 20_001}],
)
def test_bad_words_options_answer_400(
    api: APIClient, audio_clip: AudioClip, template: Template, owner: User, bad: dict
) -> None:
    response = api.post(
        "/api/v1/batches/",
        {"audio": str(audio_clip.pk), "templates": [str(template.pk)], **bad},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert set(response.json()["error"]["fields"]) == set(bad)
    assert not Batch.objects.filter(owner=owner).exists()
