"""The audit routes in a minimal Litestar app (the real app wires the same controller)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from api.audit.routes import AuditController
from api.problems import problem_response
from ledger.audit.bundle import verify_bundle
from ledger.audit.keys import KeyConfig, load_signer
from ledger.audit.merkle import verify_consistency, verify_inclusion
from ledger.audit.service import AuditService
from ledger.audit.witness import cosign

from .helpers import fill

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: the test client serves the app from another event loop, which an asyncpg
    pool opened in the test's loop cannot be used from. The routes are dialect-blind; the
    services behind them are tested on both databases."""
    return sqlite_url


@pytest.fixture
async def client(audit: AuditService) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = Litestar(
        route_handlers=[AuditController],
        dependencies={"audit": Provide(lambda: audit, sync_to_thread=False)},
        exception_handlers={Exception: problem_response},  # the API's own mapping
    )
    async with AsyncTestClient(app) as client:
        yield client


async def test_audit_routes(
    client: AsyncTestClient[Litestar], audit: AuditService, key_config: KeyConfig, tmp_path: Path
) -> None:
    none = await client.get("/v1/ledger/checkpoint")
    assert none.json()["code"] == "CHECKPOINT_NOT_FOUND", none.text
    cases = await fill(audit.store, 5, 4)
    await audit.make_checkpoint()

    # a witness over HTTP: the transport functions built on the test client
    async def latest() -> str:
        return str((await client.get("/v1/ledger/checkpoint")).json()["note"])

    async def consistency(first: int, second: int) -> list[bytes]:
        r = await client.get("/v1/ledger/proofs/consistency", params={"from": first, "to": second})
        return [bytes.fromhex(h) for h in r.json()["proof"]]

    async def submit(size: int, line: str) -> None:
        r = await client.post(f"/v1/ledger/checkpoints/{size}/cosign", json={"signature": line})
        assert r.status_code == 201, r.text
        assert r.json()["department"] == "tax"

    tax = load_signer(key_config.key_dir / "witness-tax.key")
    await cosign(tax, audit.trusted.ledger, tmp_path / "tax.json", latest, consistency, submit)
    await fill(audit.store, 2, 3, seed=4)
    await audit.make_checkpoint()
    await cosign(tax, audit.trusted.ledger, tmp_path / "tax.json", latest, consistency, submit)

    view = (await client.get("/v1/ledger/checkpoint")).json()
    assert (view["size"], view["cosigned_by"]) == (26, [tax.name])
    inc = (await client.get("/v1/ledger/proofs/inclusion", params={"position": 7})).json()
    assert inc["size"] == 26
    assert verify_inclusion(
        6,
        26,
        bytes.fromhex(inc["leaf_hash"]),
        [bytes.fromhex(h) for h in inc["proof"]],
        bytes.fromhex(view["root"]),
    )
    cons = (await client.get("/v1/ledger/proofs/consistency", params={"from": 20, "to": 26})).json()
    assert verify_consistency(
        20,
        26,
        bytes.fromhex(cons["from_root"]),
        bytes.fromhex(cons["to_root"]),
        [bytes.fromhex(h) for h in cons["proof"]],
    )

    bad = await client.get("/v1/ledger/proofs/inclusion", params={"position": 27})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_PROOF_REQUEST")
    bad = await client.get("/v1/ledger/proofs/consistency", params={"from": 9, "to": 3})
    assert bad.status_code == 400
    bad = await client.get("/v1/ledger/proofs/inclusion", params={"position": 0})
    assert bad.status_code == 400  # Litestar's own validation of ge=1
    bad = await client.post("/v1/ledger/checkpoints/999/cosign", json={"signature": "x"})
    assert (bad.status_code, bad.json()["code"]) == (404, "CHECKPOINT_NOT_FOUND")
    bad = await client.post("/v1/ledger/checkpoints/26/cosign", json={"signature": "nonsense"})
    assert (bad.status_code, bad.json()["code"]) == (422, "COSIGNATURE_REJECTED")

    report = (await client.get("/v1/ledger/verify")).json()
    assert report["ok"] is True
    assert report["events_checked"] == 26

    r = await client.get(f"/v1/cases/{cases[1]}/evidence")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert verify_bundle(r.content, audit.trusted).ok
    missing = await client.get("/v1/cases/00000000-0000-4000-8000-000000000000/evidence")
    assert (missing.status_code, missing.json()["code"]) == (404, "CASE_NOT_FOUND")


async def test_openapi_schema_names_the_query_parameters(
    client: AsyncTestClient[Litestar],
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    params = schema["paths"]["/v1/ledger/proofs/consistency"]["get"]["parameters"]
    assert {p["name"] for p in params} == {"from", "to"}
    props = schema["components"]["schemas"]
    assert any(
        "from_root" in s.get("properties", {}) and "from" in s.get("properties", {})
        for s in props.values()
    )
