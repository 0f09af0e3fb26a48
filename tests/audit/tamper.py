"""What an intruder with write access to the database can do, in raw SQL, to both dialects."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from ledger.audit.checkpoints import Checkpoint, sign_checkpoint
from ledger.audit.keys import Signer
from ledger.audit.log_hook import bulk_runs
from ledger.audit.merkle import CompactRange, fold, leaf_hash, node_pos, range_nodes
from ledger.store import RecordedEvent, open_store
from ledger.store.chain import GENESIS, record_hash
from ledger.store.sqlite import to_micros

from .helpers import raw_many, raw_script, raw_sql

APPEND_ONLY = ("ledger_merkle_nodes", "ledger_checkpoints", "ledger_cosignatures")


def sqlite(url: str) -> bool:
    return url.startswith("sqlite")


async def all_events(url: str) -> list[RecordedEvent]:
    store = open_store(url)
    await store.open()
    try:
        return [r async for r in store.iter_log()]
    finally:
        await store.close()


def _row(url: str, r: RecordedEvent) -> tuple[Any, ...]:
    case: Any = str(r.case_id) if sqlite(url) else r.case_id
    when: Any = to_micros(r.recorded_at) if sqlite(url) else r.recorded_at
    return (r.position, case, r.version, r.topic, r.state, r.metadata, when, r.prev_hash, r.hash)


async def disable_append_only(url: str) -> None:
    if sqlite(url):
        await raw_script(
            url,
            "".join(
                f"DROP TRIGGER IF EXISTS {t}_no_{op};"
                for t in APPEND_ONLY
                for op in ("update", "delete")
            ),
        )
    else:
        await raw_script(
            url, "".join(f"ALTER TABLE {t} DISABLE TRIGGER USER;" for t in APPEND_ONLY)
        )


async def update_event(url: str, at: int, **columns: Any) -> None:
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(columns, start=1))
    await raw_sql(
        url,
        f"UPDATE ledger_events SET {sets} WHERE position = ${len(columns) + 1}",
        *columns.values(),
        at,
    )


async def delete_events(url: str, *positions: int) -> None:
    for p in positions:
        await raw_sql(url, "DELETE FROM ledger_events WHERE position = $1", p)


async def set_node(url: str, level: int, idx: int, digest: bytes) -> None:
    """Overwrite one stored node inside its run."""
    p = node_pos(level, idx)
    ((start, blob),) = await raw_sql(
        url,
        "SELECT pos, hashes FROM ledger_merkle_nodes WHERE pos <= $1 ORDER BY pos DESC LIMIT 1",
        p,
    )
    blob, k = bytes(blob), (p - start) * 32
    await raw_sql(
        url,
        "UPDATE ledger_merkle_nodes SET hashes = $1 WHERE pos = $2",
        blob[:k] + digest + blob[k + 32 :],
        start,
    )


async def swap_positions(url: str, p: int, q: int) -> None:
    await update_event(url, p, position=-1)
    await update_event(url, q, position=p)
    await update_event(url, -1, position=q)


async def rechain(url: str, events: list[RecordedEvent]) -> list[RecordedEvent]:
    """Write ``events`` (in position order, states possibly edited) with every case chain
    recomputed over them: what an intruder does to make the chains hold again."""
    tips: dict[UUID, bytes] = {}
    out, changed = [], []
    for r in events:
        fixed = msgspec.structs.replace(r, prev_hash=tips.get(r.case_id, GENESIS))
        fixed = msgspec.structs.replace(fixed, hash=record_hash(fixed))
        tips[r.case_id] = fixed.hash
        if fixed != r:
            changed.append((fixed.state, fixed.prev_hash, fixed.hash, r.position))
        out.append(fixed)
    await raw_many(
        url,
        "UPDATE ledger_events SET state = $1, prev_hash = $2, hash = $3 WHERE position = $4",
        changed,
    )
    return out


async def insert_forged_event(
    url: str, case_id: UUID, version: int, topic: str, state: bytes
) -> int:
    """Slip an event into a case's history at ``version``: shift everything after it one place
    up (positions and the case's versions), then recompute the chains so that they all hold."""
    events = await all_events(url)
    target = next(e for e in events if e.case_id == case_id and e.version == version)
    p = target.position
    big = 10**9
    await raw_sql(
        url, "UPDATE ledger_events SET position = position + $1 WHERE position >= $2", big, p
    )
    await raw_sql(
        url, "UPDATE ledger_events SET position = position - $1 WHERE position >= $2", big - 1, big
    )
    case: Any = str(case_id) if sqlite(url) else case_id
    await raw_sql(
        url,
        "UPDATE ledger_events SET version = version + $1 WHERE case_id = $2 AND version >= $3",
        big,
        case,
        version,
    )
    await raw_sql(
        url,
        "UPDATE ledger_events SET version = version - $1 WHERE case_id = $2 AND version >= $3",
        big - 1,
        case,
        big,
    )
    before = events[p - 2] if p > 1 else target
    forged = RecordedEvent(
        p, case_id, version, topic, state, target.metadata, before.recorded_at, GENESIS, GENESIS
    )
    await raw_sql(
        url,
        "INSERT INTO ledger_events (position, case_id, version, topic, state, "
        "metadata, recorded_at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, "
        "$8, $9)",
        *_row(url, forged),
    )
    # The intruder repairs only the forged case's chain: other cases keep their stored hashes.
    shifted = await all_events(url)
    await rechain(url, [e for e in shifted if e.case_id == case_id])
    return p


async def rebuild_tree(url: str) -> list[RecordedEvent]:
    """Throw away the Merkle tables and build them again from the (tampered) log."""
    events = await all_events(url)
    runs, tree = bulk_runs((e.hash for e in events), run_nodes=100)
    await disable_append_only(url)
    await raw_sql(url, "DELETE FROM ledger_merkle_nodes")
    await raw_many(url, "INSERT INTO ledger_merkle_nodes (pos, hashes) VALUES ($1, $2)", runs)
    await raw_sql(
        url, "UPDATE ledger_merkle_state SET size = $1, compact = $2", tree.size, tree.to_bytes()
    )
    return events


async def resign_checkpoints(
    url: str, events: list[RecordedEvent], signer: Signer, keep_cosignatures: bool
) -> None:
    """Replace every stored checkpoint by one of the rebuilt tree, signed by ``signer``."""
    sizes = [r[0] for r in await raw_sql(url, "SELECT size FROM ledger_checkpoints")]
    hashes = {}
    tree = CompactRange()
    for e in events:
        for level, idx, h in tree.append(leaf_hash(e.hash)):
            hashes[level, idx] = h
    if not keep_cosignatures:
        await raw_sql(url, "DELETE FROM ledger_cosignatures")
    for size in sizes:
        root = fold([hashes[k] for k in range_nodes(0, size)])
        cp = Checkpoint.make(signer.name, size, root)
        note = sign_checkpoint(cp, signer).note()
        made: Any = cp.time.isoformat() if sqlite(url) else cp.time
        await raw_sql(
            url,
            "UPDATE ledger_checkpoints SET root = $1, made_at = $2, note = $3 WHERE size = $4",
            root,
            made,
            note,
            size,
        )
