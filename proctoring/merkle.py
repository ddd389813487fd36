"""Merkle tree hashing and proofs, exactly as RFC 6962 §2.1 / RFC 9162 §2.1 define them.

The tree over entries d[0:n] is MTH: the hash of an empty tree is SHA-256(""), a leaf is
SHA-256(0x00 ‖ d), and an inner node is SHA-256(0x01 ‖ left ‖ right), where the left
subtree holds the largest power of two of entries smaller than n.

Storage works with *perfect subtrees*: node (level, i) covers entries
[i·2^level, (i+1)·2^level). Every subtree the RFC's recursion visits is either such a node
or splits into them, so a root or a proof needs only O(log n) stored nodes, and an append
adds at most log₂ n + 1 nodes (``new_nodes``): the tree is never recomputed.

Everything here is pure; ``NodeSource`` is how a caller hands in stored nodes. Proof
verification follows the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

NodeSource = Callable[[int, int], bytes]
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 §2.1: SHA-256(0x00 ‖ d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH(d[start:end]) from stored perfect-subtree nodes."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return node(level, start >> level)
    k = _split(n)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root(size: int, node: NodeSource) -> bytes:
    return subtree_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeSource) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1, from the leaf's sibling up to the root's child."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")

    def path(m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, start + k), subtree_hash(start + k, end, node)]
        return [*path(m - k, start + k, end), subtree_hash(start, start + k, node)]

    return path(index, 0, size)


def consistency_proof(first: int, second: int, node: NodeSource) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2 (empty when m = n or m = 0)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to {second}")
    if first in (0, second):
        return []

    def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [subtree_hash(start, end, node)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, start + k, complete), subtree_hash(start + k, end, node)]
        return [*subproof(m - k, start + k, end, False), subtree_hash(start, start + k, node)]

    return subproof(first, 0, second, True)


def needed_nodes(compute: Callable[[NodeSource], object]) -> set[tuple[int, int]]:
    """The stored nodes a computation reads, so a caller can fetch them in one query."""
    seen: set[tuple[int, int]] = set()

    def record(level: int, i: int) -> bytes:
        seen.add((level, i))
        return EMPTY_ROOT

    compute(record)
    return seen


def new_nodes(index: int, leaf: bytes, node: NodeSource) -> list[tuple[int, int, bytes]]:
    """The perfect-subtree nodes completed by appending ``leaf`` at ``index``: the leaf
    itself, then each parent whose right edge it is. Reads one left sibling per level."""
    out = [(0, index, leaf)]
    level, i, h = 0, index, leaf
    while i & 1:
        h = node_hash(node(level, i - 1), h)
        level, i = level + 1, i >> 1
        out.append((level, i, h))
    return out


def nodes_for_leaves(leaves: Iterable[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect-subtree node of a whole tree (the verifier's and the tests' view)."""
    nodes: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(leaves):
        for level, j, h in new_nodes(i, leaf, lambda lv, k: nodes[(lv, k)]):
            nodes[(level, j)] = h
    return nodes


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: list[bytes], root_hash: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def frontier(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees that make up a tree of ``size`` leaves (its compact range,
    largest first): all that appending the next leaves reads."""
    return [
        (level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if size >> level & 1
    ]
