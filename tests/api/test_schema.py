from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern
from drf_spectacular.validation import validate_schema

from jobs.api import urls as api_urls

pytestmark = pytest.mark.django_db

DOC_VIEWS = {"schema", "docs", "redoc"}


def _schema() -> dict:
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)


def test_the_schema_is_valid_openapi() -> None:
    schema = _schema()
    validate_schema(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_schema_covers_every_endpoint_and_method() -> None:
    paths = _schema()["paths"]
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in DOC_VIEWS:
            continue
        path = "/api/v1/" + re.sub(r"<\w+:(\w+)>", r"{\1}", str(pattern.pattern))
        assert path in paths, path
        view = pattern.callback.cls  # type: ignore[attr-defined]
        methods = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
        assert methods == set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert {"apiKey": []} in operation["security"], path


def test_the_docs_page_works_offline() -> None:
    page = Client().get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # Its start-up script is a file (no inline <script>: the Content-Security-Policy), which
    # names the schema.
    assert "<script>" not in html and "/api/v1/docs/?script=" in html
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()
    # Swagger UI comes from the sidecar package's static files, not from a CDN.
    assert "cdn." not in html and "drf_spectacular_sidecar" in html
