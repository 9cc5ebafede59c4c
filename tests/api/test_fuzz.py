"""Property-based run of the whole API against its own OpenAPI schema (schemathesis +
hypothesis), over HTTP against a live server: no generated request may cause a 500, and
none may be answered with an HTML page (rate limits raised for the run). CI runs it on both
legs, PostgreSQL's included.

Each operation gets positive (schema-valid) and negative (schema-violating) requests, once
with random ids and once with the ids of the caller's real rows, so the handlers behind the
404s run too. A summary is written to test-artifacts/api/schemathesis.txt.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from schemathesis import GenerationMode

from accounts.models import User
from accounts.services import api_key_create
from jobs.models import Batch
from tests.support.jobs import finish_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = 12
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "api"


def _real_ids(batch: Batch) -> dict[str, str]:
    job = batch.jobs.order_by("position").first()
    finish_job(job, status="succeeded", content=b"not really a video, but bytes to serve")
    return {
        "audio_id": str(batch.audio_id),
        "template_id": str(job.template_id),
        "batch_id": str(batch.pk),
        "job_id": str(job.pk),
    }


def test_no_generated_request_causes_a_server_error(
    live_server: Any,
    owner: User,
    batch: Batch,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # Rate limits raised for the run: a 429 would hide what the handlers behind it answer.
    settings.API_RATES = {group: "100000/hour" for group in settings.API_RATES}
    _key, raw = api_key_create(user=owner, name="fuzz")
    headers = {"Authorization": f"Bearer {raw}"}
    real = _real_ids(batch)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    statuses: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    operations = 0

    # Deletions last, so the other operations still find the real rows.
    ordered = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.method.upper() == "DELETE", op.label),
    )
    valid_batch = {"audio": real["audio_id"], "templates": [real["template_id"]], "name": "fuzz"}
    for operation in ordered:
        operations += 1
        names = {p.name for p in operation.path_parameters}
        pinned = {k: v for k, v in real.items() if k in names}
        creates_batch = operation.label == "POST /api/v1/batches/"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            variants: list[dict[str, Any]] = [{}]
            if pinned:
                variants.append({"path_parameters": pinned})
            if creates_batch and mode == GenerationMode.POSITIVE:
                variants.append({"body": valid_batch, "media_type": "application/json"})
            for variant in variants:
                strategy = operation.as_strategy(generation_mode=mode, **variant)

                @hyp_settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def run(case: Any) -> None:
                    response = case.call(base_url=live_server.url, headers=headers, timeout=30)
                    statuses[f"{operation.label} {response.status_code}"] += 1
                    if response.status_code >= 500:
                        errors.append(f"{operation.label}: {response.status_code} for {case!r}")
                    # Under /api/ every answer is JSON (or the file asked for), never a page.
                    kind = response.headers.get("Content-Type", "")
                    if "text/html" in kind:
                        errors.append(
                            f"{operation.label}: HTML {response.status_code} for {case!r}"
                        )

                run()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lines = [f"operations: {operations}", f"requests: {sum(statuses.values())}"]
    lines += [f"{n:5d}  {label}" for label, n in sorted(statuses.items())]
    lines += [f"server errors: {len(errors)}", *errors[:20]]
    (ARTIFACTS / "schemathesis.txt").write_text("\n".join(lines) + "\n")
    assert operations >= 15
    assert not errors, "\n".join(errors[:10])
