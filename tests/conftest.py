from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from accounts.models import User
from heygem_site.catalogs import compile_catalogs

# The .mo files are built from the committed .po files (pure Python, no GNU gettext), as
# scripts/run.sh does; Django reads them when the first translation is activated.
compile_catalogs()

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path: Path) -> None:
    """Every test gets its own MEDIA_ROOT and render cache: no test sees another's files."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RENDER_CACHE_DIR = tmp_path / "render-cache"
    settings.SCRATCH_DIR = tmp_path / "scratch"
    settings.MEDIA_ROOT.mkdir()


@pytest.fixture(autouse=True)
def _transcripts_off(settings) -> None:
    # Whisper on every batch would add a second or more to dozens of tests that never look
    # at the words; the transcript tests turn it on with `transcripts_on`.
    settings.WHISPER_MODEL_DIR = ""


@pytest.fixture
def transcripts_on(settings) -> Path:
    """The real Whisper base model that scripts/test.sh assembles (WHISPER_MODEL_DIR wins)."""
    import os

    from rendering.transcription import DEFAULT_MODEL_DIR, model_problem

    model_dir = Path(os.environ.get("WHISPER_MODEL_DIR") or DEFAULT_MODEL_DIR)
    problem = model_problem(model_dir)
    if problem is not None:
        pytest.fail(f"the Whisper base model is not assembled: {problem}")
    settings.WHISPER_MODEL_DIR = str(model_dir)
    return model_dir


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # PBKDF2's million rounds cost about a second per user on a busy 2-core machine, and
    # most tests create two or three users. Tests check logins work, not hash strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _run_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    # A request leaves its language active in the thread (LocaleMiddleware activates and never
    # deactivates); a later test calling a service directly must not inherit a Chinese one.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clear_cache(settings, _run_cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    # The login throttle counts in the cache; tests must not inherit counts. The file cache
    # lives in this run's own folder: two runs in one checkout must not share var/cache.
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {
            "default": {**settings.CACHES["default"], "LOCATION": str(_run_cache_dir)}
        }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user(
        email="owner@example.com", password=PASSWORD, display_name="Olivia Owner"
    )


@pytest.fixture
def other(db) -> User:
    return User.objects.create_user(
        email="other@example.com", password=PASSWORD, display_name="Oscar Other"
    )


@pytest.fixture
def admin(db) -> User:
    return User.objects.create_superuser(email="admin@example.com", password=PASSWORD)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner: User) -> Client:
    return _client_for(owner)


@pytest.fixture
def other_client(other: User) -> Client:
    return _client_for(other)


@pytest.fixture
def admin_client(admin: User) -> Client:
    return _client_for(admin)


@pytest.fixture
def queue_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """One django-q2 queue for this test, shared by the live server and the worker.

    django_q.conf.Conf reads Q_CLUSTER at import: the ORM broker keys its queue rows with
    Conf.CLUSTER_NAME (OrmQ.key) and signs task payloads with Conf.PREFIX as the salt. The
    worker gets Q_CLUSTER_NAME in its environment, which the settings put into
    Q_CLUSTER["name"], so both values are that name there; here both are patched to match.
    A unique name (rather than the default "heygem") keeps a developer's own worker, or a
    parallel run on the same database, from taking this test's tasks.
    """
    from django_q.conf import Conf

    from tests.support.processes import unique_cluster_name

    name = unique_cluster_name()
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    return name


# Media fixtures (audio clips, templates, generated videos) shared by several test folders.
from tests.support.export import make_batch  # noqa: E402, F401
from tests.support.media import audio_clip, make_template, no_face_video, template  # noqa: E402, F401
from tests.support.object_store import object_store, s3_bucket  # noqa: E402, F401
