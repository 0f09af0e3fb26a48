"""``verify_ledger``: one streaming pass over the whole log that re-derives everything.

Checked, in position order: positions are 1..N without gaps; every case chain (version sequence,
``prev_hash`` links, each ``hash`` recomputed from the event's content); ``recorded_at`` never goes
back; the Merkle tree rebuilt from the hashes equals every stored node (window by window, so memory
stays flat), the stored compact range, and each stored checkpoint's root at its size; every
checkpoint's ledger signature and every cosignature; a consistency proof (served from the stored
nodes) between consecutive co-signed checkpoints; and any checkpoints held outside the database
(e.g. a witness's state file), which is what catches a rewrite re-signed with a stolen ledger key
whose cosignatures were deleted.

Memory: one ``case → (next version, last hash, case id text)`` entry per case (~200 bytes), one
window of nodes, two pages of events, one page of checkpoints. The per-event work is in
``verify_core`` (chains, the rebuilt tree) and ``verify_tree`` (comparison with stored nodes).
The log is read in pages with ``read_log`` (the port's bounded read) rather than ``iter_log``, so
that the next page can be fetched while this one is checked.

On PostgreSQL the work is split in two passes that run at the same time and report the same
faults as the serial walk: this process rebuilds the tree from the stored hashes alone (read as
one string per page) and checks positions and checkpoints, while ``verify_chains`` checks every
case chain and the times, over ranges of positions, in child processes for big logs (both cores
busy: the chain pass is most of the work). SQLite (or ``ranges=0``) walks whole records serially.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ledger.audit.checkpoints import Checkpoint, CheckpointError, check_cosignature, open_checkpoint
from ledger.audit.db import AuditDB, LeafBlock, StoredCheckpoint
from ledger.audit.keys import TrustedKeys
from ledger.audit.merkle import EMPTY_ROOT, ProofError, verify_consistency
from ledger.audit.note import NoteError, parse_signature_line
from ledger.audit.proofs import consistency_proof
from ledger.audit.verify_core import Fault, rank
from ledger.audit.verify_tree import LogWalker
from ledger.store.port import EventStore, RecordedEvent

if TYPE_CHECKING:
    from ledger.audit.verify_chains import ChainPart

Progress = Callable[[int, int], None]  # (events checked, events expected)
T = TypeVar("T")


class VerifyReport(msgspec.Struct):
    ok: bool
    events_checked: int
    log_size: int  # the last position found
    tree_size: int  # the stored Merkle tree's size
    checkpoints_checked: int
    checkpoints_unchecked: int  # beyond a break in the log: their roots could not be rebuilt
    cosignatures_checked: int
    first_bad_position: int | None
    problem: str | None
    faults: list[Fault]
    faults_truncated: bool
    signatures_checked: bool
    seconds: float


class _Checkpoints:
    """Checks checkpoints as the rebuilt tree reaches their sizes.

    A signed root that does not match only bounds the damage: somewhere after the last checkpoint
    that did match. Ledger-signed checkpoints bound signature and root faults; only roots vouched
    for by a witness (a valid cosignature, or a checkpoint held outside) bound witness faults,
    because a thief of the ledger key can re-sign a rewritten prefix.
    """

    def __init__(
        self,
        db: AuditDB,
        trusted: TrustedKeys | None,
        walker: LogWalker,
        external: Sequence[Checkpoint],
    ) -> None:
        self.db, self.trusted, self.walker = db, trusted, walker
        self.page: list[StoredCheckpoint] = []
        self.after, self.exhausted = -1, False
        self.external = sorted(external, key=lambda c: c.size)
        self.checked = self.cosigs = 0
        # Witness mismatches: (first position in doubt, the witnessed size, the witnessed time).
        self.rewritten: list[tuple[int, int, datetime]] = []
        self.last_good = self.last_witnessed = 0
        self.last_cosigned: tuple[int, bytes] | None = None

    async def next_size(self) -> int | None:
        if not self.page and not self.exhausted:
            self.page = await self.db.checkpoints(self.after, 500)
            self.exhausted = len(self.page) < 500
            if self.page:
                self.after = self.page[-1].size
            self.page.reverse()  # pop() from the end in size order
        sizes = [c.size for c in self.page[-1:]] + [c.size for c in self.external[:1]]
        return min(sizes) if sizes else None

    def drop(self, size: int) -> None:
        self.page = [c for c in self.page if c.size != size]
        self.external = [c for c in self.external if c.size != size]

    async def check_due(self, size: int, root: bytes) -> None:
        """Check every checkpoint of exactly ``size`` (the rebuilt tree's current size)."""
        while self.page and self.page[-1].size == size:
            await self._check(self.page.pop(), root)
        while self.external and self.external[0].size == size:
            held = self.external.pop(0)
            if held.root == root:
                self.last_witnessed = max(self.last_witnessed, size)
                continue
            start = self.last_witnessed + 1
            self.rewritten.append((start, size, held.time))
            self.walker.fault(
                start,
                "witness",
                f"a checkpoint held outside the database (size "
                f"{size}) has another root: positions {start}..{size} were "
                "rewritten",
                until=size,
            )

    async def _check(self, stored: StoredCheckpoint, root: bytes) -> None:
        self.checked += 1
        size, start = stored.size, self.last_good + 1
        try:
            if self.trusted is not None:
                cp, _ = open_checkpoint(stored.note, self.trusted.ledger)
            else:
                cp = Checkpoint.parse(stored.note[: stored.note.rfind("\n\n") + 1])
        except CheckpointError as exc:
            self.walker.fault(start, "signature", f"checkpoint {size}: {exc}", until=size)
            return
        if (cp.size, cp.root) != (size, stored.root):
            self.walker.fault(
                start,
                "checkpoint",
                f"checkpoint {size}: its row disagrees with its signed note",
                until=size,
            )
        if cp.root != root:
            self.walker.fault(
                start,
                "checkpoint",
                f"the signed root at size {size} is not the "
                f"root of the log: positions {start}..{size} were changed after "
                "they were signed",
                until=size,
            )
            return
        self.last_good = size
        if self.trusted is None:
            return
        cosigned = False
        for line in stored.cosignatures:
            try:
                check_cosignature(cp, parse_signature_line(line), self.trusted)
            except (CheckpointError, NoteError) as exc:
                at = self.last_witnessed + 1
                self.walker.fault(
                    at,
                    "cosignature",
                    f"checkpoint {size}: {exc} (a witness saw "
                    f"other content in positions {at}..{size})",
                    until=size,
                )
                continue
            self.cosigs += 1
            cosigned = True
        if cosigned:
            self.last_witnessed = size
            await self._consistent_with_previous(cp)

    async def _consistent_with_previous(self, cp: Checkpoint) -> None:
        prev, self.last_cosigned = self.last_cosigned, (cp.size, cp.root)
        if prev is None or prev[0] == cp.size:
            return
        try:
            proof = await consistency_proof(self.db, prev[0], cp.size)
            good = verify_consistency(prev[0], cp.size, prev[1], cp.root, proof.path)
        except ProofError:
            good = False
        if not good:
            self.walker.fault(
                prev[0] + 1,
                "consistency",
                f"the stored nodes give no valid "
                f"consistency proof from co-signed checkpoint {prev[0]} to "
                f"{cp.size}",
                until=cp.size,
            )


class _Tally:
    """``progress`` of one run: the events checked by the walk over the log, and — on
    PostgreSQL, where the chains are checked by a pass of their own — the fewer of the two
    passes' counts (an event is verified when both have checked it). Called once per page."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total = progress, total
        self.walked = 0
        self.chained: int | None = None  # None: no chain pass apart

    def tree(self, seen: int) -> None:
        self.walked = seen
        self._say()

    def chains(self, rows: int) -> None:
        self.chained = rows
        self._say()

    def _say(self) -> None:
        if self.progress is not None:
            done = self.walked if self.chained is None else min(self.walked, self.chained)
            self.progress(done, self.total)


async def _pages(
    read: Callable[[int, int], Awaitable[Sequence[T]]],
    last_position: Callable[[Sequence[T]], int],
    batch: int,
) -> AsyncIterator[Sequence[T]]:
    """The log in pages of ``batch`` (``read(after, limit)``), the next page read while the
    current one is checked (the database works on it meanwhile: PostgreSQL in its own process,
    SQLite in a thread)."""
    page = await read(0, batch)
    while page:
        ahead = (
            asyncio.ensure_future(read(last_position(page), batch)) if len(page) == batch else None
        )
        try:
            yield page
        except BaseException:  # the consumer stopped early (or failed): drop the read-ahead
            if ahead is not None:
                ahead.cancel()
            raise
        page = await ahead if ahead is not None else []


def _records_end(page: Sequence[RecordedEvent]) -> int:
    return page[-1].position


def _leaves_end(page: Any) -> int:
    """The last position of a page of the tree pass (a ``LeafBlock`` or rows)."""
    if isinstance(page, LeafBlock):
        return page.first + page.count - 1
    return int(page[-1][0])


async def _place_rewrite(
    store: EventStore, walker: LogWalker, start: int, size: int, held_at: datetime
) -> None:
    """A witnessed size whose root the log no longer has says only that something at or after
    the last size a witness vouched for changed. When the log holds, at or below the witnessed
    size, events recorded after the witness's checkpoint was made — a restored older dump,
    written on — the rewriting starts at the first of them: before it, nothing was recorded
    that the witness had not seen."""
    after = held_at + timedelta(seconds=1)  # checkpoint times are whole seconds
    first = None
    async for record in store.iter_log(start - 1):
        if record.position > size:
            break
        if record.recorded_at >= after:
            first = record.position
            break
    if first is None or first <= start:
        return
    for i, fault in enumerate(walker.faults):
        if (fault.kind, fault.position, fault.until) == ("witness", start, size):
            walker.faults[i] = msgspec.structs.replace(
                fault,
                position=first,
                detail=f"a checkpoint held outside the database (size {size}) has another "
                f"root: positions {first}..{size} were recorded after the witness saw size "
                f"{size} at {held_at.isoformat()}: they were rewritten",
            )


async def verify_ledger(
    store: EventStore,
    db: AuditDB,
    trusted: TrustedKeys | None,
    *,
    external: Sequence[Checkpoint] = (),
    progress: Progress | None = None,
    batch: int = 5000,
    max_faults: int = 100,
    workers: int | None = None,
    ranges: int | None = None,
) -> VerifyReport:
    """Verify the whole ledger. ``trusted=None`` skips signatures (and says so in the report).

    ``external``: checkpoints known from outside the database (already signature-checked by the
    caller, e.g. from witnesses' state files); each must match the rebuilt tree.
    PostgreSQL only: ``workers`` child processes check the chains, one range of positions each
    (None: 2 for logs of 20,000 events or more on a multi-core machine, else 0); with
    ``workers=0`` the chains are checked in this process, over ``ranges`` ranges (default 1);
    ``ranges=0``: no separate chain pass, one serial walk over whole records (as on SQLite).
    All of them report the same faults (``verify_chains``).
    ``progress(done, total)``: after each page, the events verified so far (on PostgreSQL: the
    fewer of the two passes' counts) of the log's size when the run began; it should only
    take note (it runs in the verifier's loop).
    """
    started = time.perf_counter()
    stored_tree = await db.state()
    head = await store.head()
    expected_total = max(head, stored_tree.size)
    walker = LogWalker(db, stored_tree.size, max_faults)
    cps = _Checkpoints(db, trusted, walker, external)
    chains: asyncio.Task[list[ChainPart]] | None = None
    tally = _Tally(progress, expected_total)
    if db.dialect == "postgresql" and ranges != 0:  # chains apart: this pass reads the hashes
        from ledger.audit.db_postgres import PostgresAuditDB
        from ledger.audit.verify_chains import check_chains, stitch

        assert isinstance(db, PostgresAuditDB)  # the dialect says so
        chains = asyncio.create_task(
            check_chains(
                db.pool,
                store.database.url,
                head,
                workers=workers,
                ranges=ranges,
                batch=max(batch, 10_000),
                max_faults=max_faults,
                progress=None if progress is None else tally.chains,
            )
        )
        tally.chains(0)  # an event counts as verified once both passes have checked it
        leaves = getattr(db, "leaves")  # noqa: B009
        pages: AsyncIterator[Sequence[Any]] = _pages(leaves, _leaves_end, batch)
        add: Callable[[Any, int, int], int] = walker.add_leaves
    else:
        pages = _pages(store.read_log, _records_end, batch)
        add = walker.add_batch
    try:
        due = await cps.next_size()
        if due == 0:
            await cps.check_due(0, EMPTY_ROOT)
            due = await cps.next_size()
        async for page in pages:
            i = 0
            while i < len(page) and not walker.full:
                stop_at = walker.window_end() if due is None else min(due, walker.window_end())
                i = add(page, i, stop_at)
                if walker.size >= walker.window_end():
                    await walker.flush_window()
                if due is not None and walker.size == due and walker.merkle_ok:
                    await cps.check_due(due, walker.root())
                    due = await cps.next_size()
            if progress is not None:
                tally.tree(walker.seen)
            if walker.full:
                break
        if chains is not None:
            parts = await chains
            for part in parts:
                walker.absorb(part.faults, part.full)
            walker.absorb(stitch(parts), False)
    finally:
        if chains is not None and not chains.done():
            chains.cancel()
            await asyncio.gather(chains, return_exceptions=True)
    complete = not walker.full  # stopped early: the tail was not read, so not judged
    await walker.finish(stored_tree, complete)
    for start, size, held_at in cps.rewritten:
        await _place_rewrite(store, walker, start, size, held_at)
    unchecked = 0
    while due is not None:  # checkpoints the rebuilt tree never reached
        if walker.merkle_ok and complete:
            end = walker.size
            walker.fault(
                end + 1,
                "checkpoint",
                f"checkpoint at size {due} is beyond the log, "
                f"which ends at position {end}: events were deleted",
            )
        unchecked += 1
        cps.drop(due)
        due = await cps.next_size()
    if progress is not None:
        progress(walker.seen, expected_total)
    faults = rank(walker.faults)
    first = faults[0] if faults else None
    return VerifyReport(
        ok=not faults,
        events_checked=walker.seen,
        log_size=walker.last_position,
        tree_size=stored_tree.size,
        checkpoints_checked=cps.checked,
        checkpoints_unchecked=unchecked,
        cosignatures_checked=cps.cosigs,
        first_bad_position=first.position if first else None,
        problem=f"{first.kind}: {first.detail}" if first else None,
        faults=faults,
        faults_truncated=walker.full,
        signatures_checked=trusted is not None,
        seconds=round(time.perf_counter() - started, 3),
    )
