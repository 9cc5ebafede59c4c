"""Working files a killed process leaves behind (an upload's temporary file, a worker's
working copies in SCRATCH_DIR) are removed by the sweeper and at start-up; files a live
process holds are never touched, however old."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from jobs.library.uploads import SizeLimitedUploadHandler
from jobs.storage import files
from jobs.storage.cleanup import sweep
from jobs.storage.leftovers import leftovers_sweep
from tests.support.processes import ROOT, child_env

pytestmark = pytest.mark.django_db

HOLDER = """
import sys, time, django
django.setup()
from jobs.storage import files
from jobs.library.uploads import SizeLimitedUploadHandler

handler = SizeLimitedUploadHandler()
handler.new_file("file", "voice.wav", "audio/wav", 1_000_000)
handler.receive_data_chunk(b"x" * 100_000, 0)
with files.scratch_file(suffix=".mp4") as work:
    work.write_bytes(b"y" * 50_000)
    print(handler.file.temporary_file_path(), work, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def upload_dir(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def _holder(upload_dir: Path) -> tuple[subprocess.Popen[str], list[Path]]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env=child_env(UPLOAD_TEMP_DIR=str(upload_dir)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    paths = [Path(p) for p in child.stdout.readline().split()]
    assert len(paths) == 2 and all(p.exists() for p in paths), paths
    return child, paths


def _age(*paths: Path) -> None:
    old = time.time() - 3600
    for path in paths:
        os.utime(path, (old, old))


def test_a_killed_processs_upload_and_working_files_go_and_a_live_ones_stay(
    upload_dir: Path,
) -> None:
    dead, dead_paths = _holder(upload_dir)
    live, live_paths = _holder(upload_dir)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=30)
        _age(*dead_paths, *live_paths)  # age alone decides nothing
        assert all(p.exists() for p in dead_paths)  # what a SIGKILL leaves
        found = leftovers_sweep()
        assert (found.files, found.bytes) == (2, 150_000)
        assert not any(p.exists() for p in dead_paths)
        assert all(p.exists() for p in live_paths)
    finally:
        live.kill()
        live.wait(timeout=30)


def test_this_processs_own_files_in_use_are_kept_and_new_ones_wait_their_turn(
    upload_dir: Path,
) -> None:
    handler = SizeLimitedUploadHandler()
    handler.new_file("file", "voice.wav", "audio/wav", 1000)
    handler.receive_data_chunk(b"x" * 1000, 0)
    upload = Path(handler.file.temporary_file_path())
    with files.scratch_file() as work:
        work.write_bytes(b"y")
        _age(upload, work)
        assert leftovers_sweep().files == 0
        assert upload.exists() and work.exists()
    handler.file.close()
    stray = Path(settings.SCRATCH_DIR) / "in-stray.wav"
    stray.write_bytes(b"z")
    assert leftovers_sweep().files == 0  # just made: its maker may not hold it yet
    _age(stray)
    assert sweep().leftovers.files == 1  # the hourly sweep
    assert not stray.exists()


def test_a_starting_web_worker_sweeps_what_a_killed_one_left(upload_dir: Path) -> None:
    dead, dead_paths = _holder(upload_dir)
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=30)
    _age(*dead_paths)
    subprocess.run(
        [sys.executable, "-c", "import heygem_site.wsgi"],
        cwd=ROOT,
        env=child_env(UPLOAD_TEMP_DIR=str(upload_dir)),
        check=True,
        timeout=120,
    )
    assert not any(p.exists() for p in dead_paths)
