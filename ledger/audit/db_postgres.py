"""``AuditDB`` on PostgreSQL (asyncpg), sharing the event store's connection pool."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeAlias

import asyncpg

from ledger.audit.db import LeafBlock, StoredCheckpoint, place_runs
from ledger.audit.merkle import CompactRange, NodeKey, node_pos
from ledger.store.port import RecordedEvent
from ledger.store.sql import COLUMNS

# Each wanted node from the run that holds it: the last run starting at or before it.
_NODES = """
SELECT q.p, substring(n.hashes FROM (q.p - n.pos)::integer * 32 + 1 FOR 32)
FROM unnest($1::bigint[]) AS q(p)
CROSS JOIN LATERAL (
    SELECT pos, hashes FROM ledger_merkle_nodes WHERE pos <= q.p ORDER BY pos DESC LIMIT 1
) n
"""
# The runs overlapping [lo, hi): from the one holding lo (found by the index) onwards.
_SPAN = """
SELECT pos, hashes FROM ledger_merkle_nodes
WHERE pos >= coalesce((SELECT max(pos) FROM ledger_merkle_nodes WHERE pos <= $1), 0)
  AND pos < $2
ORDER BY pos
"""

_CHECKPOINT_COLUMNS = """
    c.size, c.root, c.made_at, c.note,
    coalesce((SELECT array_agg(s.line ORDER BY s.signed_at, s.witness)
              FROM ledger_cosignatures s WHERE s.size = c.size), '{}') AS cosignatures
"""


# -- verify's own reads (``ledger.audit.verify_chains``) ------------------------------------------
#
# The chain pass reads the rows of a position range with the database producing the text forms
# the canonical bytes (``ledger.store.chain``) are built from: the case id as text and the time as
# JSON, ``"YYYY-MM-DDTHH:MM:SS[.ffffff]"`` in UTC (PostgreSQL drops trailing zeros of the fraction;
# Python pads them back). Cheaper on both sides than a datetime and a UUID object per row.
# Functions are schema-qualified so that no function planted in another schema of the search path
# can feed Python other text than the row holds. Whatever the text, a row whose bytes do not
# hash to its stored hash is read again as a ``RecordedEvent`` and judged by ``canonical_bytes``.
CHAIN_TIME = "pg_catalog.to_json(pg_catalog.timezone('UTC', recorded_at))"
CHAIN_ROWS = f"""
SELECT position, case_id::text, version, topic, state, metadata, {CHAIN_TIME}, prev_hash, hash
FROM ledger_events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3
"""
# The time of the last row at or before a position (where a range's time check starts).
CHAIN_TIME_BEFORE = (
    f"SELECT {CHAIN_TIME} FROM ledger_events WHERE position > 0 AND position <= $1 "
    "ORDER BY position DESC LIMIT 1"
)
# The tree pass: the leaf data, nothing else; a page as one string when its positions are
# consecutive and its hashes all 32 bytes (no per-row objects), else row by row.
LEAF_ROWS = (
    "SELECT position, hash FROM ledger_events WHERE position > $1 ORDER BY position LIMIT $2"
)
LEAF_BLOCK = """
SELECT pg_catalog.count(*), pg_catalog.min(position), pg_catalog.max(position),
       pg_catalog.bool_and(pg_catalog.octet_length(hash) = 32),
       pg_catalog.string_agg(
           '\\x00'::bytea OPERATOR(pg_catalog.||) hash, ''::bytea ORDER BY position
       )
