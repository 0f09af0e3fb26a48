"""RFC 9162 Merkle tree: published vectors, an independent oracle, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit import merkle
from ledger.audit.merkle import (
    CompactRange,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

from . import reference
from .rfc_vectors import (
    CONSISTENCY_PROOFS,
    INCLUSION_PROOFS,
    LEAF_INPUTS,
    NODE_HASHES,
    ROOT_HASHES,
    SOME_HASH,
)


class MemoryTree:
    """All complete subtrees of a tree, kept the way the hook keeps them."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.compact = CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}
        for data in leaves:
            for level, idx, h in self.compact.append(leaf_hash(data)):
                self.nodes[level, idx] = h

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return merkle.assemble(inclusion_ranges(index, size), self.nodes)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return merkle.assemble(consistency_ranges(first, second), self.nodes)

    def root(self, size: int) -> bytes:
        return merkle.fold([self.nodes[k] for k in merkle.range_nodes(0, size)])


VECTOR_TREE = MemoryTree(LEAF_INPUTS)


@pytest.mark.parametrize("size", range(9))
def test_roots_match_published_vectors(size: int) -> None:
    tree = CompactRange()
    for data in LEAF_INPUTS[:size]:
        tree.append(leaf_hash(data))
    assert tree.root() == ROOT_HASHES[size]
    assert VECTOR_TREE.root(size) == ROOT_HASHES[size]
    assert reference.mth(LEAF_INPUTS[:size]) == ROOT_HASHES[size]


