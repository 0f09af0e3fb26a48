"""What both adapters do with snapshots besides SQL: seal them, and hand back only intact ones.

The digest is SHA-256 over every field of the snapshot, length-prefixed, so a snapshot whose state
bytes (or version, topic, event hash) were changed after it was stored no longer matches it. It
detects corruption and edits that did not recompute it; it is no signature (anyone who can write
the table can recompute it), which is why readers also bind a snapshot to the hash-chained log
(its event hash must equal the stored event's) and to their own code (its topic), and why a
snapshot is only ever a cache of what folding the events gives.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from ledger.store.port import Snapshot

__all__ = ["CANDIDATES", "first_intact", "snapshot_digest"]

_DOMAIN = b"ledger.snapshot.v1\0"

# How many of the newest snapshots bound to the log a read considers before giving up (a
# snapshot failing its digest is skipped; after that many, folding from the start is cheaper
# than reading more of them).
CANDIDATES = 3


def snapshot_digest(
    case_id: UUID, version: int, topic: str, state: bytes, event_hash: bytes
) -> bytes:
    h = hashlib.sha256(_DOMAIN)
    h.update(case_id.bytes)
    h.update(struct.pack(">q", version))
    for part in (topic.encode(), event_hash, state):
        h.update(struct.pack(">Q", len(part)))
        h.update(part)
    return h.digest()


def first_intact(case_id: UUID, rows: Iterable[Any]) -> Snapshot | None:
    """The first of ``rows`` — (version, topic, state, event_hash, digest), newest first —
    whose digest matches its content."""
    for version, topic, state, event_hash, digest in rows:
        state, event_hash, digest = bytes(state), bytes(event_hash), bytes(digest)
        if digest == snapshot_digest(case_id, version, topic, state, event_hash):
            return Snapshot(
                case_id=case_id, version=version, topic=topic, state=state, event_hash=event_hash
            )
    return None
