"""Evidence bundles: a case's events, their inclusion proofs, a signed checkpoint, the keys.

One JSON document (``ledger-evidence/v1``) that a court, an auditor or a payer can check with no
access to the ledger: ``verify_bundle`` recomputes every event hash from its content and the case
chain, every inclusion proof up to the checkpoint root, the ledger signature and each witness
cosignature. Hashes are hex, payloads (state, metadata) base64, the checkpoint a C2SP signed note.

Every byte counts: the document must be exactly the canonical encoding of its own content (the one
``build_bundle`` writes), so a change that leaves the meaning intact (whitespace, hex case, another
spelling of the same time or base64) fails as well, and every signature line must belong to a key
named in the bundle. Give ``trusted`` keys to pin who signed; without them the bundle is only shown
to be self-consistent, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from ledger.audit.checkpoints import Checkpoint, CheckpointError, check_cosignature
from ledger.audit.db import StoredCheckpoint
from ledger.audit.keys import KeyFileError, PublicKey, TrustedKeys
from ledger.audit.merkle import leaf_hash, verify_inclusion
from ledger.audit.note import NoteError, parse_note, verify_text
from ledger.audit.proofs import InclusionProof
from ledger.store.chain import GENESIS, record_hash
from ledger.store.port import RecordedEvent

FORMAT = "ledger-evidence/v1"


class BundleEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    position: int
    case_id: UUID
    version: int
    topic: str
    state: bytes
    metadata: bytes
    recorded_at: datetime
    prev_hash: str
    hash: str
    inclusion_proof: list[str]


class BundleKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ledger: str
    witnesses: list[str]


class Bundle(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    case_id: UUID
    checkpoint: str  # the signed note, cosignature lines included
    keys: BundleKeys
    events: list[BundleEvent]


class BundleReport(msgspec.Struct):
    ok: bool
    problems: list[str]
    case_id: str | None = None
    events: int = 0
    checkpoint_size: int | None = None
    checkpoint_time: datetime | None = None
    ledger_key: str | None = None
    keys_pinned: bool = False  # True only when checked against caller-supplied trusted keys
    cosigned_by: list[str] = msgspec.field(default_factory=list)


def encode(bundle: Bundle) -> bytes:
    return msgspec.json.format(msgspec.json.encode(bundle), indent=2) + b"\n"


def build_bundle(
    events: Sequence[RecordedEvent],
    proofs: Sequence[InclusionProof],
    checkpoint: StoredCheckpoint,
    trusted: TrustedKeys,
) -> bytes:
    text, sigs = parse_note(checkpoint.full_note())
    # Keep only signatures this ledger can vouch for, and name the key of each one kept.
    kept = [s for s in sigs if trusted.witness(s.name, s.key_id) or s.name == trusted.ledger.name]
    witness_keys = [k for s in kept if (k := trusted.witness(s.name, s.key_id)) is not None]
    note = text + "\n" + "".join(s.line() for s in kept)
    items = [
        BundleEvent(
            e.position,
            e.case_id,
            e.version,
            e.topic,
            e.state,
            e.metadata,
            e.recorded_at,
            e.prev_hash.hex(),
            e.hash.hex(),
            [h.hex() for h in p.path],
        )
        for e, p in zip(events, proofs, strict=True)
    ]
    keys = BundleKeys(trusted.ledger.vkey(), [k.vkey() for k in witness_keys])
    return encode(Bundle(FORMAT, events[0].case_id, note, keys, items))


def _hex(value: str, what: str) -> bytes:
    raw = bytes.fromhex(value)
    if raw.hex() != value:
        raise ValueError(f"{what} is not lowercase hex")
    return raw


def _keys(bundle: Bundle, trusted: TrustedKeys | None, problems: list[str]) -> TrustedKeys:
    embedded = TrustedKeys(
        PublicKey.parse(bundle.keys.ledger),
        tuple(PublicKey.parse(v) for v in bundle.keys.witnesses),
    )
    if trusted is None:
        return embedded
    if embedded.ledger != trusted.ledger:
        problems.append(f"the bundle's ledger key {embedded.ledger.name} is not the trusted one")
    for key in embedded.witnesses:
        if key not in trusted.witnesses:
            problems.append(f"witness key {key.name} in the bundle is not trusted")
    return trusted


def _check_events(bundle: Bundle, cp: Checkpoint, problems: list[str]) -> None:
    prev = GENESIS
    for n, e in enumerate(bundle.events, start=1):
        where = f"event {n} (position {e.position})"
        record = RecordedEvent(
            e.position,
            e.case_id,
            e.version,
            e.topic,
            e.state,
            e.metadata,
            e.recorded_at,
            _hex(e.prev_hash, f"{where} prev_hash"),
            _hex(e.hash, f"{where} hash"),
        )
        if e.case_id != bundle.case_id:
            problems.append(f"{where} belongs to case {e.case_id}, not {bundle.case_id}")
        if e.version != n:
            problems.append(f"{where} has version {e.version} where {n} was expected")
        if record.prev_hash != prev:
            problems.append(f"{where}: prev_hash does not link to the previous event")
        if record_hash(record) != record.hash:
            problems.append(f"{where}: hash does not match the event's content")
        path = [_hex(h, f"{where} inclusion proof") for h in e.inclusion_proof]
        if not verify_inclusion(e.position - 1, cp.size, leaf_hash(record.hash), path, cp.root):
            problems.append(f"{where}: inclusion proof does not lead to the checkpoint root")
        prev = record.hash


def verify_bundle(data: bytes, trusted: TrustedKeys | None = None) -> BundleReport:
    """Check an evidence bundle offline. ``ok`` only if every check passed."""
    problems: list[str] = []
    try:
        bundle = msgspec.json.decode(data, type=Bundle)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return BundleReport(False, [f"not a valid evidence bundle: {exc}"])
    report = BundleReport(False, problems, str(bundle.case_id), len(bundle.events))
    try:
        if bundle.format != FORMAT:
            problems.append(f"unknown format {bundle.format!r} (expected {FORMAT})")
        keys = _keys(bundle, trusted, problems)
        report.ledger_key, report.keys_pinned = keys.ledger.name, trusted is not None
        text, sigs = parse_note(bundle.checkpoint)
        cp = Checkpoint.parse(text)
        report.checkpoint_size, report.checkpoint_time = cp.size, cp.time
        if cp.origin != keys.ledger.name:
            problems.append(f"checkpoint origin {cp.origin!r} is not the ledger {keys.ledger.name}")
        try:
            verify_text(text, sigs, keys.ledger)
        except NoteError as exc:
            problems.append(f"checkpoint signature: {exc}")
        for sig in sigs:
            if sig.name == keys.ledger.name and sig.key_id == keys.ledger.key_id:
                continue
            try:
                report.cosigned_by.append(check_cosignature(cp, sig, keys).name)
            except CheckpointError as exc:
                problems.append(f"checkpoint cosignature: {exc}")
        if not bundle.events:
            problems.append("the bundle has no events")
        _check_events(bundle, cp, problems)
    except (NoteError, CheckpointError, KeyFileError) as exc:
        problems.append(f"checkpoint or keys: {exc}")
    except ValueError as exc:
        problems.append(str(exc))
    if not problems and encode(bundle) != data:
        problems.append(
            "the bundle is not in canonical form: bytes were changed (whitespace, "
            "letter case or encoding) even though the content still verifies"
        )
    report.ok = not problems
    return report
