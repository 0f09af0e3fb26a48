"""The write path on real stores: command → load → rules → append, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger import commands as c
from ledger.demo import PATHS, load_demo
from ledger.domain.codes import CaseStatus, Category, Channel, Classification, PayerKind
from ledger.domain.errors import InvalidCommand, RuleViolation
from ledger.domain.identifiers import make_credit_code
from ledger.domain.payer import Payer
from ledger.service import CaseNotFound, LedgerService, RequestMeta
from ledger.store.chain import verify_case_chain
from ledger.store.port import EventStore, IdempotencyKeyReused, VersionConflict
from tests.domain.cases import FIRST_RESPONDER, HRSS_HANDLER

NOW = datetime(2025, 3, 10, 1, 30, tzinfo=UTC)  # 09:30 in 潜江, a Monday


@pytest.fixture
def service(store: EventStore) -> LedgerService:
    return LedgerService(store, clock=lambda: NOW)


def registration(summary: str = "单位欠缴社保费") -> c.Register:
    return c.Register(
        channel=Channel.SERVICE_WINDOW,
        received_at=NOW - timedelta(minutes=15),
        payer=Payer(
            kind=PayerKind.EMPLOYER,
            name="潜江市兴达建筑工程有限公司",
            identifier=make_credit_code(org="MA4900001"),
            phone="13872001234",
        ),
        jurisdiction="qj.yuanlin",
        category=Category.EMPLOYEE_EMPLOYER,
        summary=summary,
        preliminary_opinion="核实后依法处理",
    )


CLASSIFY = c.Classify(classification=Classification.GENERAL, route=2, reason="一般事项")


async def test_a_registered_case_is_replayed_from_its_events(service: LedgerService) -> None:
    result = await service.register(FIRST_RESPONDER, registration())
    await service.execute(result.case_id, FIRST_RESPONDER, CLASSIFY, expected_version=1)
    case = await service.load(result.case_id)
    assert (case.version, case.status) == (2, CaseStatus.CLASSIFIED)
    assert case.first_responder.staff_id == FIRST_RESPONDER.staff_id
    records = await service.history(result.case_id)
    assert [r.version for r in records] == [1, 2]
    assert verify_case_chain(records) is None


async def test_a_stale_expected_version_is_refused_and_records_nothing(
    service: LedgerService, store: EventStore
) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    head = await store.head()
    with pytest.raises(VersionConflict):
        await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, expected_version=0)
    assert await store.head() == head


async def test_a_refused_rule_records_nothing(service: LedgerService, store: EventStore) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    with pytest.raises(RuleViolation, match="R2"):
        await service.execute(case_id, HRSS_HANDLER, CLASSIFY, expected_version=1)
    assert await store.head() == 1
    assert await store.case_version(case_id) == 1


async def test_a_retried_registration_lands_on_the_same_case(
    service: LedgerService, store: EventStore
) -> None:
    meta = RequestMeta(request_id="r1", idempotency_key="reg-7f3a")
    first = await service.register(FIRST_RESPONDER, registration(), meta)
    again = await service.register(FIRST_RESPONDER, registration(), meta)
    assert again.case_id == first.case_id
    assert again.replayed
    assert not first.replayed
    assert await store.head() == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    service: LedgerService, store: EventStore
) -> None:
    meta = RequestMeta(idempotency_key="reg-1")
    await service.register(FIRST_RESPONDER, registration(), meta)
    with pytest.raises(IdempotencyKeyReused):
        await service.register(FIRST_RESPONDER, registration("另一件事"), meta)
    assert await store.head() == 1


async def test_a_retried_command_returns_the_first_result_after_the_case_moved_on(
    service: LedgerService, store: EventStore
) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    meta = RequestMeta(idempotency_key="classify-1")
    first = await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, 1, meta)
    transfer = c.Transfer(to_unit="hrss.social_insurance", reason="属人社职责")
    await service.execute(case_id, FIRST_RESPONDER, transfer, 2)
    retry = await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, 1, meta)
    assert retry.version == first.version == 2
    assert retry.replayed
    assert await store.case_version(case_id) == 3


async def test_link_to_a_case_that_does_not_exist_is_refused(service: LedgerService) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    link = c.Link(case_id=uuid4(), relation="duplicate")  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand, match="no case"):
        await service.execute(case_id, FIRST_RESPONDER, link, 1)


async def test_a_correction_names_an_event_of_the_same_case(service: LedgerService) -> None:
    a = (await service.register(FIRST_RESPONDER, registration())).case_id
    b = (await service.register(FIRST_RESPONDER, registration("另一件"))).case_id
    records_b = await service.history(b)
    wrong = c.Correct(position=records_b[0].position, correction="更正", reason="笔误")
    with pytest.raises(InvalidCommand, match="not an event of case"):
        await service.execute(a, FIRST_RESPONDER, wrong, 1)
    right = c.Correct(
        position=(await service.history(a))[0].position, correction="更正", reason="笔误"
    )
    assert (await service.execute(a, FIRST_RESPONDER, right, 1)).version == 2


async def test_the_case_as_it_stood_at_a_version_and_at_a_time(service: LedgerService) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    first = (await service.history(case_id))[0]
    await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, 1)
    assert (await service.load(case_id, to_version=1)).status is CaseStatus.REGISTERED
    then = await service.load(case_id, as_of=first.recorded_at)
    assert then.version == 1
    with pytest.raises(CaseNotFound):
        await service.load(case_id, as_of=first.recorded_at - timedelta(seconds=1))


async def test_an_unknown_case_is_not_found(service: LedgerService) -> None:
    with pytest.raises(CaseNotFound):
        await service.load(uuid4())


async def test_the_demo_walks_every_lifecycle_path_with_intact_chains(
    store: EventStore,
) -> None:
    service = LedgerService(store)
    summary = await load_demo(service, cases=len(PATHS), seed=7)
    assert set(PATHS) <= set(summary.paths)
    assert await store.head() == summary.events + summary.meeting_events
    by_case: dict[object, list] = {}  # type: ignore[type-arg]
    async for record in store.iter_log(0):
        by_case.setdefault(record.case_id, []).append(record)
    assert len(by_case) == summary.cases + summary.meetings
    assert all(verify_case_chain(records) is None for records in by_case.values())


async def test_an_idempotency_key_is_not_shared_between_members_of_staff(
    service: LedgerService, store: EventStore
) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    meta = RequestMeta(idempotency_key="same-key")
    await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, 1, meta)
    with pytest.raises(IdempotencyKeyReused):
        await service.execute(case_id, HRSS_HANDLER, CLASSIFY, 2, meta)
    assert await store.case_version(case_id) == 2


async def test_a_case_moved_on_by_another_process_is_decided_on_fresh_state(
    store: EventStore,
) -> None:
    here, elsewhere = (
        LedgerService(store, clock=lambda: NOW),
        LedgerService(store, clock=lambda: NOW),
    )
    transfer = c.Transfer(to_unit="hrss.social_insurance", reason="属人社职责")
    # ``here`` remembers version 1 of each case after registering it; ``elsewhere`` moves on.
    refused_id = (await here.register(FIRST_RESPONDER, registration())).case_id
    await elsewhere.execute(refused_id, FIRST_RESPONDER, CLASSIFY, expected_version=1)
    with pytest.raises(VersionConflict):  # a client that saw version 1 is refused
        await here.execute(refused_id, FIRST_RESPONDER, CLASSIFY, expected_version=1)
    assert await store.case_version(refused_id) == 2

    case_id = (await here.register(FIRST_RESPONDER, registration("另一件"))).case_id
    await elsewhere.execute(case_id, FIRST_RESPONDER, CLASSIFY, expected_version=1)
    result = await here.execute(case_id, FIRST_RESPONDER, transfer)  # no expected version
    assert result.version == 3
    case = await here.load(case_id)
    assert case.pending_unit == "hrss.social_insurance"
    assert case.classification is Classification.GENERAL


async def test_a_refused_command_leaves_no_trace_in_the_remembered_case(
    service: LedgerService, store: EventStore
) -> None:
    case_id = (await service.register(FIRST_RESPONDER, registration())).case_id
    with pytest.raises(RuleViolation):
        await service.execute(case_id, HRSS_HANDLER, CLASSIFY, expected_version=1)
    await service.execute(case_id, FIRST_RESPONDER, CLASSIFY, expected_version=1)
    records = await service.history(case_id)
    assert [r.version for r in records] == [1, 2]
    assert verify_case_chain(records) is None
