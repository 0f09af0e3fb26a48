"""Fuzzing the served OpenAPI document with schemathesis: no input makes the API answer 5xx,
and every answer is one the document describes.

The app runs in-process (ASGI), once on SQLite and once on PostgreSQL, on a fresh ledger that
already holds a few cases, and the generated requests use those cases' ids half of the time —
otherwise nearly every request would stop at 404 before reaching the command's rules. The token
holds every role, so requests get past the guards into validation and the domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ledger import commands as c
from ledger.bootstrap import open_ledger
from ledger.domain.codes import Role
from tests.api.conftest import settings_for
from tests.api.support import CLASSIFY, INTAKE, bearer, registration, staff

EXAMPLES = 20  # per operation: about 35 operations, each database in about 15 s
EVERYONE = staff("F0001", "模糊测试", INTAKE.unit, INTAKE.department, *Role)


async def _seed(url: str, key_dir: Path) -> list[str]:
    settings = settings_for(url, key_dir)
    async with open_ledger(settings) as ledger:
        ids = []
        for n in range(3):
            command = msgspec.convert(registration(f"模糊测试案件 {n}"), c.Register)
            result = await ledger.service.register(INTAKE, command)
            if n:
                await ledger.service.execute(
                    result.case_id, INTAKE, msgspec.convert(CLASSIFY, c.Classify), 1
                )
            ids.append(str(result.case_id))
        return ids


@pytest.fixture
def fuzzed(database_url: str, key_dir: Path) -> Iterator[Any]:
    cases = asyncio.run(_seed(database_url, key_dir))
    app = create_app(settings_for(database_url, key_dir))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        if not path_parameters or "case_id" not in path_parameters:
            return st.just(path_parameters)
        known = st.sampled_from(cases).map(lambda case_id: {**path_parameters, "case_id": case_id})
        return st.one_of(st.just(path_parameters), known)

    yield schema
    shutdown_lifespans()


def test_no_request_makes_the_api_fail(fuzzed: Any) -> None:
    # One test over every operation, driving hypothesis directly: schemathesis' pytest plugin
    # (lazy schemas) does not run under pytest 9.
    for result in fuzzed.get_all_operations():
        fuzz(result.ok())


def fuzz(operation: Any) -> None:
    auth = bearer(EVERYONE)
    # A quiet event stream lasts until its timeout; keep each one short.
    params = {"timeout": "0.2"} if operation.path == "/v1/events/stream" else None
    # Every answer must also be documented: status, content type and body schema. The audit
    # routes (api.audit.routes, another area's) do not document their errors yet: 5xx only.
    checks: list[Any] = [not_a_server_error]
    if "audit" not in (operation.tags or []):
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        case.call_and_validate(headers=auth, params=params, checks=checks)

    call()
