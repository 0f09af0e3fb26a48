"""Optimistic concurrency over HTTP: many writes decided on the same version, one wins."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from tests.api.support import AUDITOR, HANDLER, Api, held_by_hrss

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CONSULT = {"units": ["hrss.social_insurance", "tax.sif"], "outcome": "会商确认缴费基数"}


async def test_thirty_concurrent_writes_with_one_if_match_record_exactly_one(
    live_server: str,
) -> None:
    limits = httpx.Limits(max_connections=30)
    async with httpx.AsyncClient(base_url=live_server, timeout=30, limits=limits) as client:
        api = Api(client)
        case = await held_by_hrss(api)
        before = len((await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json())
        responses = await asyncio.gather(
            *(api.post(HANDLER, case, "consult", CONSULT) for _ in range(30))
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: 29}, statuses
        assert {r.json()["code"] for r in responses if r.status_code == 412} == {"VERSION_MISMATCH"}
        events = (await api.get(AUDITOR, f"/v1/cases/{case.id}/events")).json()
        assert len(events) == before + 1
        assert events[-1]["topic"] == "ledger.Consulted"
