"""Merkle tree hashing of RFC 6962 / RFC 9162 (section 2.1), with proofs.

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    MTH(D[n])  = the tree over n leaves, split at the largest power of two below n

`Frontier` keeps only the roots of the perfect subtrees of a growing tree (one per set bit
of its size), so appending is amortised one node hash and the root at any size is at most
log2(n) hashes: the writer keeps it in the store and never reads old leaves back.
"""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The compact state of a tree of `size` leaves: perfect-subtree roots, largest first."""

    __slots__ = ("size", "nodes")

    def __init__(self, size: int = 0, nodes: list[bytes] | None = None) -> None:
        self.size = size
        self.nodes = nodes if nodes is not None else []

    @classmethod
    def decode(cls, size: int, packed: bytes) -> Frontier:
        return cls(size, [packed[i:i + 32] for i in range(0, len(packed), 32)])

    def encode(self) -> bytes:
        return b"".join(self.nodes)

    def append(self, leaf: bytes) -> None:
        nodes = self.nodes
        node = leaf
        size = self.size
        # Each trailing one bit of the old size is a perfect subtree the new leaf completes.
        while size & 1:
            node = hashlib.sha256(b"\x01" + nodes.pop() + node).digest()
            size >>= 1
        nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        node = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            node = hashlib.sha256(b"\x01" + left + node).digest()
        return node


def root(leaves: list[bytes]) -> bytes:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """The audit path of leaf `index` in the tree over `leaves` (RFC 6962 2.1.1, PATH)."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is outside a tree of {len(leaves)}")
    return _path(index, leaves)


def _path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return _path(m, d[:k]) + [root(d[k:])]
    return _path(m - k, d[k:]) + [root(d[:k])]


def consistency_proof(old_size: int, leaves: list[bytes]) -> list[bytes]:
    """Proof that the first `old_size` leaves are a prefix of `leaves` (RFC 6962 2.1.2, PROOF)."""
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"size {old_size} is not within a tree of {len(leaves)}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if whole else [root(d)]
    k = _split(n)
    if m <= k:
        return _subproof(m, d[:k], whole) + [root(d[k:])]
    return _subproof(m - k, d[k:], False) + [root(d[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], expected_root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0 or old_size > new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
