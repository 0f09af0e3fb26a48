"""Snapshots in the service: loads from them equal full folds, and a bad one is never trusted.

On both stores. The write path keeps a snapshot every ``snapshot_every`` events; ``load`` and
``replay`` start from the newest usable one and fold only the events after it. Whatever is wrong
with a snapshot — altered bytes, a forged or foreign state, another event hash, another code's
fingerprint, a store that cannot keep or read them — costs a longer fold, never a wrong state or a
failed command.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from ledger import demo, snapshots
from ledger.bootstrap import open_ledger
from ledger.cli import main
from ledger.config import Settings
from ledger.demo import PATHS, load_demo
from ledger.domain.dispute import Dispute
from ledger.projections.caseview import fold_case
from ledger.service import CaseNotFound, LedgerService
from ledger.store.codec import default_mapper
from ledger.store.port import EventStore, RecordedEvent, Snapshot
from tests.contract.support import raw_execute

EVERY = 5
LONG = 43  # events of the long case: snapshots at 5, 10, … 40, three events after the last
MAPPER = default_mapper()


KEY = b"the ledger's snapshot key, 32 b."


class Counting(LedgerService):
    """Counts the events it decodes, to see how much of a case a read folded."""

    decoded = 0

    def __init__(self, store: EventStore, *, snapshot_key: bytes | None = KEY, **kw: Any) -> None:
        super().__init__(store, snapshot_key=snapshot_key, **kw)
        decode = self.cases.decode

        def counted(record: RecordedEvent) -> Any:
            self.decoded += 1
            return decode(record)

        self.cases.decode = counted  # type: ignore[method-assign]


def full_fold(records: list[RecordedEvent]) -> dict[str, Any]:
    """The state of the events folded one by one from nothing: what every read must equal."""
    case: Dispute | None = None
    for record in records:
        case = MAPPER.from_record(record).mutate(case)  # type: ignore[attr-defined]
    assert case is not None
    return vars(case)


async def long_case(service: LedgerService, events: int = LONG) -> UUID:
    """One case of exactly ``events`` events through the service, one event per command."""
    return await demo.long_case(service, events, seed=5)


async def _loads_equal_full_folds(service: Counting, case_id: UUID) -> list[RecordedEvent]:
    """Every way of reading ``case_id`` gives the full fold's state; returns its records."""
    records = await service.history(case_id)
    for version in range(1, len(records) + 1):
        expected = full_fold(records[:version])
        assert vars(await service.load(case_id, to_version=version)) == expected, version
        got_records, state = await service.replay(case_id, to_version=version)
        assert got_records == records[:version]
        assert vars(state) == expected, version
    expected = full_fold(records)
    assert vars(await service.load(case_id)) == expected
    got_records, state = await service.replay(case_id)
    assert (got_records, vars(state)) == (records, expected)
    for record in records[:: max(1, len(records) // 4)]:  # as of moments: by recorded_at
        at = [r for r in records if r.recorded_at <= record.recorded_at]
        assert vars(await service.load(case_id, as_of=record.recorded_at)) == full_fold(at)
        got_records, state = await service.replay(case_id, as_of=record.recorded_at)
        assert (got_records, vars(state)) == (at, full_fold(at))
    return records


async def test_the_write_path_keeps_a_snapshot_every_n_events(store: EventStore) -> None:
    service = Counting(store, snapshot_every=EVERY)
    case_id = await long_case(service)
    kept = []
    for version in range(0, LONG + 1):
        snapshot = await store.latest_snapshot(case_id, snapshots.TOPIC, version)
        kept.append(None if snapshot is None else snapshot.version)
    assert kept == [None] * EVERY + [v - v % EVERY for v in range(EVERY, LONG + 1)]
    snapshot = await store.latest_snapshot(case_id, snapshots.TOPIC)
    assert snapshot is not None
    records = await service.history(case_id)
    state = snapshots.unseal(
        KEY, case_id, snapshot.version, snapshots.TOPIC, snapshot.state, snapshot.event_hash
    )
    assert state is not None
    assert vars(snapshots.decode(state)) == full_fold(records[: snapshot.version])
    # Beside it, the case's projection state at the same version, for the write path.
    view = await store.latest_snapshot(case_id, snapshots.VIEW_TOPIC)
    assert view is not None
    assert (view.version, view.event_hash) == (snapshot.version, snapshot.event_hash)
    view_state = snapshots.unseal(
        KEY, case_id, view.version, snapshots.VIEW_TOPIC, view.state, view.event_hash
    )
    assert view_state is not None
    expected = fold_case(records[: snapshot.version], service.context)
    assert snapshots.decode_view(view_state) == expected


async def test_loads_from_snapshots_equal_full_folds_at_every_version(store: EventStore) -> None:
    service = Counting(store, snapshot_every=EVERY)
    case_id = await long_case(service)
    await _loads_equal_full_folds(service, case_id)

    service.decoded = 0
    await service.load(case_id)
    assert service.decoded == LONG % EVERY  # from the snapshot at 40: only 41, 42, 43
    service.decoded = 0
    await service.load(case_id, to_version=37)
    assert service.decoded == 2
    service.decoded = 0
    await service.replay(case_id)
    assert service.decoded == LONG % EVERY


async def test_a_load_for_a_write_looks_for_a_snapshot_only_where_one_can_be(
    store: EventStore,
) -> None:
    service = Counting(store, snapshot_every=EVERY)
    case_id = await long_case(service)
    service.decoded = 0
    await service.cases.read(case_id, expected_version=LONG)
    assert service.decoded == LONG % EVERY  # from the snapshot at 40
    # A version below the first snapshot's: the whole history, no lookup. A client that
    # believed so of this long case gets the true state, read the long way (then a conflict).
    lookups = []
    real = store.latest_snapshot

    async def counted(*args: Any, **kwargs: Any) -> Snapshot | None:
        lookups.append(args)
        return await real(*args, **kwargs)

    store.latest_snapshot = counted  # type: ignore[method-assign]
    service.decoded = 0
    loaded = await service.cases.read(case_id, expected_version=EVERY - 1)
    assert (lookups, service.decoded) == ([], LONG)
    assert vars(loaded.case) == full_fold(await service.history(case_id))
    assert loaded.view(service.context) == fold_case(
        await service.history(case_id), service.context
    )
    await service.cases.read(case_id, expected_version=EVERY)
    # One lookup of each kind, together: the case's and its projection state's.
    assert sorted(topic for _, topic, _ in lookups) == sorted(
        [snapshots.TOPIC, snapshots.VIEW_TOPIC]
    )


async def test_every_demo_path_loads_from_snapshots_as_it_folds(store: EventStore) -> None:
    service = Counting(store, snapshot_every=2)  # most demo cases are short
    await load_demo(service, cases=len(PATHS), seed=3)
    # The cases (the log also holds the demo's meeting, its own aggregate).
    registered = [r.case_id async for r in store.iter_log() if r.topic == "ledger.Registered"]
    cases = list(dict.fromkeys(registered))
    assert len(cases) >= len(PATHS)
    for case_id in cases:
        await _loads_equal_full_folds(service, case_id)


async def _tampered(service: Counting, case_id: UUID, folded_at_most: int) -> None:
    """Reads still give the full fold, folding at most ``folded_at_most`` events."""
    records = await service.history(case_id)
    expected = full_fold(records)
    service.decoded = 0
    assert vars(await service.load(case_id)) == expected
    assert service.decoded <= folded_at_most
    service.decoded = 0
    _, state = await service.replay(case_id)
    assert vars(state) == expected
    assert service.decoded <= folded_at_most
    assert vars(await service.load(case_id, to_version=LONG)) == expected


@pytest.fixture
async def long(store: EventStore) -> tuple[Counting, UUID, list[RecordedEvent]]:
    service = Counting(store, snapshot_every=EVERY)
    case_id = await long_case(service)
    return service, case_id, await service.history(case_id)


async def test_altered_state_bytes_are_ignored(
    long: tuple[Counting, UUID, list[RecordedEvent]], database_url: str
) -> None:
    service, case_id, _ = long
    # The snapshot at 40 now holds the (well-formed) state of 35; its digest no longer matches.
    await raw_execute(
        database_url,
        "UPDATE ledger_snapshots SET state = (SELECT s.state FROM ledger_snapshots s"
        f" WHERE s.case_id = '{case_id}' AND s.version = 35 AND s.topic = '{snapshots.TOPIC}')"
        f" WHERE case_id = '{case_id}' AND version = 40 AND topic = '{snapshots.TOPIC}'",
    )
    await _tampered(service, case_id, folded_at_most=LONG - 35)


async def test_a_forged_state_with_a_valid_digest_is_ignored(
    long: tuple[Counting, UUID, list[RecordedEvent]], store: EventStore
) -> None:
    service, case_id, records = long
    older = await store.latest_snapshot(case_id, snapshots.TOPIC, 35)
    assert older is not None
    # Sealed by the store, bound to the log's hash at 40, but the state is the one of 35.
    await store.save_snapshot(case_id, 40, snapshots.TOPIC, older.state, records[39].hash)
    await _tampered(service, case_id, folded_at_most=LONG - 35)
    # And ones that do not even decode into a Dispute: the one before them is used.
    await store.save_snapshot(case_id, 40, snapshots.TOPIC, b'{"_id": 1}', records[39].hash)
    await store.save_snapshot(case_id, 35, snapshots.TOPIC, b"not json", records[34].hash)
    await _tampered(service, case_id, folded_at_most=LONG - 30)
    # Past a few bad ones, the case is folded from the start.
    await store.save_snapshot(case_id, 30, snapshots.TOPIC, b"[]", records[29].hash)
    await _tampered(service, case_id, folded_at_most=LONG)


async def test_a_consistent_state_forged_without_the_key_is_ignored(
    long: tuple[Counting, UUID, list[RecordedEvent]], store: EventStore
) -> None:
    """Someone who can write the database but lacks the key: the snapshot they plant holds the
    case at its version, bound to the log, with the store's digest right — and a different
    state (here: the case closed). Commands must never be decided on it."""
    service, case_id, records = long
    snapshot = await store.latest_snapshot(case_id, snapshots.TOPIC, 40)
    assert snapshot is not None
    state = snapshots.unseal(KEY, case_id, 40, snapshots.TOPIC, snapshot.state, records[39].hash)
    assert state is not None
    forged_case = snapshots.decode(state)
    forged_case.__dict__["closed"] = True
    forged = snapshots.encode(forged_case)
    for key in (b"a key the attacker made up......", b""):
        planted = snapshots.seal(key, case_id, 40, snapshots.TOPIC, forged, records[39].hash)
        await store.save_snapshot(case_id, 40, snapshots.TOPIC, planted, records[39].hash)
        await _tampered(service, case_id, folded_at_most=LONG - 35)
    await store.save_snapshot(case_id, 40, snapshots.TOPIC, forged, records[39].hash)  # unsealed
    await _tampered(service, case_id, folded_at_most=LONG - 35)
    # Sealed with the key, the same bytes would be trusted: the key is what stands in the way.
    sealed = snapshots.seal(KEY, case_id, 40, snapshots.TOPIC, forged, records[39].hash)
    await store.save_snapshot(case_id, 40, snapshots.TOPIC, sealed, records[39].hash)
    assert (await service.load(case_id, to_version=40)).closed


async def test_a_service_without_the_key_keeps_and_trusts_no_snapshots(
    long: tuple[Counting, UUID, list[RecordedEvent]], store: EventStore
) -> None:
    _, case_id, records = long
    keyless = Counting(store, snapshot_key=None, snapshot_every=EVERY)
    keyless.decoded = 0
    assert vars(await keyless.load(case_id)) == full_fold(records)
    assert keyless.decoded == LONG
    other = Counting(store, snapshot_key=b"another deployment's key", snapshot_every=EVERY)
    other.decoded = 0
    assert vars(await other.load(case_id)) == full_fold(records)
    assert other.decoded == LONG
    fresh = await long_case(keyless, 12)
    assert await store.latest_snapshot(fresh, snapshots.TOPIC) is None


async def test_a_snapshot_at_another_event_hash_is_ignored(
    long: tuple[Counting, UUID, list[RecordedEvent]], store: EventStore
) -> None:
    service, case_id, records = long
    state = (await store.latest_snapshot(case_id, snapshots.TOPIC, 40)).state  # type: ignore[union-attr]
    await store.save_snapshot(case_id, 40, snapshots.TOPIC, state, records[38].hash)
    await _tampered(service, case_id, folded_at_most=LONG - 35)


async def test_replay_checks_the_snapshot_against_the_records_it_read(
    long: tuple[Counting, UUID, list[RecordedEvent]],
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, case_id, _ = long
    real = store.latest_snapshot

    async def unbound(case: UUID, topic: str, at_most_version: int | None = None) -> Any:
        snapshot = await real(case, topic, at_most_version)
        assert snapshot is not None
        return Snapshot(
            case_id=snapshot.case_id,
            version=snapshot.version,
            topic=snapshot.topic,
            state=snapshot.state,
            event_hash=bytes(32),  # as if the store had not checked it
        )

    monkeypatch.setattr(store, "latest_snapshot", unbound)
    service.decoded = 0
    records, state = await service.replay(case_id)
    assert vars(state) == full_fold(records)
    assert service.decoded == LONG  # folded from the start


async def test_another_codes_snapshots_are_ignored(
    long: tuple[Counting, UUID, list[RecordedEvent]],
    store: EventStore,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, case_id, _ = long
    await raw_execute(
        database_url,
        f"UPDATE ledger_snapshots SET topic = 'ledger.Dispute@0:old' WHERE case_id = '{case_id}'"
        f" AND version = 40 AND topic = '{snapshots.TOPIC}'",
    )  # digest not recomputed either, but the topic alone excludes it
    await _tampered(service, case_id, folded_at_most=LONG - 35)

    # The code changed (another fingerprint): every snapshot kept so far is someone else's.
    monkeypatch.setattr(snapshots, "TOPIC", snapshots.TOPIC + "-next")
    await _tampered(service, case_id, folded_at_most=LONG)
    # … until the new code keeps its own.
    assert await service.snapshot(case_id) == LONG // EVERY
    await _tampered(service, case_id, folded_at_most=LONG % EVERY)


async def test_a_failing_snapshot_write_never_fails_the_command(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Counting(store, snapshot_every=EVERY)
    attempts = 0

    async def broken(*args: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "save_snapshot", broken)
    case_id = await long_case(service, 12)
    assert attempts == 2  # at 5 and 10, both failed, both commands recorded
    records = await service.history(case_id)
    assert len(records) == 12
    monkeypatch.undo()
    assert await store.latest_snapshot(case_id, snapshots.TOPIC) is None
    assert vars(await service.load(case_id)) == full_fold(records)


async def test_a_state_that_cannot_be_snapshotted_never_fails_the_command(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Counting(store, snapshot_every=EVERY)

    def refuse(case: Dispute) -> bytes:
        raise snapshots.SnapshotMismatch("an attribute DisputeState does not declare")

    monkeypatch.setattr(snapshots, "encode", refuse)
    case_id = await long_case(service, 11)
    assert await store.latest_snapshot(case_id, snapshots.TOPIC) is None
    assert (await service.load(case_id)).version == 11


async def test_a_failing_snapshot_read_falls_back_to_the_events(
    long: tuple[Counting, UUID, list[RecordedEvent]],
    store: EventStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, case_id, _ = long

    async def down(*args: Any) -> None:
        raise ConnectionError("snapshot table unreachable")

    monkeypatch.setattr(store, "latest_snapshot", down)
    await _tampered(service, case_id, folded_at_most=LONG)


async def test_snapshots_off(store: EventStore) -> None:
    service = Counting(store, snapshot_every=0)
    case_id = await long_case(service, 12)
    assert await store.latest_snapshot(case_id, snapshots.TOPIC) is None
    assert await service.snapshot(case_id) == 0
    service.decoded = 0
    assert (await service.load(case_id)).version == 12
    assert service.decoded == 12


async def test_snapshots_for_a_case_stored_without_them(store: EventStore) -> None:
    writer = Counting(store, snapshot_every=0)
    case_id = await long_case(writer, 23)
    reader = Counting(store, snapshot_every=EVERY)
    assert await reader.snapshot(case_id) == 4
    assert await reader.snapshot(case_id) == 4  # idempotent
    reader.decoded = 0
    records, state = await reader.replay(case_id)
    assert reader.decoded == 3
    assert vars(state) == full_fold(records)


async def test_refresh_rewrites_only_the_snapshots_this_ledger_cannot_use(
    store: EventStore,
) -> None:
    """After a new key (a new token secret): the long cases' snapshots are rewritten once, and
    reads start from them again; short cases and cases already fine are left alone."""
    old = Counting(store, snapshot_every=EVERY)
    long_ids = [await long_case(old, 23), await long_case(old, 12)]
    short = await long_case(old, EVERY - 1)
    new = Counting(store, snapshot_key=b"the next deployment's key, 32 b", snapshot_every=EVERY)
    done = await new.refresh_snapshots()
    assert (done.cases, done.refreshed, done.snapshots) == (2, 2, 4 + 2)
    for case_id in long_ids:
        new.decoded = 0
        state = await new.load(case_id)
        assert new.decoded == state.version % EVERY
    new.decoded = 0
    assert (await new.load(short)).version == EVERY - 1
    assert new.decoded == EVERY - 1
    # Nothing left to do; a damaged newest snapshot is found and only its case rewritten.
    assert (await new.refresh_snapshots()).refreshed == 0
    damaged = await store.latest_snapshot(long_ids[0], snapshots.TOPIC)
    assert damaged is not None
    forged = snapshots.seal(
        b"a key nobody holds, 32 bytes ...",
        long_ids[0],
        damaged.version,
        snapshots.TOPIC,
        snapshots.unseal(
            new.cases.snapshot_key,
            long_ids[0],
            damaged.version,
            snapshots.TOPIC,
            damaged.state,
            damaged.event_hash,
        )
        or b"",
        damaged.event_hash,
    )
    await store.save_snapshot(
        long_ids[0], damaged.version, snapshots.TOPIC, forged, damaged.event_hash
    )
    done = await new.refresh_snapshots()
    assert (done.cases, done.refreshed, done.snapshots) == (2, 1, 4)
    assert (await new.refresh_snapshots()).refreshed == 0


async def test_an_unknown_case_is_still_not_found(store: EventStore) -> None:
    service = Counting(store, snapshot_every=EVERY)
    unknown = UUID(int=7)
    with pytest.raises(CaseNotFound):
        await service.load(unknown)
    with pytest.raises(CaseNotFound):
        await service.replay(unknown)
    with pytest.raises(CaseNotFound):
        await service.snapshot(unknown)


def test_the_refresh_command_after_a_new_token_secret(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def one_long_case() -> None:
        settings = Settings(database_url=sqlite_url, jwt_secret="the first secret" * 2)
        async with open_ledger(settings) as ledger:
            await long_case(ledger.service, 130)  # a snapshot at 100

    asyncio.run(one_long_case())
    monkeypatch.setenv("LEDGER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LEDGER_JWT_SECRET", "the second secret" * 2)
    assert main(["snapshots", "refresh"]) == 0
    assert capsys.readouterr().out == (
        "cases of 100 events or more: 1; with a snapshot missing or unusable: 1; "
        "snapshots written: 1\n"
    )
    assert main(["snapshots", "refresh"]) == 0
    assert "or unusable: 0; snapshots written: 0" in capsys.readouterr().out
