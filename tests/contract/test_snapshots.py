"""Snapshots: a cache beside the log, handed back only bound to the log and intact."""

from __future__ import annotations

from uuid import UUID, uuid4

from ledger.store.port import EventStore, RecordedEvent, Snapshot

from .conftest import StoreFactory
from .support import new_events, raw_execute

TOPIC = "test.Case@1"


async def _case(store: EventStore, events: int = 6) -> tuple[UUID, list[RecordedEvent]]:
    case = uuid4()
    for version in range(events):  # one event per append, as commands come
        await store.append(case, version, new_events(case, version))
    return case, await store.read_case(case)


async def _keep(store: EventStore, records: list[RecordedEvent], version: int) -> None:
    record = records[version - 1]
    await store.save_snapshot(
        record.case_id, version, TOPIC, f"state at {version}".encode(), record.hash
    )


async def test_no_snapshot(store: EventStore) -> None:
    assert await store.latest_snapshot(uuid4(), TOPIC) is None
    case, _ = await _case(store)
    assert await store.latest_snapshot(case, TOPIC) is None
    assert await store.latest_snapshot(case, TOPIC, at_most_version=6) is None


async def test_the_newest_at_or_below_a_version_of_the_topic_asked(store: EventStore) -> None:
    case, records = await _case(store)
    for version in (2, 4, 6):
        await _keep(store, records, version)
    other, other_records = await _case(store, 3)
    await _keep(store, other_records, 3)

    latest = await store.latest_snapshot(case, TOPIC)
    assert latest == Snapshot(
        case_id=case, version=6, topic=TOPIC, state=b"state at 6", event_hash=records[5].hash
    )
    assert isinstance(latest.state, bytes)
    assert isinstance(latest.event_hash, bytes)
    versions = {}
    for at_most in range(8):
        snapshot = await store.latest_snapshot(case, TOPIC, at_most_version=at_most)
        versions[at_most] = None if snapshot is None else snapshot.version
    assert versions == {0: None, 1: None, 2: 2, 3: 2, 4: 4, 5: 4, 6: 6, 7: 6}
    assert await store.latest_snapshot(case, "test.Case@2") is None  # another code's
    other_latest = await store.latest_snapshot(other, TOPIC)
    assert other_latest is not None
    assert (other_latest.case_id, other_latest.version) == (other, 3)


async def test_saving_at_a_version_again_replaces_it(store: EventStore) -> None:
    case, records = await _case(store, 2)
    await _keep(store, records, 2)
    await store.save_snapshot(case, 2, TOPIC, b"taken again", records[1].hash)
    again = await store.latest_snapshot(case, TOPIC)
    assert again is not None
    assert again.state == b"taken again"


async def test_snapshots_of_other_topics_at_a_version_are_kept_beside_it(
    store: EventStore,
) -> None:
    case, records = await _case(store, 2)
    await _keep(store, records, 2)
    await store.save_snapshot(case, 2, "test.Case@2:view", b"the view", records[1].hash)
    kept, view = (
        await store.latest_snapshot(case, TOPIC),
        await store.latest_snapshot(case, "test.Case@2:view"),
    )
    assert kept is not None
    assert view is not None
    assert (kept.version, view.version, view.state) == (2, 2, b"the view")


async def test_only_snapshots_bound_to_the_log_come_back(store: EventStore) -> None:
    case, records = await _case(store)
    await _keep(store, records, 2)
    await store.save_snapshot(case, 4, TOPIC, b"taken at another hash", bytes(32))
    await store.save_snapshot(case, 5, TOPIC, b"the hash of version 4", records[3].hash)
    await store.save_snapshot(case, 9, TOPIC, b"no event at 9", records[5].hash)
    other, _ = await _case(store, 6)  # another case's event at version 6 does not bind it
    await store.save_snapshot(other, 6, TOPIC, b"this case's hash", records[5].hash)
    latest = await store.latest_snapshot(case, TOPIC)
    assert latest is not None
    assert latest.version == 2
    assert await store.latest_snapshot(other, TOPIC) is None


