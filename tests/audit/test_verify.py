"""verify_ledger on real databases: clean ledgers pass; each kind of tampering is found and
the report names the position where the log stopped being what was appended."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.checkpoints import verify_signed
from ledger.audit.errors import WitnessRefused
from ledger.audit.keys import SIG_ED25519, KeyConfig, Signer, load_signer
from ledger.audit.service import AuditService
from ledger.audit.verify import VerifyReport
from ledger.audit.verify_core import body_of
from ledger.audit.witness import cosign, load_state
from ledger.store import NewEvent, RecordedEvent
from ledger.store.chain import canonical_bytes

from . import tamper
from .helpers import fill, local_transport, new_event

DEPARTMENTS = ("tax", "hrss", "medical")


@dataclass
class Ledger:
    url: str
    config: KeyConfig
    states: Path  # the witnesses' state files live here
    options: dict[str, int]  # how verify_ledger splits its work (PostgreSQL)


# Every tamper test runs on SQLite (one way to verify: the serial walk) and on PostgreSQL with the
# chains checked in one range in this process (the default for small logs), in three ranges
# (boundaries after positions 111 and 222), and in two child processes (boundary after 167);
# ``test_verify_parallel`` compares them with the serial walk.
LEDGERS: dict[str, tuple[str, dict[str, int]]] = {
    "sqlite": ("sqlite", {}),
    "postgres": ("postgres", {}),
    "postgres, 3 ranges": ("postgres", {"workers": 0, "ranges": 3}),
    "postgres, 2 processes": ("postgres", {"workers": 2}),
}


@pytest.fixture(params=list(LEDGERS))
def ledger_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, ledger_kind: str) -> str:
    database = LEDGERS[ledger_kind][0]
    return str(request.getfixturevalue(f"{database}_url"))


@pytest.fixture
def verify_options(ledger_kind: str) -> dict[str, int]:
    return LEDGERS[ledger_kind][1]


async def populate(url: str, config: KeyConfig, states: Path) -> None:
    """320 events in two checkpoints, both cosigned, then 12 more and a 2-event tail for one
    case (positions 333 and 334) that no checkpoint covers yet."""
    service = await AuditService.open(url, config)
    try:
        await fill(service.store, 20, 8, seed=1)
        await service.make_checkpoint()
        for dept in DEPARTMENTS[:2]:
            await cosign(
                load_signer(config.key_dir / f"witness-{dept}.key"),
                service.trusted.ledger,
                states / f"{dept}.json",
                *local_transport(service),
            )
        await fill(service.store, 20, 8, seed=2)
        await service.make_checkpoint()
        for dept in DEPARTMENTS:
            await cosign(
                load_signer(config.key_dir / f"witness-{dept}.key"),
                service.trusted.ledger,
                states / f"{dept}.json",
                *local_transport(service),
            )
        cases = await fill(service.store, 4, 3, seed=3)
        rng = random.Random(4)
        await service.store.append(
            cases[0], 3, [new_event(cases[0], 4, rng), new_event(cases[0], 5, rng)]
        )
    finally:
        await service.close()


@pytest.fixture
async def ledger(
    database_url: str, key_config: KeyConfig, tmp_path: Path, verify_options: dict[str, int]
) -> Ledger:
    await populate(database_url, key_config, tmp_path)
    return Ledger(database_url, key_config, tmp_path, verify_options)


async def verify(ledger: Ledger, external: bool = False) -> VerifyReport:
    service = await AuditService.open(ledger.url, ledger.config, signing=False)
    try:
        held = []
        if external:  # what the witnesses remember, from their state files
            for dept in DEPARTMENTS:
                state = load_state(ledger.states / f"{dept}.json")
                assert state is not None
                held.append(verify_signed(state.note, service.trusted)[0])
        return await service.verify(external=held, **ledger.options)
    finally:
        await service.close()


def first(report: VerifyReport) -> tuple[int | None, str | None]:
    kind = report.faults[0].kind if report.faults else None
    return report.first_bad_position, kind


async def test_untouched_ledger_verifies_clean(ledger: Ledger) -> None:
    report = await verify(ledger, external=True)
    assert report.ok, report.faults[:3]
    assert (report.events_checked, report.log_size, report.tree_size) == (334, 334, 334)
    assert (report.checkpoints_checked, report.cosignatures_checked) == (2, 5)


async def test_changed_payload_byte(ledger: Ledger) -> None:
    (state,) = (
        await tamper.raw_sql(ledger.url, "SELECT state FROM ledger_events WHERE position = 100")
    )[0]
    state = bytes(state)
    await tamper.update_event(ledger.url, 100, state=state[:5] + bytes([state[5] ^ 4]) + state[6:])
    report = await verify(ledger)
    assert first(report) == (100, "hash")
    assert not report.ok


async def test_event_deleted_in_the_middle_of_a_case(ledger: Ledger) -> None:
    events = await tamper.all_events(ledger.url)
    victim = next(e for e in events if e.version == 3)
    await tamper.delete_events(ledger.url, victim.position)
    assert first(await verify(ledger)) == (victim.position, "gap")


async def test_last_events_of_a_case_deleted_mid_log(ledger: Ledger) -> None:
    events = await tamper.all_events(ledger.url)
    case = events[0].case_id
    last_two = [e.position for e in events if e.case_id == case][-2:]
    await tamper.delete_events(ledger.url, *last_two)
    assert first(await verify(ledger)) == (last_two[0], "gap")


async def test_last_events_of_a_case_deleted_at_the_log_tail(ledger: Ledger) -> None:
    await tamper.delete_events(ledger.url, 333, 334)  # the newest events, of one case
    report = await verify(ledger)
    assert first(report) == (333, "missing")


async def test_two_events_positions_swapped(ledger: Ledger) -> None:
    await tamper.swap_positions(ledger.url, 50, 250)
    report = await verify(ledger)
    assert report.first_bad_position == 50
    assert report.faults[0].kind in ("version", "link", "hash")
    assert 250 in {f.position for f in report.faults}


async def test_forged_event_inserted_with_its_case_chain_recomputed(ledger: Ledger) -> None:
    events = await tamper.all_events(ledger.url)
    case = events[10].case_id
    p = await tamper.insert_forged_event(ledger.url, case, 2, "ledger.Closed", b'{"forged":1}')
    report = await verify(ledger)
    assert first(report) == (p, "leaf")


@pytest.mark.parametrize("keep_old_checkpoints", [True, False])
async def test_whole_log_rewritten_with_a_fresh_tree_but_no_ledger_key(
    ledger: Ledger, keep_old_checkpoints: bool
) -> None:
    events = await tamper.all_events(ledger.url)
    events = [
        e
        if e.position not in (1, 60, 200)
        else tamper.msgspec.structs.replace(e, state=b'{"rewritten":true}')
        for e in events
    ]
    await tamper.rechain(ledger.url, events)
    rebuilt = await tamper.rebuild_tree(ledger.url)
    if not keep_old_checkpoints:  # forge checkpoints under the ledger's name, with another key
        impostor = Signer.from_seed(ledger.config.origin, SIG_ED25519, b"\x66" * 32)
        await tamper.resign_checkpoints(ledger.url, rebuilt, impostor, keep_cosignatures=False)
    report = await verify(ledger)
    expected_kind = "checkpoint" if keep_old_checkpoints else "signature"
    assert first(report) == (1, expected_kind)
    assert all(f.kind in ("checkpoint", "signature") for f in report.faults)  # chains, tree: ok


@pytest.mark.parametrize("keep_cosignatures", [True, False])
async def test_whole_log_rewritten_and_resigned_with_a_stolen_ledger_key(
    ledger: Ledger, keep_cosignatures: bool
) -> None:
    events = await tamper.all_events(ledger.url)
    events = [
        tamper.msgspec.structs.replace(e, state=e.state.replace(b"1", b"7"))
        if e.position <= 120
        else e
        for e in events
    ]
    await tamper.rechain(ledger.url, events)
    rebuilt = await tamper.rebuild_tree(ledger.url)
    stolen = load_signer(ledger.config.key_dir / "ledger.key")
    await tamper.resign_checkpoints(ledger.url, rebuilt, stolen, keep_cosignatures)
    if keep_cosignatures:  # the witnesses' signatures are over the true roots
        assert first(await verify(ledger)) == (1, "cosignature")
    else:  # all signatures in the database are "valid" now: what the witnesses hold is not
        assert (await verify(ledger)).ok
        assert first(await verify(ledger, external=True)) == (1, "witness")
    # and no witness will cosign the rewritten history
    service = await AuditService.open(ledger.url, ledger.config)
    try:
        case = events[0].case_id
        version = await service.store.case_version(case)
        await service.store.append(
            case, version, [NewEvent(case, version + 1, "ledger.Urged", b"{}", b"{}")]
        )
        await service.make_checkpoint()
        with pytest.raises(WitnessRefused, match="consistency proof"):
            await cosign(
                load_signer(ledger.config.key_dir / "witness-tax.key"),
                service.trusted.ledger,
                ledger.states / "tax.json",
                *local_transport(service),
            )
    finally:
        await service.close()


async def test_altered_compact_range(ledger: Ledger) -> None:
    ((compact,),) = await tamper.raw_sql(ledger.url, "SELECT compact FROM ledger_merkle_state")
    compact = bytes(compact)  # 334 leaves: subtrees over 1..256, 257..320, 321..328, 329..332, …
    altered = compact[: 8 + 32] + bytes([compact[40] ^ 1]) + compact[41:]
    await tamper.raw_sql(ledger.url, "UPDATE ledger_merkle_state SET compact = $1", altered)
    report = await verify(ledger)
    assert first(report) == (257, "tree")


async def test_altered_merkle_node(ledger: Ledger) -> None:
    await tamper.disable_append_only(ledger.url)
    await tamper.set_node(ledger.url, 3, 5, bytes(32))
    report = await verify(ledger)
    assert first(report) == (41, "node")  # level 3, index 5 covers positions 41..48


MIN, MAX = datetime(1900, 1, 1), datetime(2200, 1, 1)  # astimezone() overflows near year 1


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        RecordedEvent,
        position=st.integers(1, 2**62),
        case_id=st.uuids(),
        version=st.integers(1, 2**31),
        topic=st.text(max_size=30),
        state=st.binary(max_size=60),
        metadata=st.binary(max_size=30),
        recorded_at=st.datetimes(MIN, MAX, timezones=st.timezones())
        | st.datetimes(MIN, MAX, timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0)),
        prev_hash=st.binary(min_size=32, max_size=32),
        hash=st.binary(min_size=32, max_size=32),
    )
)
def test_fast_encoding_is_the_chain_encoding(r: RecordedEvent) -> None:
    assert body_of(r, str(r.case_id)) == canonical_bytes(
        r.position, r.case_id, r.version, r.topic, r.state, r.metadata, r.recorded_at
    )
