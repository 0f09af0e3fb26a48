"""The JSON shapes of the audit routes, shared by the API and its clients (the witness CLI).

Hashes are lowercase hex; a checkpoint also travels as its C2SP signed note (base64 root).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from ledger.audit.checkpoints import Checkpoint
from ledger.audit.db import StoredCheckpoint
from ledger.audit.note import parse_signature_line
from ledger.audit.proofs import ConsistencyProof, InclusionProof


class CheckpointView(msgspec.Struct, frozen=True):
    origin: str
    size: int
    root: str
    time: datetime
    note: str  # the signed note with every cosignature line: what witnesses and clients verify
    cosigned_by: list[str]

    @classmethod
    def of(cls, stored: StoredCheckpoint) -> CheckpointView:
        cp = Checkpoint.parse(stored.note[: stored.note.rfind("\n\n") + 1])
        names = [parse_signature_line(line).name for line in stored.cosignatures]
        return cls(cp.origin, cp.size, cp.root.hex(), cp.time, stored.full_note(), names)


class InclusionProofView(msgspec.Struct, frozen=True):
    position: int
    size: int
    leaf_index: int
    leaf_hash: str
    root: str
    proof: list[str]

    @classmethod
    def of(cls, p: InclusionProof) -> InclusionProofView:
        return cls(
            p.position,
            p.size,
            p.position - 1,
            p.leaf_hash.hex(),
            p.root.hex(),
            [h.hex() for h in p.path],
        )


class ConsistencyProofView(msgspec.Struct, frozen=True, rename={"first": "from", "second": "to"}):
    first: int
    second: int
    from_root: str
    to_root: str
    proof: list[str]

    @classmethod
    def of(cls, p: ConsistencyProof) -> ConsistencyProofView:
        return cls(
            p.first, p.second, p.first_root.hex(), p.second_root.hex(), [h.hex() for h in p.path]
        )


class CosignRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    signature: str  # one note signature line: "— <witness name> <base64>"


class CosignResponse(msgspec.Struct, frozen=True):
    size: int
    witness: str
    department: str | None
