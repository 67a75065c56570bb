"""An independent RFC 6962 implementation for the tests: straight from the RFC's recursive
definitions, sharing no code with aiplane.domain.merkle."""

from __future__ import annotations

import hashlib


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, path: list[bytes]) -> bytes:
    path = list(path)
    if size == 1:
        assert not path, "proof too long"
        return leaf_hash
    k = split(size)
    last = path.pop()
    if index < k:
        return node(root_from_inclusion(index, k, leaf_hash, path), last)
    return node(last, root_from_inclusion(index - k, size - k, leaf_hash, path))


def roots_from_consistency(m: int, n: int, old_root: bytes, proof: list[bytes]) -> tuple[bytes, bytes]:
    """(old root, new root) that `proof` implies; raises if it has the wrong length."""
    remaining = list(proof)

    def sub(m: int, n: int, whole: bool) -> tuple[bytes, bytes]:
        if m == n:
            if whole:
                return old_root, old_root
            h = remaining.pop()
            return h, h
        k = split(n)
        last = remaining.pop()
        if m <= k:
            old, new = sub(m, k, whole)
            return old, node(new, last)
        old, new = sub(m - k, n - k, False)
        return node(last, old), node(last, new)

    result = sub(m, n, True)
    assert not remaining, "proof too long"
    return result
