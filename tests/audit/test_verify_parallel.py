"""The chain pass of ``verify_ledger`` on PostgreSQL (``ledger.audit.verify_chains``).

1. The canonical bytes it builds from the database's text forms are ``chain.canonical_bytes``, to
   the byte, on odd content: no row of a clean log is sent down the slow path.
2. Split into ranges — in tasks of the event loop or in child processes — it reports exactly what
   the serial walk over whole records (``ranges=0``, SQLite's only way) reports, fault for fault,
   including faults right at a range boundary.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from ledger.audit.db import open_audit_db
from ledger.audit.keys import KeyConfig
from ledger.audit.service import AuditService
from ledger.audit.verify import VerifyReport, verify_ledger
from ledger.audit.verify_chains import (
    MAX_POSITION,
    ChainRange,
    check_chains,
    check_range,
    split,
)
from ledger.store import RecordedEvent
from ledger.store.chain import GENESIS, record_hash

from . import tamper
from .helpers import opened, raw_many
from .test_verify import populate

# Ranges over the 334-event ledger of ``populate``: three (boundaries after 111 and 222) and two
# child processes (boundary after 167).
MODES: dict[str, dict[str, int]] = {
    "one range": {"workers": 0, "ranges": 1},
    "three ranges": {"workers": 0, "ranges": 3},
    "two processes": {"workers": 2},
}
SERIAL = {"workers": 0, "ranges": 0}

ODD_TOPICS = [
    "ledger.Registered",
    "",
    'quote"in',
    "back\\slash",
    "tab\tnew\nline\rcr",
    "ctl\x01\x08\x0c\x1f\x7f",
    "汉字·社会保险费",
    "emoji 🎉 𝄞",
    "\u2028\u2029 separators",
    "</script>&<>'",
    "\u00e9\u0301 combining",
    "\ufeff bom",
]
MICROS = [0, 1, 10, 100000, 120000, 123450, 123456, 999999, 500]


def _odd_topic(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(ODD_TOPICS)
    pool = [chr(c) for c in range(1, 0x250)] + ["\u4e2d", "\U0001f600", "\uffff", "\U0010ffff"]
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))


def odd_log(n: int, seed: int = 7) -> list[RecordedEvent]:
    """A chained log of ``n`` events with odd topics, payloads and times (never going back)."""
    rng = random.Random(seed)
    cases = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(max(1, n // 6))]
    tips: dict[uuid.UUID, tuple[int, bytes]] = {}
    when = [
        datetime(1, 1, 1, 0, 0, 0, 5, UTC),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
    ]
    moment = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    while len(when) < n:
        moment += timedelta(seconds=rng.choice([0, 0, 1, 3600, 86400 * 40]))
        when.append(moment.replace(microsecond=rng.choice(MICROS)))
    when.sort()
    events = []
    for position in range(1, n + 1):
        case = rng.choice(cases)
        version, prev = tips.get(case, (0, GENESIS))
        event = RecordedEvent(
            position,
            case,
            version + 1,
            _odd_topic(rng),
            rng.randbytes(rng.randint(0, 600)),
            rng.choice([b"", b"{}", rng.randbytes(rng.randint(1, 80))]),
            when[position - 1],
            prev,
            GENESIS,
        )
        event = msgspec.structs.replace(event, hash=record_hash(event))
        tips[case] = (version + 1, event.hash)
        events.append(event)
    return events


async def load(url: str, events: list[RecordedEvent]) -> None:
    """The events into a fresh store's tables, with the Merkle tree built over them."""
    store = await opened(url)
    await store.close()
    await raw_many(
        url,
        "INSERT INTO ledger_events (position, case_id, version, topic, state, metadata, "
        "recorded_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [tamper._row(url, e) for e in events],
    )
    await tamper.raw_sql(url, "UPDATE ledger_head SET position = $1", len(events))
    await tamper.rebuild_tree(url)


