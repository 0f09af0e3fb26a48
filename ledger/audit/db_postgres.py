"""``AuditDB`` on PostgreSQL (asyncpg), sharing the event store's connection pool."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from ledger.audit.db import StoredCheckpoint, place_runs
from ledger.audit.merkle import CompactRange, NodeKey, node_pos

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

    async def node_span(self, lo: int, hi: int) -> list[bytes | None]:
        rows = await self.pool.fetch(_SPAN, lo, hi)
        return place_runs(lo, hi, ((r[0], r[1]) for r in rows))

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
