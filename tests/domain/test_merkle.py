"""The Merkle tree against an independent implementation of RFC 6962 (tests/independent_merkle.py)."""

from __future__ import annotations

import pytest

from aiplane.domain import merkle
from tests import independent_merkle as ref

LEAVES = [ref.leaf(b"entry %d" % i) for i in range(70)]


def test_leaf_and_node_hashes_use_the_rfc_6962_domain_separation():
    assert merkle.leaf_hash(b"x") == ref.leaf(b"x")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == ref.node(b"a" * 32, b"b" * 32)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 70])
def test_the_incremental_frontier_gives_the_rfc_root_at_every_size(n: int):
    frontier = merkle.Frontier()
    for i in range(n):
        frontier.append(LEAVES[i])
        assert frontier.root() == ref.mth(LEAVES[: i + 1])
    again = merkle.Frontier.decode(frontier.size, frontier.encode())
    again.append(LEAVES[0])
    assert again.root() == ref.mth(LEAVES[:n] + [LEAVES[0]])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 70])
def test_inclusion_proofs_check_out_independently_and_with_our_verifier(n: int):
    root = ref.mth(LEAVES[:n])
    for index in range(n):
        proof = merkle.inclusion_proof(index, LEAVES[:n])
        assert ref.root_from_inclusion(index, n, LEAVES[index], proof) == root
        assert merkle.verify_inclusion(index, n, LEAVES[index], proof, root)
        assert not merkle.verify_inclusion(index, n, ref.leaf(b"other"), proof, root)


@pytest.mark.parametrize("m,n", [(1, 1), (1, 2), (2, 3), (3, 7), (4, 8), (4, 9), (6, 70), (33, 70), (64, 70), (70, 70)])
def test_consistency_proofs_check_out_independently_and_with_our_verifier(m: int, n: int):
    old, new = ref.mth(LEAVES[:m]), ref.mth(LEAVES[:n])
    proof = merkle.consistency_proof(m, LEAVES[:n])
    assert ref.roots_from_consistency(m, n, old, proof) == (old, new)
    assert merkle.verify_consistency(m, n, old, new, proof)
    if m < n:
        forged = LEAVES[:m - 1] + [ref.leaf(b"forged")]
        assert not merkle.verify_consistency(m, n, ref.mth(forged), new, proof)
