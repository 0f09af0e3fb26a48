"""The RFC 9162 §2.1 Merkle tree over the global event log.

Leaf ``i`` (0-based) is the event at position ``i + 1``; its leaf data is that event's chain
``hash``. ``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left ‖ right)``.

Nodes are addressed as ``(level, idx)``: the perfect subtree over leaves
``[idx·2^level, (idx+1)·2^level)``. Such a subtree never changes once complete, so the hook stores
each one as it forms (``ledger_merkle_nodes``), keyed by ``node_pos``: its rank in creation order
(post-order, as in a Merkle mountain range). Creation order makes every insert an append at the
right edge of the index, and the nodes formed by any run of appends one contiguous key range.

Every range that occurs in an RFC 9162 proof starts at a multiple of a power of two no smaller
than its length, so its root is a right fold over its binary decomposition into stored perfect
subtrees; at most one range of a proof is not itself perfect, so a proof needs O(log n) lookups
and never reads the log. Proof *generation* is split in two pure steps — which ranges a proof
consists of, and which stored nodes each range needs — so that the caller can fetch all nodes in
one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from ledger.audit.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
NodeKey = tuple[int, int]  # (level, idx)
Range = tuple[int, int]  # [begin, end) in leaf indices


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def nodes_before(size: int) -> int:
    """How many complete subtrees a tree of ``size`` leaves has: 2·size − popcount(size)."""
    return 2 * size - size.bit_count()


def node_pos(level: int, idx: int) -> int:
    """The creation rank of node ``(level, idx)``: it forms when leaf (idx+1)·2^level arrives,
    as the ``level``-th node that append completes."""
    return nodes_before(((idx + 1) << level) - 1) + level


def pos_node(pos: int) -> NodeKey:
    """The inverse of ``node_pos``."""
    lo, hi = 1, pos + 1  # the leaf count e whose append formed it: nodes_before(e) > pos
    while lo < hi:
        mid = (lo + hi) // 2
        if nodes_before(mid) > pos:
            hi = mid
        else:
            lo = mid + 1
    level = pos - nodes_before(lo - 1)
    return level, (lo >> level) - 1


def range_nodes(begin: int, end: int) -> list[NodeKey]:
    """The perfect subtrees that exactly cover ``[begin, end)``, left to right, greedily largest.

    For the ranges that occur in proofs (``begin`` aligned to a power of two ≥ the length) this is
    the RFC 9162 split of the range, so ``fold`` of these nodes is ``MTH(D[begin:end])``.
    """
    nodes: list[NodeKey] = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length()
        while 1 << level > end - begin:
            level -= 1
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree roots (left to right) into the root of their concatenation."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose roots form PATH(index, D[size]) (RFC 9162 §2.1.3.1), in order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()  # the recursion emits the deepest sibling first
    return path


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The leaf ranges whose roots form PROOF(first, D[second]) (RFC 9162 §2.1.4.1), in order."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    path: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append((lo, hi))
    path.reverse()
    return path


def needed_nodes(ranges: Iterable[Range]) -> set[NodeKey]:
    return {key for begin, end in ranges for key in range_nodes(begin, end)}


def assemble(ranges: Iterable[Range], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """Turn proof ranges into proof hashes using fetched nodes (KeyError if one is missing)."""
    return [fold([nodes[key] for key in range_nodes(b, e)]) for b, e in ranges]


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 steps 1–4: the root that ``proof`` implies for ``leaf`` (a leaf hash)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash("leaf hash", leaf)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        _check_hash("proof element", p)
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2. ``leaf`` is the leaf *hash*. False on any mismatch or malformed input."""
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2, plus the trivial cases the RFC leaves to callers (0, equal sizes)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # step 2: first is a power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


class CompactRange:
    """The right edge of the tree: the roots of the perfect subtrees covering ``[0, size)``.

    ``hashes[i]`` is the root of ``range_nodes(0, size)[i]``. Appending is O(log n) amortised
    O(1) and returns every perfect subtree it completed, which is what the hook stores.
    """

    __slots__ = ("_hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} has {size.bit_count()} hashes, "
                f"not {len(self._hashes)}"
            )
        for h in self._hashes:
            _check_hash("compact range hash", h)

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf *hash*; return the completed nodes ``(level, idx, hash)``, leaf first."""
        idx, h, level = self.size, leaf, 0
        formed = [(0, idx, h)]
        s, stack = idx, self._hashes
        while s & 1:
            h = node_hash(stack.pop(), h)
            level, idx, s = level + 1, idx >> 1, s >> 1
            formed.append((level, idx, h))
        stack.append(h)
        self.size += 1
        return formed

    def extend_run(self, leaf_data: Iterable[bytes]) -> list[bytes]:
        """Append leaves given by their *data*; return the hashes of every node formed, in
        creation (``node_pos``) order. The hook's hot path, hence the inlined hashing."""
        sha, stack = hashlib.sha256, self._hashes
        pop, push, size = stack.pop, stack.append, self.size
        formed: list[bytes] = []
        keep = formed.append
        for data in leaf_data:
            h = sha(b"\x00" + data).digest()
            keep(h)
            s = size
            while s & 1:
                h = sha(b"\x01" + pop() + h).digest()
                keep(h)
                s >>= 1
            push(h)
            size += 1
        self.size = size
        return formed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        formed: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            formed.extend(self.append(leaf))
        return formed

    def root(self) -> bytes:
        return fold(self._hashes)

    def to_bytes(self) -> bytes:
        """8-byte big-endian size followed by the hashes (popcount(size) × 32 bytes)."""
        return self.size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        if len(data) < 8 or (len(data) - 8) % HASH_SIZE:
            raise ValueError("malformed compact range encoding")
        size = int.from_bytes(data[:8], "big")
        body = data[8:]
        return cls(size, [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CompactRange)
            and self.size == other.size
            and self._hashes == other._hashes
        )

    def __hash__(self) -> int:
        return hash((self.size, *self._hashes))

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size}, root={self.root().hex()[:16]}…)"
