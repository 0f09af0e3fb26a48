"""Comparing the rebuilt Merkle tree with the stored one, a window of leaves at a time.

Every node the rebuild forms is compared with the stored node of the same position (nodes are
stored in creation order, so a window of leaves is one range of stored nodes): a
leaf that differs names the exact position whose event no longer matches what was appended; an
interior node that differs while all its leaves match means the nodes table itself was altered.
At the end the stored compact range and tree size are compared too.
"""

from __future__ import annotations

from ledger.audit.db import AuditDB, place_runs, span_bytes
from ledger.audit.merkle import CompactRange, nodes_before, pos_node, range_nodes
from ledger.audit.verify_core import WINDOW, ChainWalker, rank


class LogWalker(ChainWalker):
    def __init__(self, db: AuditDB, stored_size: int, max_faults: int = 100) -> None:
        super().__init__(max_faults)
        self.db, self.stored_size = db, stored_size

    def window_end(self) -> int:
        return self.window_start + WINDOW

    async def flush_window(self) -> None:
        """Compare the nodes formed since the last flush with the stored ones."""
        start, end = self.window_start, min(self.size, self.stored_size)
        if end > start:
            lo, hi = nodes_before(start), nodes_before(end)
            mine, runs = self.formed[: hi - lo], await self.db.node_runs(lo, hi)
            if span_bytes(lo, hi, runs) != b"".join(mine):  # only then node by node
                theirs = place_runs(lo, hi, runs)
                if mine != theirs:
                    self._node_faults(lo, mine, theirs)
        self.formed.clear()  # beyond the stored tree there is nothing to compare with
        self.window_start = self.size

    def _node_faults(self, lo: int, mine: list[bytes], theirs: list[bytes | None]) -> None:
        bad_leaves: list[int] = []  # a leaf comes before every node above it, in pos order
        for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            if a == b:
                continue
            level, idx = pos_node(lo + k)
            first, last = idx << level, ((idx + 1) << level) - 1  # leaf indices
            if level == 0:
                bad_leaves.append(idx)
                what = "is missing" if b is None else "no longer matches its event"
                self.fault(
                    idx + 1,
                    "leaf",
                    f"the Merkle leaf of position {idx + 1} {what}: "
                    "the event's hash was changed after it was appended",
                )
            elif not any(first <= j <= last for j in bad_leaves):
                self.fault(
                    first + 1,
                    "node",
                    f"stored Merkle node (level {level}, index "
                    f"{idx}) over positions {first + 1}..{last + 1} is wrong: the nodes "
                    "table was altered",
                )

    async def finish(self, stored: CompactRange, complete: bool) -> None:
        """Flush the last window; if the whole log was read, compare the tree's size and edge."""
        await self.flush_window()
        self.faults = rank(self.faults)[: self.max_faults]
        if not self.merkle_ok or not complete:
            return
        if self.size < stored.size:
            self.fault(
                self.size + 1,
                "missing",
                f"the log ends at position {self.size} but "
                f"{stored.size} events were appended (the Merkle tree has {stored.size} "
                f"leaves): positions {self.size + 1}..{stored.size} were deleted",
            )
        elif self.size > stored.size:
            self.fault(
                stored.size + 1,
                "tree",
                f"positions {stored.size + 1}..{self.size} are "
                "not in the Merkle tree (written without MerkleHook, or forged)",
            )
        elif stored != CompactRange(self.size, self.stack):
            nodes = range_nodes(0, self.size)
            pairs = zip(stored.hashes, self.stack, strict=True)
            level, idx = nodes[next(i for i, (a, b) in enumerate(pairs) if a != b)]
            first, last = (idx << level) + 1, (idx + 1) << level
            self.fault(
                first,
                "tree",
                f"the stored compact range (ledger_merkle_state) differs "
                f"from the rebuilt tree over positions {first}..{last}",
                until=last,
            )
