"""The served OpenAPI 3.1 document and its interactive page, built without a single warning."""

from __future__ import annotations

import warnings
from pathlib import Path

from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.api.conftest import settings_for


async def test_the_document_declares_every_route_explicitly(sqlite_url: str, key_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Litestar 2.24+ warns on implicit parameter declarations
        app = create_app(settings_for(sqlite_url, key_dir))
        async with AsyncTestClient(app) as client:
            document = (await client.get("/schema/openapi.json")).json()
            page = await client.get("/schema")
    assert document["openapi"].startswith("3.1")
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    operations = {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    for (method, path), op in operations.items():
        assert op.get("operationId"), (method, path)
        if method == "POST" and path.startswith("/v1/cases/{case_id}/"):
            headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
            assert headers == {"If-Match", "Idempotency-Key"}, path
            assert {"200", "401", "403", "404", "409", "412", "422", "428"} <= set(op["responses"])
            problem = op["responses"]["412"]["content"]
            assert "application/problem+json" in problem, path
    assert ("POST", "/v1/cases") in operations
    assert operations[("GET", "/health")]["security"] == [{}]  # probes need no token
    assert document["security"] == [{"BearerToken": []}]
