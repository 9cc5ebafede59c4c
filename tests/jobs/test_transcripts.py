"""Words in batches: the preparation step transcribes once per audio (real Whisper base),
the script gives the subtitles their words, the page form takes the options, the page says
when transcripts are off, captions are burned into every video, and the ZIP carries the
subtitles and the transcript."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import srt as srt_parser
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from jobs import services
from jobs.models import AudioClip, Batch, JobStatus, Template
from jobs.render.job_log import log_text
from jobs.render.worker import preparation, runner
from jobs.words import transcripts
from rendering import transcription
from tests.rendering.plain_av import decode
from tests.support.jobs import finish_job
from tests.support.media import FACE

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = "Hello, this is HeyGem Studio. One audio drives many faces."


def _batch(owner: User, audio: AudioClip, template: Template, **words: str) -> Batch:
    return services.batch_create(
        owner=owner, audio_id=audio.pk, template_ids=[template.pk], **words
    )


def _prepared(batch: Batch) -> Batch:
    assert preparation.batch_prepare(batch_id=batch.pk) == batch.jobs.count()
    batch.refresh_from_db()
    return batch


def test_the_audio_is_transcribed_once_and_a_second_batch_transcribes_nothing(
    transcripts_on: Path, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    before = transcription.TRANSCRIBE_RUNS

    first = _prepared(_batch(owner, audio_clip, template, language="en"))
    second = _prepared(_batch(owner, audio_clip, template, language="en"))

    assert before + 1 == transcription.TRANSCRIBE_RUNS
    assert first.transcript is not None and first.transcript == second.transcript
    words = [w["text"].strip(",.").lower() for w in first.transcript["words"]]
    assert words[:3] == ["hello", "this", "is"], words
    assert {"many", "faces"} & set(words), words  # the end of the script was heard too
    starts = [w["start"] for w in first.transcript["words"]]
    assert starts == sorted(starts) and 0.2 < starts[0] < 0.6  # 0.3 s of silence first
    assert first.transcript["language"] == "en" and not first.transcript["detected"]
    assert first.subtitle_cues and first.transcript_status == ""


def test_the_script_gives_the_subtitles_their_words(
    transcripts_on: Path, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template, language="en", script=SCRIPT))

    text = transcripts.subtitles_text(batch, "srt")

    assert text is not None
    cues = list(srt_parser.parse(text))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == SCRIPT
    assert cues[0].start.total_seconds() == pytest.approx(batch.transcript["words"][0]["start"])
    vtt = transcripts.subtitles_text(batch, "vtt")
    assert vtt is not None and vtt.startswith("WEBVTT\n") and "HeyGem Studio." in vtt


def test_without_a_model_the_videos_still_render_and_the_pages_say_why(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template, captions="bottom"))

    assert batch.transcript is None and batch.subtitle_cues is None
    assert batch.transcript_status == "off"
    assert transcripts.transcript_note(batch).startswith(
        "Transcripts are off on this server: no Whisper model is installed."
    )
    assert batch.jobs.get().status == JobStatus.QUEUED
    page = owner_client.get(reverse("batch_detail", args=[batch.pk])).content.decode()
    assert "Transcripts are off" in page and "subtitles.srt" not in page
    new = owner_client.get(reverse("batch_new")).content.decode()
    assert 'data-testid="transcripts-off"' in new and "Transcripts are off" in new


def test_a_broken_model_is_noted_and_never_fails_the_batch(
    settings, owner: User, audio_clip: AudioClip, template: Template, tmp_path: Path
) -> None:
    from rendering.transcription import DEFAULT_MODEL_DIR

    broken = tmp_path / "broken-model"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(DEFAULT_MODEL_DIR / name, broken / name)
    (broken / "model.bin").write_bytes(b"\0" * 4096)
    settings.WHISPER_MODEL_DIR = str(broken)
    transcripts._transcriber.cache_clear()

    batch = _prepared(_batch(owner, audio_clip, template))

    assert batch.transcript is None
    assert batch.transcript_status == "broken"
    assert "its Whisper model is damaged" in transcripts.transcript_note(batch)
    assert str(broken) not in transcripts.transcript_note(batch)  # no server path for users
    assert batch.jobs.get().status == JobStatus.QUEUED


@pytest.mark.parametrize(
    ("words", "sentence"),
    [
        ({"language": "xx"}, 'There is no transcript language "xx"'),
        ({"captions": "left"}, 'not "left"'),
        ({"captions": "top", "caption_size": "huge"}, 'not "huge"'),
        ({"script": "字" * 20_001}, "at most 20,000 fit"),
    ],
)
def test_bad_word_options_are_refused_with_a_sentence(
    owner: User, audio_clip: AudioClip, template: Template, words: dict, sentence: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        _batch(owner, audio_clip, template, **words)

    assert sentence in " ".join(raised.value.messages)
    assert not Batch.objects.exists()


def test_the_page_form_takes_language_script_and_captions(
    owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    response = owner_client.post(
        reverse("batch_new"),
        {
            "audio": str(audio_clip.pk),
            "templates": [str(template.pk)],
            "language": "zh",
            "script": "  大家好，欢迎收看。 ",
            "captions": "top",
            "caption_size": "large",
        },
    )

    assert response.status_code == 302
    batch = Batch.objects.get()
    assert (batch.language, batch.script, batch.captions, batch.caption_size) == (
        "zh",
        "大家好，欢迎收看。",
        "top",
        "large",
    )
    form = Client()
    form.force_login(batch.owner)
    page = form.get(reverse("batch_new")).content.decode()
    assert '<option value="zh"' in page and 'name="script"' in page and 'name="captions"' in page


def test_the_batch_page_shows_the_transcript_and_subtitle_links(
    transcripts_on: Path,
    owner: User,
    owner_client: Client,
    other_client: Client,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template, language="en", script=SCRIPT))

    page = owner_client.get(reverse("batch_detail", args=[batch.pk])).content.decode()

    assert escape(batch.transcript["text"]) in page
    for kind in ("srt", "vtt", "ass"):  # a link per format, from the registry
        assert f'href="{reverse(f"api:batch-subtitles-{kind}", args=[batch.pk])}"' in page
    assert ">SRT</a> · <a" in page and ">ASS</a>" in page
    srt_text = owner_client.get(reverse("api:batch-subtitles-srt", args=[batch.pk]))
    assert srt_text.status_code == 200 and "HeyGem Studio." in srt_text.content.decode()
    for name in ("api:batch-subtitles-srt", "api:batch-subtitles-ass", "batch_detail"):
        assert other_client.get(reverse(name, args=[batch.pk])).status_code == 404


def _white(frame: np.ndarray, rows: slice) -> int:
    return int(np.all(frame[rows] > 235, axis=2).sum())


def test_captions_are_burned_into_every_video_of_the_batch(
    transcripts_on: Path,
    owner: User,
    audio_clip: AudioClip,
    make_template: Callable[..., Template],
) -> None:
    first = make_template(name="first.mp4")
    batch = services.batch_create(
        owner=owner,
        audio_id=audio_clip.pk,
        template_ids=[first.pk],
        language="en",
        script=SCRIPT,
        captions="bottom",
    )
    _prepared(batch)

    assert runner.job_run(job_id=batch.jobs.get().pk) == JobStatus.SUCCEEDED

    job = batch.jobs.get()
    # Drawn in the render's own encode (no second pass), and not counted as a change
    # outside the face by the quality report.
    assert "Captions drawn in (bottom, medium)" in log_text(job.log)
    assert job.quality is not None and "changed_outside" not in job.quality["reasons"]
    frames = decode(Path(settings.MEDIA_ROOT) / job.output.name)
    template_frames = decode(FACE)
    cue = batch.subtitle_cues[0]
    k = round((cue["start"] + cue["end"]) / 2 * 25)
    band = slice(180, 256)
    assert _white(frames[k], band) > _white(template_frames[k], band) + 100
    assert _white(frames[2], band) <= _white(template_frames[2], band) + 20  # before any cue


def test_the_zip_carries_the_subtitles_beside_the_videos_and_the_transcript(
    transcripts_on: Path,
    owner: User,
    owner_client: Client,
    audio_clip: AudioClip,
    template: Template,
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template, language="en", name="Launch"))
    finish_job(batch.jobs.get(), status=JobStatus.SUCCEEDED, source=FACE)

    link = owner_client.post(
        reverse("batch_export", args=[batch.pk]), HTTP_ACCEPT="application/json"
    ).json()
    response = Client().get(link["url"])
    body = b"".join(response.streaming_content)

    assert int(response["Content-Length"]) == len(body) == link["size"]
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = archive.namelist()
    assert {"subtitles.srt", "subtitles.vtt", "subtitles.ass", "manifest.json"} <= set(names)
    assert any(n.endswith(".mp4") for n in names)
    assert archive.read("subtitles.srt").decode() == transcripts.subtitles_text(batch, "srt")
    manifest = json.loads(archive.read("manifest.json"))
    assert archive.read("subtitles.ass").decode() == transcripts.subtitles_text(batch, "ass")
    assert manifest["subtitles"] == ["subtitles.srt", "subtitles.vtt", "subtitles.ass"]
    assert manifest["transcript"]["words"][0]["text"].lower().startswith("hello")
    assert {"start", "end"} <= set(manifest["transcript"]["words"][0])


def test_silence_gives_a_transcript_without_subtitles_and_says_so(
    transcripts_on: Path, owner: User, template: Template, tmp_path: Path
) -> None:
    from tests.support.media import uploaded
    from tests.support.speech import write_wav

    quiet = write_wav(tmp_path / "quiet.wav", np.zeros(32000, np.float32) + 1e-4)
    audio = services.audio_upload(owner=owner, uploaded=uploaded(quiet))

    batch = _prepared(_batch(owner, audio, template, script="Nobody says this.", captions="top"))

    assert batch.transcript is not None and batch.transcript["words"] == []
    assert batch.subtitle_cues is None and transcripts.caption_style(batch) is None
    assert transcripts.transcript_note(batch).startswith("Whisper heard no speech")


def test_the_admin_shows_why_a_batch_has_no_transcript(
    admin_client: Client, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template))

    page = admin_client.get(reverse("admin:jobs_batch_change", args=[batch.pk]))

    assert page.status_code == 200
    assert "Transcripts are off" in page.content.decode()


def test_the_words_read_in_chinese_for_a_chinese_reader(
    owner: User, owner_client: Client, audio_clip: AudioClip, template: Template
) -> None:
    zh = "zh-CN,zh;q=0.9"
    batch = _prepared(_batch(owner, audio_clip, template, captions="bottom"))

    assert batch.transcript_status == "off"
    new = owner_client.get(reverse("batch_new"), HTTP_ACCEPT_LANGUAGE=zh).content.decode()
    assert '<option value="auto"' in new and ">自动</option>" in new
    assert '<option value="zh"' in new and ">中文</option>" in new and ">英语</option>" in new
    assert "讲解词" in new and "烧录字幕" in new and "此服务器未开启文字稿" in new
    page = owner_client.get(reverse("batch_detail", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE=zh)
    assert "本批次没有文字稿、字幕和烧录字幕；视频照常生成。" in page.content.decode()
    api = owner_client.get(f"/api/v1/batches/{batch.pk}/", HTTP_ACCEPT_LANGUAGE=zh).json()
    assert api["transcript_note"].startswith("此服务器未开启文字稿")
    missing = owner_client.get(
        reverse("api:batch-subtitles-srt", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE=zh
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("本批次没有字幕。此服务器未开启文字稿")


def test_wrong_words_options_are_refused_in_the_readers_language(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationError) as raised:
        _batch(owner, audio_clip, template, captions="left")
    assert "字幕位置只能是" in raised.value.messages[0] and "left" in raised.value.messages[0]


def test_the_mouth_follows_the_transcripts_sounds_and_the_report_measures_against_them(
    transcripts_on: Path, owner: User, audio_clip: AudioClip, template: Template
) -> None:
    """The worker hands the batch's words to the engine (the mouth planned from their
    sounds) and to the quality measure (the lips against the sounds, not the volume)."""
    batch = _prepared(_batch(owner, audio_clip, template, language="en"))

    assert runner.job_run(job_id=batch.jobs.get().pk) == JobStatus.SUCCEEDED

    job = batch.jobs.get()
    assert job.quality is not None
    assert job.quality["basis"] == "sounds"
    assert job.quality["sync"] is not None and job.quality["sync"] > 0.5
    assert "sync_low" not in job.quality["reasons"]
    assert "sync_offset" not in job.quality["reasons"]


def test_without_a_transcript_the_report_measures_against_the_loudness(
    owner: User, audio_clip: AudioClip, template: Template
) -> None:
    batch = _prepared(_batch(owner, audio_clip, template))

    assert runner.job_run(job_id=batch.jobs.get().pk) == JobStatus.SUCCEEDED

    job = batch.jobs.get()
    assert job.quality is not None and job.quality["basis"] == "loudness"


def test_the_words_card_reads_as_chinese(
    transcripts_on: Path,
    owner: User,
    audio_clip: AudioClip,
    template: Template,
    owner_client: Client,
) -> None:
    """The language as a name, one label per thing, the script with its own 。 and ，."""
    script = "你好，这是一个测试。一段音频驱动很多张脸。"
    batch = _prepared(_batch(owner, audio_clip, template, script=script))
    assert batch.transcript is not None and batch.transcript["language"] == "en"
    page = owner_client.get(
        reverse("batch_detail", args=[batch.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    card = page.split('id="transcript"', 1)[1].split("</section>", 1)[0]
    assert "识别出的语言：英语" in card and "：en" not in card
    assert "<h2>文字稿与字幕</h2>" in card and "下载字幕：" in card
    assert card.count("字幕：") == 1  # only the links row; the script line says 字幕内容
    assert f"字幕内容：</span> {script}</p>" in card