FROM (SELECT position, hash FROM ledger_events WHERE position > $1 ORDER BY position LIMIT $2) s
"""
RECORD_AT = f"SELECT {COLUMNS} FROM ledger_events WHERE position = $1"

Reader: TypeAlias = "asyncpg.Pool | asyncpg.Connection"


async def chain_rows(db: Reader, after: int, upto: int, limit: int) -> list[asyncpg.Record]:
    """Rows ``after < position <= upto`` (at most ``limit``), as ``CHAIN_ROWS`` has them."""
    return await db.fetch(CHAIN_ROWS, after, upto, limit)


async def chain_time_before(db: Reader, position: int) -> str | None:
    value = await db.fetchval(CHAIN_TIME_BEFORE, position)
    return None if value is None else str(value)


async def record_at(db: Reader, position: int) -> RecordedEvent | None:
    row = await db.fetchrow(RECORD_AT, position)
    return None if row is None else RecordedEvent(*row)


def _checkpoint(row: asyncpg.Record | None) -> StoredCheckpoint | None:
    if row is None:
        return None
    return StoredCheckpoint(
        row["size"], row["root"], row["made_at"], row["note"], tuple(row["cosignatures"])
    )


class PostgresAuditDB:
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def state(self) -> CompactRange:
        compact = await self.pool.fetchval("SELECT compact FROM ledger_merkle_state")
        return CompactRange.from_bytes(compact)

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = {node_pos(level, idx): (level, idx) for level, idx in keys}
        if not wanted:
            return {}
        rows = await self.pool.fetch(_NODES, list(wanted))
        return {wanted[pos]: digest for pos, digest in rows if len(digest) == 32}

    async def leaves(self, after: int, limit: int) -> LeafBlock | list[asyncpg.Record]:
        """The next ``limit`` events after ``after`` for the Merkle rebuild: a ``LeafBlock``,
        or ``(position, hash)`` rows where positions skip or a hash is not 32 bytes."""
        count, first, last, whole, inputs = await self.pool.fetchrow(LEAF_BLOCK, after, limit)
        if not count:
            return []
        if whole and last - first + 1 == count and len(inputs) == 33 * count:
            return LeafBlock(first, count, inputs)
        return await self.pool.fetch(LEAF_ROWS, after, limit)

    async def node_runs(self, lo: int, hi: int) -> list[tuple[int, bytes]]:
        return [(r[0], r[1]) for r in await self.pool.fetch(_SPAN, lo, hi)]

    async def node_span(self, lo: int, hi: int) -> list[bytes | None]:
        return place_runs(lo, hi, await self.node_runs(lo, hi))

    async def add_checkpoint(self, cp: StoredCheckpoint) -> bool:
        status = await self.pool.execute(
            "INSERT INTO ledger_checkpoints (size, root, made_at, note) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (size) DO NOTHING",
            cp.size,
            cp.root,
            cp.made_at,
            cp.note,
        )
        return bool(status.endswith(" 1"))

    async def _one(self, where: str, *args: object) -> StoredCheckpoint | None:
        return _checkpoint(
            await self.pool.fetchrow(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM ledger_checkpoints c {where}", *args
            )
        )

    async def checkpoint(self, size: int) -> StoredCheckpoint | None:
        return await self._one("WHERE c.size = $1", size)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await self._one("ORDER BY c.size DESC LIMIT 1")

    async def covering_checkpoint(self, position: int) -> StoredCheckpoint | None:
        return await self._one(
            "WHERE c.size >= $1 ORDER BY (SELECT count(*) FROM ledger_cosignatures s "
            "WHERE s.size = c.size) DESC, c.size DESC LIMIT 1",
            position,
        )

    async def checkpoints(self, after: int = 0, limit: int = 500) -> list[StoredCheckpoint]:
        rows = await self.pool.fetch(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM ledger_checkpoints c WHERE c.size > $1 "
            "ORDER BY c.size LIMIT $2",
            after,
            limit,
        )
        return [cp for cp in map(_checkpoint, rows) if cp is not None]

    async def add_cosignature(
        self, size: int, witness: str, key_id: bytes, signed_at: datetime, line: str
    ) -> bool:
        status = await self.pool.execute(
            "INSERT INTO ledger_cosignatures (size, witness, key_id, signed_at, line) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            size,
            witness,
            key_id,
            signed_at,
            line,
        )
        return bool(status.endswith(" 1"))

    async def close(self) -> None:
        """Nothing to do: the pool belongs to the event store."""