async def test_fast_bytes_are_the_canonical_bytes_on_odd_content(postgres_url: str) -> None:
    events = odd_log(600)
    for e in events:  # the log itself is made by the reference encoding
        assert record_hash(e) == e.hash
    await load(postgres_url, events)
    pool = await asyncpg.create_pool(postgres_url, min_size=2, max_size=2)
    try:
        part = await check_range(pool, ChainRange(0, MAX_POSITION, True), batch=97)
    finally:
        await pool.close()
    assert (part.rows, part.faults, part.rechecked) == (600, [], 0)  # no row needed the slow path
    store = await opened(postgres_url)
    try:
        for options in [SERIAL, *MODES.values()]:
            report = await verify_ledger(store, open_audit_db(store), None, **options)
            assert report.ok, (options, report.faults[:3])
            assert report.events_checked == 600
    finally:
        await store.close()


def test_split_covers_every_position_once() -> None:
    assert split(334, 3) == [
        ChainRange(0, 111, True),
        ChainRange(111, 222, False),
        ChainRange(222, MAX_POSITION, False),
    ]
    assert split(1, 2) == [ChainRange(0, MAX_POSITION, True)]
    assert split(0, 2) == [ChainRange(0, MAX_POSITION, True)]


# -- tampering, with faults at and around the range boundaries -------------------------------------

Tamper = Callable[[str, list[RecordedEvent]], Awaitable[None]]


def _entering(events: list[RecordedEvent], after: int) -> RecordedEvent:
    """The first event after position ``after`` whose case has events at or before ``after``."""
    before = {e.case_id for e in events if e.position <= after}
    return next(e for e in events if e.position > after and e.case_id in before)


async def _flip_state(url: str, events: list[RecordedEvent], at: int) -> None:
    state = events[at - 1].state
    await tamper.update_event(url, at, state=state[:3] + bytes([state[3] ^ 1]) + state[4:])


async def _relink_entering(url: str, events: list[RecordedEvent]) -> None:
    """A case crossing the boundary after 111 gets a forged prev_hash (link + hash faults)."""
    await tamper.update_event(url, _entering(events, 111).position, prev_hash=b"\x11" * 32)


async def _renumber_entering(url: str, events: list[RecordedEvent]) -> None:
    """A case crossing the boundary after 167 skips a version there (version + hash faults)."""
    await tamper.update_event(url, _entering(events, 167).position, version=77)


async def _rechain_entering(url: str, events: list[RecordedEvent]) -> None:
    """The entering event's content changed and its own hash recomputed: link holds, the next
    event of its case no longer links (and the Merkle leaf differs)."""
    e = _entering(events, 222)
    forged = msgspec.structs.replace(e, state=b'{"forged":true}')
    forged = msgspec.structs.replace(forged, hash=record_hash(forged))
    await tamper.update_event(url, e.position, state=forged.state, hash=forged.hash)


async def _first_version_in_later_range(url: str, events: list[RecordedEvent]) -> None:
    """A case that starts after the boundary gets version 0 for its first event."""
    started = {e.case_id for e in events if e.position <= 111}
    e = next(e for e in events if e.position > 111 and e.case_id not in started)
    await tamper.update_event(url, e.position, version=0)


async def _time_back_at_boundary(url: str, events: list[RecordedEvent]) -> None:
    await tamper.update_event(url, 112, recorded_at=events[0].recorded_at - timedelta(days=1))


async def _time_forward_before_boundary(url: str, events: list[RecordedEvent]) -> None:
    later = events[-1].recorded_at + timedelta(days=1)
    await tamper.update_event(url, 167, recorded_at=later)


async def _delete(url: str, positions: tuple[int, ...]) -> None:
    await tamper.delete_events(url, *positions)


async def _many_faults(url: str, events: list[RecordedEvent]) -> None:
    """More than twice ``max_faults``: every report stops early, with the same first faults."""
    for e in events[100:330]:
        await tamper.update_event(url, e.position, metadata=e.metadata + b" ")


