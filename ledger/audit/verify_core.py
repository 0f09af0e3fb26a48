"""The per-event work of ``verify_ledger``: chains, positions, and the rebuilt Merkle tree.

``add_batch`` runs once per event, so it is written for speed (profiled against a plain SHA-256
loop over the same bytes, see ``bench/``): one loop over a page of records with everything in
local variables; the canonical encoding of ``ledger.store.chain`` built by one msgspec call with the
datetime encoded natively, then its UTC ``Z`` spelled as ``isoformat`` spells it (any other offset
takes the exact slow path); the tree a bare stack. Only when a check fails does ``_explain`` work
out, slowly and precisely, what is wrong. A test pins the encoding to ``chain.canonical_bytes``:
a drift would make every hash fail (loudly), never pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from hashlib import sha256

import msgspec

from ledger.audit.db import LeafBlock
from ledger.audit.merkle import fold
from ledger.store.chain import GENESIS, canonical_bytes
from ledger.store.port import RecordedEvent

WINDOW = 1 << 13  # leaves per comparison with the stored nodes (≈ 2·WINDOW hashes in memory)
_encode = msgspec.json.Encoder().encode
_DAWN = datetime(1, 1, 1, tzinfo=UTC)
_Z, _DOT = ord("Z"), ord(".")


class Fault(msgspec.Struct, frozen=True):
    position: int
    kind: str  # gap|order|version|link|hash|time|leaf|node|missing|tree|checkpoint|signature|...
    detail: str
    # Set when the fault only bounds the damage to positions..until (a signed root that does not
    # match): it then ranks behind any exact fault at or before ``until``, which explains it.
    until: int | None = None


# At one position, faults rank in the order one serial pass over the log finds them: a gap or
# misplacement when the row is read, then the row's chain checks (time, version or link, hash),
# then everything judged later (its Merkle leaf and nodes, checkpoints, the tree's end). The
# parallel verifier finds them in another order, so the order is part of the key.
_STAGE = {"gap": 0, "order": 0, "time": 1, "version": 2, "link": 2, "hash": 3}


def rank(faults: list[Fault]) -> list[Fault]:
    """Faults in report order: by position, except that explained range faults come last."""
    first_exact = min((f.position for f in faults if f.until is None), default=None)

    def explained(f: Fault) -> bool:
        return f.until is not None and first_exact is not None and first_exact <= f.until

    return sorted(faults, key=lambda f: (explained(f), f.position, _STAGE.get(f.kind, 4)))


def time_fault(r: RecordedEvent, last_ts: datetime) -> Fault:
    return Fault(
        r.position,
        "time",
        f"recorded_at {r.recorded_at.isoformat()} is before the "
        f"previous event's {last_ts.isoformat()}",
    )


def version_fault(position: int, case_text: str, version: int, want_version: int) -> Fault:
    return Fault(
        position,
        "version",
        f"case {case_text} has version {version} where "
        f"{want_version} was expected: an event of the case is missing or moved",
    )


def link_fault(position: int, case_text: str, version: int) -> Fault:
    return Fault(
        position,
        "link",
        f"prev_hash does not link to the previous event of case "
        f"{case_text} (version {version - 1})",
    )


def explain(
    r: RecordedEvent,
    tip: tuple[int, bytes, str] | None,
    last_ts: datetime,
    body: bytes | None = None,
) -> list[Fault]:
    """What is wrong with record ``r``, slowly and exactly: its time against ``last_ts`` (the
    previous record's), its version and link against its case's ``tip`` (next version, last
    hash, case id text; None: not judged here) and its hash against its content (``body``: its
    canonical bytes, computed when not given)."""
    faults = []
    case_text = tip[2] if tip is not None else str(r.case_id)
    if r.recorded_at < last_ts:
        faults.append(time_fault(r, last_ts))
    if tip is not None:
        if r.version != tip[0]:
            faults.append(version_fault(r.position, case_text, r.version, tip[0]))
        elif r.prev_hash != tip[1]:
            faults.append(link_fault(r.position, case_text, r.version))
    if body is None:
        body = canonical_bytes(
            r.position, r.case_id, r.version, r.topic, r.state, r.metadata, r.recorded_at
        )
    if sha256(r.prev_hash + body).digest() != r.hash:
        faults.append(
            Fault(
                r.position,
                "hash",
                f"the stored hash does not match the event's content (case "
                f"{case_text}, version {r.version}): the event was altered",
            )
        )
    return faults


def body_of(r: RecordedEvent, case_text: str) -> bytes:
    """``chain.canonical_bytes(r)``, fast for the UTC times the stores return."""
    body = _encode(
        [r.position, case_text, r.version, r.topic, r.state.hex(), r.metadata.hex(), r.recorded_at]
    )
    if body[-3] == _Z:  # …T12:00:00.123456Z"] or …T12:00:00Z"]
        return body[:-3] + (b'+00:00"]' if body[-10] == _DOT else b'.000000+00:00"]')
    return canonical_bytes(
        r.position, r.case_id, r.version, r.topic, r.state, r.metadata, r.recorded_at
    )


class ChainWalker:
    """Positions, case chains, times, and the tree rebuilt leaf by leaf."""

    def __init__(self, max_faults: int = 100) -> None:
        self.max_faults = max_faults
        self.faults: list[Fault] = []
        self.full = False
        # case (as its 128-bit int: stdlib UUIDs hash in Python, ints in C) → next version,
        # last hash, id text
        self.cases: dict[int, tuple[int, bytes, str]] = {}
        self.expected = 1
        self.seen = 0
        self.last_ts = _DAWN
        self.merkle_ok = True  # False after a gap: leaf indices no longer mean positions
        self.stack: list[bytes] = []
        self.size = self.window_start = 0
        self.formed: list[bytes] = []  # nodes formed since the window started, in pos order

    @property
    def last_position(self) -> int:
        return self.expected - 1

    def fault(self, position: int, kind: str, detail: str, until: int | None = None) -> None:
        """Record a fault; past ``max_faults`` keep the earliest ones (``full`` is then set)."""
        self.faults.append(Fault(position, kind, detail, until))
        if len(self.faults) > 2 * self.max_faults:
            self.faults = rank(self.faults)[: self.max_faults]
            self.full = True

    def absorb(self, faults: Sequence[Fault], full: bool) -> None:
        """Take faults found elsewhere (the chain pass); ``full``: that pass stopped early."""
        self.faults.extend(faults)
        self.full = self.full or full
        if len(self.faults) > 2 * self.max_faults:
            self.faults = rank(self.faults)[: self.max_faults]
            self.full = True

    def root(self) -> bytes:
        return fold(self.stack)

    def add_batch(self, records: Sequence[RecordedEvent], i: int, stop_at: int) -> int:
        """Check ``records[i:]`` until the tree reaches ``stop_at`` leaves; return where it got."""
        get, cases, sha, enc = self.cases.get, self.cases, sha256, _encode
        stack, keep = self.stack, self.formed.append
        pop, push = stack.pop, stack.append
        size, expected, last_ts, merkle_ok = self.size, self.expected, self.last_ts, self.merkle_ok
        start, n = i, len(records)
        while i < n:
            r = records[i]
            i += 1
            pos = r.position
            if pos != expected:
                self._misplaced(pos, expected)
                merkle_ok = self.merkle_ok
            expected = pos + 1
            case = r.case_id.int
            tip = get(case)
            if tip is None:
                tip = (1, GENESIS, str(r.case_id))
            version, prev, digest, ts = r.version, r.prev_hash, r.hash, r.recorded_at
            body = enc([pos, tip[2], version, r.topic, r.state.hex(), r.metadata.hex(), ts])
            if body[-3] == _Z:  # body_of, inlined
                body = body[:-3] + (b'+00:00"]' if body[-10] == _DOT else b'.000000+00:00"]')
            else:
                body = body_of(r, tip[2])
            if (
                version != tip[0]
                or prev != tip[1]
                or ts < last_ts
                or sha(prev + body).digest() != digest
            ):
                self._explain(r, tip, last_ts, body)
            last_ts = ts  # each event against its predecessor: one moved event, two faults
            cases[case] = (version + 1, digest, tip[2])
            if merkle_ok:
                x = sha(b"\x00" + digest).digest()
                keep(x)
                s = size
                while s & 1:
                    x = sha(b"\x01" + pop() + x).digest()
                    keep(x)
                    s >>= 1
                push(x)
                size += 1
                if size >= stop_at:
                    break
        self.size, self.expected, self.last_ts = size, expected, last_ts
        self.seen += i - start
        return i

    def add_leaves(
        self, rows: LeafBlock | Sequence[tuple[int, bytes]], i: int, stop_at: int
    ) -> int:
        """``add_batch`` without the chain checks, over ``(position, hash)`` rows or a
        ``LeafBlock``: positions and the rebuilt tree only (the chains are checked elsewhere,
        see ``verify_chains``)."""
        if isinstance(rows, LeafBlock):
            return self._add_block(rows, i, stop_at)
        # Row by row only for pages that are not one clean block (gaps, odd hashes): no hot
        # path, so the tree is grown a leaf at a time by ``_push_leaf``.
        expected, start, n = self.expected, i, len(rows)
        while i < n:
            pos, digest = rows[i]
            i += 1
            if pos != expected:
                self._misplaced(pos, expected)
            expected = pos + 1
            if self.merkle_ok:
                self._push_leaf(digest)
                if self.size >= stop_at:
                    break
        self.expected = expected
        self.seen += i - start
        return i

    def _push_leaf(self, digest: bytes) -> None:
        """The leaf of an event's hash onto the rebuilt tree (what the hot loops inline)."""
        x = sha256(b"\x00" + digest).digest()
        self.formed.append(x)
        s = self.size
        while s & 1:
            x = sha256(b"\x01" + self.stack.pop() + x).digest()
            self.formed.append(x)
            s >>= 1
        self.stack.append(x)
        self.size += 1

    def _add_block(self, block: LeafBlock, i: int, stop_at: int) -> int:
        n = block.count
        if i == 0 and block.first != self.expected:
            self._misplaced(block.first, self.expected)
        if not self.merkle_ok:
            self.expected, self.seen = block.first + n, self.seen + n - i
            return n
        sha, stack, keep, inputs = sha256, self.stack, self.formed.append, block.inputs
        pop, push = stack.pop, stack.append
        size, start = self.size, i
        while i < n:
            x = sha(inputs[33 * i : 33 * i + 33]).digest()
            i += 1
            keep(x)
            s = size
            while s & 1:
                x = sha(b"\x01" + pop() + x).digest()
                keep(x)
                s >>= 1
            push(x)
            size += 1
            if size >= stop_at:
                break
        self.size, self.expected = size, block.first + i
        self.seen += i - start
        return i

    def _explain(
        self, r: RecordedEvent, tip: tuple[int, bytes, str], last_ts: datetime, body: bytes
    ) -> None:
        for f in explain(r, tip, last_ts, body):
            self.fault(f.position, f.kind, f.detail)

    def _misplaced(self, pos: int, expected: int) -> None:
        if pos > expected:
            span = f"{expected}" if pos == expected + 1 else f"{expected}..{pos - 1}"
            self.fault(expected, "gap", f"position {span} is missing from the log (deleted events)")
        else:
            self.fault(pos, "order", f"position {pos} appears after position {expected - 1}")
        self.merkle_ok = False
