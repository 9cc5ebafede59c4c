"""ZIP export: the seed design (zipfile DEFLATED into a temp file, then serve it) against our
streamed archive through the real view under gunicorn, both read over loopback with a real
HTTP client.

Sets up a throwaway instance (SQLite in a temp folder) holding one batch of FILES results,
TOTAL_MB in all. The files are incompressible like H.264 (a random 8 MiB block repeated,
far beyond deflate's 32 KiB window), and their SHA-256 is recorded as the worker records it.

    .venv/bin/python bench/export.py [--files 40] [--total-mb 2048] [--object-store]

With --object-store, the same archive is also served with STORAGE_BACKEND=s3 from moto's
S3 server on 127.0.0.1 (the members streamed from the bucket), beside the local disk.

Prints time to first byte, total time, peak RSS of the serving process (VmHWM from /proc,
reset just before the download via /proc/<pid>/clear_refs so it is the download's own peak)
and the ratio a/b.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import requests
from _common import ROOT, table

BLOCK = 8 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmHWM", "VmRSS"}:
            out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak(pid: int) -> None:
    # "5" resets the peak resident set size (Linux >= 4.0), so VmHWM is this download's peak.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in text]


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.head(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered at {url} within {timeout:.0f} s")


def _download(url: str, pid: int) -> dict[str, float]:
    """GET with a real client, reading 1 MiB at a time; peak RSS of `pid` during it."""
    _reset_peak(pid)
    rss_before = _status(pid)["VmRSS"]
    start = time.perf_counter()
    first = None
    received = 0
    with requests.get(url, stream=True, timeout=600) as response:
        response.raise_for_status()
        length = int(response.headers.get("Content-Length", -1))
        # The first byte itself (iter_content would wait for a whole 1 MiB chunk).
        received += len(response.raw.read(1))
        first = time.perf_counter() - start
        for chunk in response.iter_content(1024 * 1024):
            received += len(chunk)
    total = time.perf_counter() - start
    status = _status(pid)
    if length >= 0 and length != received:
        raise SystemExit(f"Content-Length {length} but {received} bytes arrived")
    return {
        "ttfb": first or total,
        "total": total,
        "bytes": received,
        "peak": status["VmHWM"],
        "growth": status["VmHWM"] - rss_before,
    }


def _gunicorn(
    env: dict[str, str], var: Path, procs: list[subprocess.Popen[bytes]]
) -> tuple[int, int]:
    """The real site under gunicorn (one worker, as scripts/run.sh runs it): its port and
    the worker's pid."""
    port = _free_port()
    gunicorn = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "heygem_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "600",
            "--logger-class",
            "heygem_site.log_redaction.GunicornLogger",
            "--access-logfile",
            str(var / "access.log"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    procs.append(gunicorn)
    _wait_http(f"http://127.0.0.1:{port}/healthz")
    return port, _children(gunicorn.pid)[0]


def _object_store_leg(
    env: dict[str, str],
    var: Path,
    procs: list[subprocess.Popen[bytes]],
    *,
    url_path: str,
    names: list[str],
) -> dict[str, float]:
    """The same link served with STORAGE_BACKEND=s3: the results copied into a bucket on
    moto's S3 server (127.0.0.1), a second gunicorn configured for it."""
    import boto3

    port = _free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    procs.append(moto)
    endpoint = f"http://127.0.0.1:{port}"
    _wait_http(endpoint + "/moto-api/")
    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
    client.create_bucket(Bucket="bench")
    media = var / "media"
    print(f"copying {len(names)} results into the bucket ...", flush=True)
    for path in names:
        client.upload_file(path, "bench", Path(path).relative_to(media).as_posix())
    s3_env = dict(
        env,
        STORAGE_BACKEND="s3",
        S3_BUCKET="bench",
        S3_ENDPOINT_URL=endpoint,
        S3_ACCESS_KEY_ID=keys["aws_access_key_id"],
        S3_SECRET_ACCESS_KEY=keys["aws_secret_access_key"],
    )
    port_c, worker = _gunicorn(s3_env, var, procs)
    url = f"http://127.0.0.1:{port_c}{url_path}"
    requests.head(url, timeout=60).raise_for_status()  # warm: imports, DB, S3 client
    return _download(url, worker)


SEED_SERVER = textwrap.dedent(
    """
    import os, shutil, sys, tempfile, zipfile
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = sys.argv[2:]

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200); self.end_headers()

        def do_GET(self):
            # The seed design: the whole archive deflated into a temporary file, then served.
            with tempfile.TemporaryFile(dir=os.environ["SEED_TMP"]) as tmp:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                    for i, path in enumerate(files, 1):
                        zf.write(path, f"output_{i:03d}.mp4")
                size = tmp.tell()
                tmp.seek(0)
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                shutil.copyfileobj(tmp, self.wfile, 1024 * 1024)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--total-mb", type=int, default=2048)
    parser.add_argument("--object-store", action="store_true", help="also serve from S3")
    args = parser.parse_args()
    total_bytes = args.total_mb * 1024 * 1024
    per_file = total_bytes // args.files

    var = Path(tempfile.mkdtemp(prefix="heygem-bench-export-"))
    # The outputs, plus the seed design's temporary archive of about the same size.
    need = 2 * total_bytes + 512 * 1024 * 1024
    free = shutil.disk_usage(var).free
    if free < need:
        shutil.rmtree(var)
        raise SystemExit(
            f"Only {free / 1024**3:.1f} GiB free in {var.parent}; this run needs "
            f"{need / 1024**3:.1f} GiB. Pass a smaller --total-mb."
        )

    env = dict(
        os.environ,
        HEYGEM_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="heygem_site.settings",
        DEBUG="1",
        LOG_LEVEL="WARNING",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from jobs.export import export_link_create
    from jobs.models import AudioClip, Batch, JobStatus, RenderJob

    procs: list[subprocess.Popen[bytes]] = []
    try:
        call_command("migrate", verbosity=0)
        user = User.objects.create_user(email="bench@example.com", password="bench-password-1")
        audio = AudioClip.objects.create(
            owner=user,
            file="x.wav",
            original_name="x.wav",
            content_hash="0",
            duration=5,
            sample_rate=16000,
        )
        batch = Batch.objects.create(owner=user, audio=audio, name="Bench export")
        print(
            f"writing {args.files} files, {args.total_mb} MiB in all, under {var} ...", flush=True
        )
        block = bytearray(os.urandom(BLOCK))
        paths = []
        t0 = time.perf_counter()
        for position in range(1, args.files + 1):
            name = f"{user.storage_prefix}/batches/{batch.pk.hex}/output_{position:03d}.mp4"
            path = var / "media" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            block[:8] = position.to_bytes(8, "little")  # every file differs
            with path.open("wb") as out:
                left = per_file
                while left:
                    piece = bytes(block[: min(BLOCK, left)])
                    out.write(piece)
                    digest.update(piece)
                    left -= len(piece)
            RenderJob.objects.create(
                batch=batch,
                template_name=f"template {position}.mp4",
                position=position,
                status=JobStatus.SUCCEEDED,
                output=name,
                output_size=per_file,
                output_duration=60.0,
                output_sha256=digest.hexdigest(),
                finished_at=timezone.now(),
            )
            paths.append(str(path))
        print(f"  written in {time.perf_counter() - t0:.1f} s", flush=True)
        link = export_link_create(user=user, batch_ids=[batch.pk])

        # (b) ours: the real view under gunicorn, as scripts/run.sh starts it.
        port_b, worker = _gunicorn(env, var, procs)
        url_b = f"http://127.0.0.1:{port_b}{link.url}"
        requests.head(url_b, timeout=30).raise_for_status()  # warm: imports, DB connection
        b = _download(url_b, worker)
        if b["bytes"] != link.size:
            raise SystemExit(f"the link promised {link.size} bytes, {b['bytes']} arrived")
        # (c) the same view in the pages-only process (no REST API, no admin loaded).
        port_c, worker_c = _gunicorn(
            dict(env, DJANGO_SETTINGS_MODULE="heygem_site.settings_pages"), var, procs
        )
        url_c = f"http://127.0.0.1:{port_c}{link.url}"
        requests.head(url_c, timeout=30).raise_for_status()
        pages = _download(url_c, worker_c)

        # (a) the seed design, served by a bare stdlib server (which only flatters it).
        port_a = _free_port()
        seed = subprocess.Popen(
            [sys.executable, "-c", SEED_SERVER, str(port_a), *paths],
            env=dict(env, SEED_TMP=str(var)),
            start_new_session=True,
        )
        procs.append(seed)
        _wait_http(f"http://127.0.0.1:{port_a}/")
        print("seed design: deflating into a temporary file (slow) ...", flush=True)
        a = _download(f"http://127.0.0.1:{port_a}/", seed.pid)

        mib = 1024 * 1024
        print()
        print(f"{args.files} files, {per_file * args.files / mib:.0f} MiB of results")
        print(
            table(
                ["", "TTFB s", "total s", "MiB/s", "archive MiB", "peak RSS MiB", "RSS growth MiB"],
                [
                    [
                        "(a) zipfile DEFLATED → temp file → serve",
                        a["ttfb"],
                        a["total"],
                        a["bytes"] / mib / a["total"],
                        a["bytes"] / mib,
                        a["peak"] / mib,
                        a["growth"] / mib,
                    ],
                    [
                        "(b) streamed view under gunicorn",
                        b["ttfb"],
                        b["total"],
                        b["bytes"] / mib / b["total"],
                        b["bytes"] / mib,
                        b["peak"] / mib,
                        b["growth"] / mib,
                    ],
                    [
                        "(c) the same, pages-only process",
                        pages["ttfb"],
                        pages["total"],
                        pages["bytes"] / mib / pages["total"],
                        pages["bytes"] / mib,
                        pages["peak"] / mib,
                        pages["growth"] / mib,
                    ],
                ],
            )
        )
        print(f"ratio a/b total time: {a['total'] / b['total']:.1f}×   (target ≥ 5×)")
        print(
            f"(b) TTFB {b['ttfb'] * 1000:.1f} ms (target < 100 ms), "
            f"peak RSS {b['peak'] / mib:.1f} MiB; (c) {pages['peak'] / mib:.1f} MiB (target < 64 MiB)"
        )
        if args.object_store:
            c = _object_store_leg(env, var, procs, url_path=link.url, names=paths)
            print()
            print(
                table(
                    ["streamed view", "TTFB ms", "MiB/s", "peak RSS MiB"],
                    [
                        [
                            "local disk",
                            b["ttfb"] * 1000,
                            b["bytes"] / mib / b["total"],
                            b["peak"] / mib,
                        ],
                        [
                            "object store (S3)",
                            c["ttfb"] * 1000,
                            c["bytes"] / mib / c["total"],
                            c["peak"] / mib,
                        ],
                    ],
                )
            )
            print(
                f"object store / local throughput: {c['bytes'] / c['total'] / (b['bytes'] / b['total']):.2f}"
            )
        log = (var / "access.log").read_text()
        print(f"gunicorn access log line: {log.strip().splitlines()[-1]}")
        print(
            "token in the access log:", "YES" if link.url.split("token=")[1][:20] in log else "no"
        )
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
