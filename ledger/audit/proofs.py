"""RFC 9162 proofs and historical roots from the stored Merkle nodes: one query per proof."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ledger.audit import merkle
from ledger.audit.db import AuditDB
from ledger.audit.merkle import ProofError, Range


class InclusionProof(msgspec.Struct, frozen=True):
    position: int  # 1-based log position; the leaf index is position - 1
    size: int
    leaf_hash: bytes
    root: bytes
    path: list[bytes]


class ConsistencyProof(msgspec.Struct, frozen=True):
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]


async def _fetch(db: AuditDB, size: int, groups: Sequence[Sequence[Range]]) -> list[list[bytes]]:
    tree_size = (await db.state()).size
    if size > tree_size:
        raise ProofError(f"size {size} is beyond the log (it has {tree_size} events)")
    nodes = await db.nodes(merkle.needed_nodes(r for group in groups for r in group))
    try:
        return [merkle.assemble(group, nodes) for group in groups]
    except KeyError as exc:
        raise ProofError(f"Merkle node {exc.args[0]} is missing from the database") from exc


async def root_at(db: AuditDB, size: int) -> bytes:
    (roots,) = await _fetch(db, size, [[(0, size)]] if size else [[]])
    return roots[0] if roots else merkle.EMPTY_ROOT


async def inclusion_proofs(
    db: AuditDB, positions: Sequence[int], size: int
) -> list[InclusionProof]:
    """Proofs for several positions against one tree size, fetched in one query."""
    for p in positions:
        if not 1 <= p <= size:
            raise ProofError(f"position {p} is not in a tree of size {size}")
    paths = [merkle.inclusion_ranges(p - 1, size) for p in positions]
    leaves = [[(p - 1, p)] for p in positions]
    got = await _fetch(db, size, [[(0, size)], *leaves, *paths])
    root, n = got[0][0], len(positions)
    return [
        InclusionProof(p, size, got[1 + i][0], root, got[1 + n + i])
        for i, p in enumerate(positions)
    ]


async def inclusion_proof(db: AuditDB, position: int, size: int) -> InclusionProof:
    return (await inclusion_proofs(db, [position], size))[0]


async def consistency_proof(db: AuditDB, first: int, second: int) -> ConsistencyProof:
    ranges = merkle.consistency_ranges(first, second)  # validates first <= second
    got = await _fetch(
        db, second, [[(0, first)] if first else [], [(0, second)] if second else [], ranges]
    )
    first_root = got[0][0] if first else merkle.EMPTY_ROOT
    second_root = got[1][0] if second else merkle.EMPTY_ROOT
    return ConsistencyProof(first, second, first_root, second_root, got[2])