def test_every_complete_subtree_matches_published_node_hashes() -> None:
    for level, row in enumerate(NODE_HASHES):
        for idx, expected in enumerate(row):
            assert VECTOR_TREE.nodes[level, idx] == expected, (level, idx)
    assert len(VECTOR_TREE.nodes) == sum(len(row) for row in NODE_HASHES)


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_vectors(leaf: int, size: int, proof: list[bytes]) -> None:
    index = leaf - 1
    assert VECTOR_TREE.inclusion(index, size) == proof
    lh = leaf_hash(LEAF_INPUTS[index])
    root = ROOT_HASHES[size]
    assert verify_inclusion(index, size, lh, proof, root)
    # The corruptions of transparency-dev's verify_test.go corruptInclusionProof.
    bad = [
        (index - 1, size, lh, proof, root),
        (index + 1, size, lh, proof, root),
        (index ^ 2, size, lh, proof, root),
        (index, size * 2, lh, proof, root),
        (index, size // 2, lh, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, lh, proof, ROOT_HASHES[0]),
        (index, size, lh, proof, SOME_HASH),
        (index, size, lh, [*proof, b""], root),
        (index, size, lh, [*proof, root], root),
        (index, size, lh, [b"", *proof], root),
        (index, size, lh, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        bad.append((index, size, lh, flipped, root))
    if proof:
        bad.append((index, size, lh, proof[:-1], root))
    if len(proof) > 1:
        bad.append((index, size, lh, [proof[0], SOME_HASH, *proof[1:]], root))
    for args in bad:
        assert not verify_inclusion(*args), args


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS)
def test_consistency_vectors(size1: int, size2: int, proof: list[bytes]) -> None:
    assert VECTOR_TREE.consistency(size1, size2) == proof
    r1, r2 = ROOT_HASHES[size1], ROOT_HASHES[size2]
    assert verify_consistency(size1, size2, r1, r2, proof)
    if not proof:
        return
    # The corruptions of transparency-dev's verify_test.go corruptConsistencyProof.
    bad = [
        (size1 - 1, size2, r1, r2, proof),
        (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof),
        (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof),
        (size1, size2, b"WrongRoot", r2, proof),
        (size1, size2, r1, b"WrongRoot", proof),
        (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []),
        (size1, size2, r1, r2, [*proof, b""]),
        (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [*proof, r2]),
        (size1, size2, r1, r2, [b"", *proof]),
        (size1, size2, r1, r2, [r1, *proof]),
        (size1, size2, r1, r2, [r2, *proof]),
        (size1, size2, r1, r2, [proof[0], *proof]),
        (size1, size2, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        bad.append((size1, size2, r1, r2, flipped))
    for args in bad:
        assert not verify_consistency(*args), args


def test_trivial_consistency_cases() -> None:
    # transparency-dev verify_test.go TestVerifyConsistency's table.
    r1, r2, empty = b"don't care 1", b"don't care 2", ROOT_HASHES[0]
    assert not verify_consistency(0, 0, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, empty, r2, [])
    assert not verify_consistency(0, 0, empty, empty, [empty])
    assert not verify_consistency(0, 1, empty, empty, [empty])
    assert not verify_consistency(1, 1, empty, empty, [empty])


def test_invalid_requests_raise_proof_error() -> None:
    with pytest.raises(ProofError):
        inclusion_ranges(5, 5)
    with pytest.raises(ProofError):
        inclusion_ranges(-1, 5)
    with pytest.raises(ProofError):
        consistency_ranges(6, 5)
    assert not verify_inclusion(0, 0, SOME_HASH, [], SOME_HASH)


def test_compact_range_serialisation() -> None:
    for size in range(9):
        tree = CompactRange()
        tree.extend(leaf_hash(d) for d in LEAF_INPUTS[:size])
        again = CompactRange.from_bytes(tree.to_bytes())
        assert again == tree
        assert again.root() == ROOT_HASHES[size]
    with pytest.raises(ValueError, match="malformed"):
        CompactRange.from_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="hashes"):
        CompactRange.from_bytes((3).to_bytes(8, "big") + SOME_HASH)


leaves_st = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(leaves=leaves_st, data=st.data())
def test_generated_inclusion_proofs_verify_and_altered_ones_fail(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MemoryTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion(index, size)
    assert proof == reference.path(index, leaves[:size])
    root = reference.mth(leaves[:size])
    assert tree.root(size) == root
    lh = leaf_hash(leaves[index])
    assert verify_inclusion(index, size, lh, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        altered = list(proof)
        altered[i] = (
            altered[i][: bit // 8]
            + bytes([altered[i][bit // 8] ^ (1 << bit % 8)])
            + altered[i][bit // 8 + 1 :]
        )
        assert not verify_inclusion(index, size, lh, altered, root)
        assert not verify_inclusion(index, size, lh, proof[:-1], root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda j: j != index))
        assert not verify_inclusion(other, size, lh, proof, root) or leaves[other] == leaves[index]


@settings(max_examples=150, deadline=None)
@given(leaves=leaves_st, data=st.data())
def test_generated_consistency_proofs_verify_and_altered_ones_fail(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = MemoryTree(leaves)
    second = data.draw(st.integers(0, len(leaves)))
    first = data.draw(st.integers(0, second))
    proof = tree.consistency(first, second)
    assert proof == reference.proof(first, leaves[:second])
    r1, r2 = reference.mth(leaves[:first]), reference.mth(leaves[:second])
    assert verify_consistency(first, second, r1, r2, proof)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        altered = list(proof)
        altered[i] = bytes([altered[i][0] ^ 1]) + altered[i][1:]
        assert not verify_consistency(first, second, r1, r2, altered)
        assert not verify_consistency(first, second, r1, r2, proof[:-1])
        wrong_root = bytes([r1[0] ^ 1]) + r1[1:]
        assert not verify_consistency(first, second, wrong_root, r2, proof)


@settings(max_examples=100, deadline=None)
@given(leaves=leaves_st, data=st.data())
def test_compact_range_matches_reference_at_every_size(
    leaves: list[bytes], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(leaves)))
    tree = CompactRange()
    tree.extend(leaf_hash(d) for d in leaves[:split])
    resumed = CompactRange.from_bytes(tree.to_bytes())
    formed = resumed.extend(leaf_hash(d) for d in leaves[split:])
    assert resumed.root() == reference.mth(leaves)
    # Exactly the subtrees completed by the appended leaves: every one of them once.
    whole = MemoryTree(leaves)
    expected = {k for k in whole.nodes if (k[1] + 1) << k[0] > split}
    assert {(lv, ix) for lv, ix, _ in formed} == expected
    assert all(whole.nodes[lv, ix] == h for lv, ix, h in formed)


@settings(max_examples=50, deadline=None)
@given(leaves=leaves_st, split=st.integers(0, 70))
def test_extend_run_forms_the_nodes_in_creation_order(leaves: list[bytes], split: int) -> None:
    split = min(split, len(leaves))
    tree = CompactRange()
    tree.extend_run(leaves[:split])
    start = merkle.nodes_before(tree.size)
    run = tree.extend_run(leaves[split:])
    whole = MemoryTree(leaves)
    assert tree == whole.compact
    assert run == [whole.nodes[merkle.pos_node(start + k)] for k in range(len(run))]
    assert start + len(run) == merkle.nodes_before(len(leaves))