TAMPERS: dict[str, Tamper] = {
    "payload at 111": lambda url, ev: _flip_state(url, ev, 111),
    "payload at 112": lambda url, ev: _flip_state(url, ev, 112),
    "payload at 167 and 168": lambda url, ev: _many(
        _flip_state(url, ev, 167), _flip_state(url, ev, 168)
    ),
    "payload at 223": lambda url, ev: _flip_state(url, ev, 223),
    "forged link entering a range": _relink_entering,
    "version skipped entering a range": _renumber_entering,
    "rechained event entering a range": _rechain_entering,
    "case starting at version 0 in a later range": _first_version_in_later_range,
    "time back at 112": _time_back_at_boundary,
    "time forward at 167": _time_forward_before_boundary,
    "deleted 112": lambda url, ev: _delete(url, (112,)),
    "deleted 111 and 112": lambda url, ev: _delete(url, (111, 112)),
    "deleted the last events": lambda url, ev: _delete(url, (333, 334)),
    "swapped 111 and 112": lambda url, ev: tamper.swap_positions(url, 111, 112),
    "swapped 50 and 250": lambda url, ev: tamper.swap_positions(url, 50, 250),
    "forged event inserted": lambda url, ev: _insert_forged(url, ev),
    "many faults": _many_faults,
}


async def _many(*steps: Awaitable[None]) -> None:
    for step in steps:
        await step


async def _insert_forged(url: str, events: list[RecordedEvent]) -> None:
    e = _entering(events, 167)
    await tamper.insert_forged_event(url, e.case_id, e.version, "ledger.Closed", b'{"f":1}')


def _comparable(report: VerifyReport) -> dict[str, Any]:
    out = msgspec.structs.asdict(report)
    del out["seconds"]
    if report.faults_truncated:  # the serial walk stops reading there, the split passes later
        del out["events_checked"], out["log_size"]
    return out


@pytest.mark.parametrize("how", list(TAMPERS))
async def test_every_split_reports_what_the_serial_walk_reports(
    postgres_url: str, key_config: KeyConfig, tmp_path: Path, how: str
) -> None:
    await populate(postgres_url, key_config, tmp_path)
    await TAMPERS[how](postgres_url, await tamper.all_events(postgres_url))
    service = await AuditService.open(postgres_url, key_config, signing=False)
    try:
        serial = await service.verify(**SERIAL)
        assert not serial.ok
        for name, options in MODES.items():
            report = await service.verify(**options)
            assert _comparable(report) == _comparable(serial), name
        assert serial.faults_truncated or how != "many faults"
    finally:
        await service.close()


@pytest.mark.parametrize("name", list(MODES))
async def test_progress_counts_an_event_once_both_passes_checked_it(
    postgres_url: str, key_config: KeyConfig, tmp_path: Path, name: str
) -> None:
    """The chain pass reports its rows (from child processes, on their error output) and the
    verifier reports, page by page, the fewer of the two passes' counts: rising, ending at the
    whole log, and the report is the same as without a callback."""
    await populate(postgres_url, key_config, tmp_path)
    service = await AuditService.open(postgres_url, key_config, signing=False)
    try:
        seen: list[tuple[int, int]] = []
        with_progress = await service.verify(
            lambda done, total: seen.append((done, total)), **MODES[name]
        )
        without = await service.verify(**MODES[name])
    finally:
        await service.close()
    assert with_progress.ok
    assert _comparable(with_progress) == _comparable(without)
    assert seen[0] == (0, 334)  # nothing counts before the chain pass has checked it
    assert seen[-1] == (334, 334)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


async def test_child_processes_report_their_rows_as_they_go(postgres_url: str) -> None:
    await load(postgres_url, odd_log(300))
    store = await opened(postgres_url)
    db = open_audit_db(store)
    try:
        rows: list[int] = []
        parts = await check_chains(
            getattr(db, "pool"),  # noqa: B009
            postgres_url,
            300,
            workers=2,
            batch=50,
            progress=rows.append,
        )
    finally:
        await store.close()
    assert sum(part.rows for part in parts) == 300
    assert rows[-1] == 300
    assert len(rows) >= 6  # a line per page of 50, from each of the two processes
    assert rows == sorted(rows)
