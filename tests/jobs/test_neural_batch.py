"""A batch on the neural engine through the real worker path, with a tiny random model.

``NEURAL_MODEL_DIR`` points at a model directory in the real format; the batch is
prepared (audio analysed once, with the model's Whisper) and each job rendered by
``jobs.render.worker.runner.job_run``, which builds the engine once per process. Without a model
directory the engine is neither offered nor accepted.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from jobs import services
from jobs.models import JobStatus, Template
from jobs.render.job_log import log_text
from jobs.render.worker import preparation, runner, steps
from rendering import audio as audio_analysis
from rendering import media
from rendering.neural.build import build_random_model
from tests.support.media import FACE_WITH_AUDIO, SPEECH, uploaded

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_model(tmp_path_factory.mktemp("neural") / "model", seed=0)


@pytest.fixture
def neural_configured(settings, tiny_model: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    settings.NEURAL_MODEL_DIR = str(tiny_model)
    settings.NEURAL_DEVICE = "cpu"
    steps.built_engine.cache_clear()
    yield tiny_model
    steps.built_engine.cache_clear()


@pytest.fixture
def short_audio(owner: User, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One second of the fixture speech as the owner's upload (25 frames: a fast render)."""
    samples = media.read_audio(SPEECH)[:16000]
    path = tmp_path / "short.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return services.audio_upload(owner=owner, uploaded=uploaded(path, "hello.wav"))


def test_it_renders_a_neural_batch_through_the_worker_loading_the_model_once(
    owner: User,
    owner_client: Client,
    short_audio,  # type: ignore[no-untyped-def]
    make_template: Callable[..., Template],
    neural_configured: Path,
) -> None:
    page = owner_client.get(reverse("batch_new"))
    assert b'<option value="neural"' in page.content
    # Two different files (identical uploads are stored once).
    templates = [make_template(name="anna.mp4"), make_template(FACE_WITH_AUDIO, name="anna2.mp4")]
    batch = services.batch_create(
        owner=owner,
        audio_id=short_audio.pk,
        template_ids=[t.pk for t in templates],
        engine="neural",
    )
    runs = audio_analysis.ANALYSIS_RUNS
    assert preparation.batch_prepare(batch_id=batch.pk) == 2
    statuses = [
        runner.job_run(job_id=pk)
        for pk in batch.jobs.order_by("position").values_list("pk", flat=True)
    ]
    assert statuses == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    assert runs + 1 == audio_analysis.ANALYSIS_RUNS  # once per batch, Whisper included
    assert steps.built_engine.cache_info().misses == 1  # the model loaded once for both jobs
    engine = steps.engine_for("neural")
    assert engine.name == "neural" and engine.model_dir == neural_configured

    for job in batch.jobs.all():
        worded = log_text(job.log)
        assert "engine: Neural (GPU)" in worded and "Rendered 25 frames" in worded
        info = media.probe(Path(settings.MEDIA_ROOT) / job.output.name)
        assert info.video is not None and info.audio is not None
        assert info.video.frame_count == 25
        assert info.audio.duration == pytest.approx(1.0, abs=0.05)


def test_it_does_not_offer_or_accept_neural_without_a_model_dir(
    owner: User,
    owner_client: Client,
    short_audio,  # type: ignore[no-untyped-def]
    template: Template,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.NEURAL_MODEL_DIR = ""
    page = owner_client.get(reverse("batch_new"))
    assert b'<option value="classic"' in page.content
    assert b'value="neural"' not in page.content
    with pytest.raises(ValidationError, match="NEURAL_MODEL_DIR") as refused:
        services.batch_create(
            owner=owner, audio_id=short_audio.pk, template_ids=[template.pk], engine="neural"
        )
    assert refused.value.messages[0].endswith(".")
    response = owner_client.post(
        reverse("batch_new"),
        {"audio": str(short_audio.pk), "templates": [str(template.pk)], "engine": "neural"},
    )
    assert response.status_code == 200
    assert b"not available on this server" in response.content
    assert not owner.batches.exists()


def test_the_api_offers_neural_only_when_configured(
    owner: User,
    neural_configured: Path,
    short_audio,  # type: ignore[no-untyped-def]
    template: Template,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from tests.api.conftest import key_client

    api = key_client(owner)
    assert {e["name"] for e in api.get("/api/v1/engines/").json()} == {"classic", "neural"}
    created = api.post(
        "/api/v1/batches/",
        {"audio": str(short_audio.pk), "templates": [str(template.pk)], "engine": "neural"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["engine"] == "neural"
    settings.NEURAL_MODEL_DIR = ""
    assert {e["name"] for e in api.get("/api/v1/engines/").json()} == {"classic"}
    refused = api.post(
        "/api/v1/batches/",
        {"audio": str(short_audio.pk), "templates": [str(template.pk)], "engine": "neural"},
        format="json",
    )
    assert refused.status_code == 400 and "NEURAL_MODEL_DIR" in refused.json()["error"]["message"]


def test_the_bbox_shift_setting_reaches_the_workers_engine(
    neural_configured: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from jobs.render.worker.engines import engine_options

    settings.NEURAL_BBOX_SHIFT = -6
    steps.built_engine.cache_clear()
    assert engine_options("neural")["bbox_shift"] == -6
    assert steps.engine_for("neural").geometry.bbox_shift == -6.0