async def test_a_snapshot_altered_behind_the_stores_back_is_skipped(
    store: EventStore, database_url: str
) -> None:
    case, records = await _case(store)
    for version in (2, 4, 6):
        await _keep(store, records, version)
    # Version 6 now holds version 4's (well-formed) state, version 4 a renamed topic; neither
    # digest was recomputed.
    await raw_execute(
        database_url,
        "UPDATE ledger_snapshots SET state = (SELECT s.state FROM ledger_snapshots s"
        f" WHERE s.case_id = '{case}' AND s.version = 4)"
        f" WHERE case_id = '{case}' AND version = 6",
    )
    await raw_execute(
        database_url,
        f"UPDATE ledger_snapshots SET topic = 'test.Forged' WHERE case_id = '{case}'"
        " AND version = 4",
    )
    latest = await store.latest_snapshot(case, TOPIC)
    assert latest is not None
    assert (latest.version, latest.state) == (2, b"state at 2")
    assert await store.latest_snapshot(case, "test.Forged") is None


async def test_an_altered_event_unbinds_its_snapshot(store: EventStore, database_url: str) -> None:
    case, records = await _case(store)
    for version in (2, 4):
        await _keep(store, records, version)
    await raw_execute(
        database_url,
        f"UPDATE ledger_events SET hash = prev_hash WHERE case_id = '{case}' AND version = 4",
    )
    latest = await store.latest_snapshot(case, TOPIC)
    assert latest is not None
    assert latest.version == 2


async def test_read_case_after_a_version(store: EventStore) -> None:
    case, records = await _case(store)
    assert await store.read_case(case, after_version=0) == records
    assert [r.version for r in await store.read_case(case, after_version=4)] == [5, 6]
    assert [r.version for r in await store.read_case(case, after_version=2, to_version=4)] == [
        3,
        4,
    ]
    assert await store.read_case(case, after_version=6) == []
    assert await store.read_case(case, after_version=4, to_version=3) == []
    stamp = records[3].recorded_at
    expected = [r.version for r in records[2:] if r.recorded_at <= stamp]  # 3, 4 (+ equal stamps)
    assert [r.version for r in await store.read_case(case, after_version=2, as_of=stamp)] == (
        expected
    )


async def test_snapshots_outlive_the_store_and_open_is_idempotent(
    make_store: StoreFactory,
) -> None:
    first = await make_store()
    case, records = await _case(first, 3)
    await _keep(first, records, 3)
    await first.close()
    second = await make_store()
    third = await make_store()  # creating the tables again changes nothing
    for store in (second, third):
        snapshot = await store.latest_snapshot(case, TOPIC)
        assert snapshot is not None
        assert snapshot.state == b"state at 3"


async def test_a_snapshot_table_of_the_previous_layout_is_made_anew_at_start(
    database_url: str, make_store: StoreFactory
) -> None:
    """Before, a case version held one snapshot of any topic; now one of each topic. The table is
    a cache: the store drops the old layout at start and makes the new one, the log untouched."""
    blob = "BLOB" if database_url.startswith("sqlite") else "BYTEA"
    case_type = "TEXT" if database_url.startswith("sqlite") else "UUID"
    await raw_execute(
        database_url,
        f"CREATE TABLE ledger_snapshots (case_id {case_type} NOT NULL, version INTEGER NOT NULL, "
        f"topic TEXT NOT NULL, state {blob} NOT NULL, event_hash {blob} NOT NULL, "
        f"digest {blob} NOT NULL, PRIMARY KEY (case_id, version))",
    )
    store = await make_store()
    case, records = await _case(store, 2)
    await _keep(store, records, 2)
    await store.save_snapshot(case, 2, "test.Case@1:view", b"the view", records[1].hash)
    kept = await store.latest_snapshot(case, TOPIC)
    assert kept is not None
    assert kept.state == b"state at 2"
    again = await make_store()  # a second start keeps what the first one made
    assert await again.latest_snapshot(case, "test.Case@1:view") is not None
