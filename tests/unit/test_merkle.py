"""RFC 6962 / RFC 9162 Merkle trees: the worked example, and proofs for every size to 100."""

import hashlib

import pytest

from proctoring import merkle


def mth(leaves: list[bytes]) -> bytes:
    """The RFC's recursive definition, straight from the text (the reference)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def tree(n: int):
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(d) for d in data(n))
    return lambda level, i: nodes[(level, i)]


def test_the_rfc_6962_worked_example_of_seven_leaves():
    """RFC 6962 §2.1.3: the tree of d0 … d6 with its named nodes, audit paths and
    consistency proofs."""
    d = data(7)
    a, b, c, dd, e, f, j = (merkle.leaf_hash(x) for x in d)
    g, h, i = merkle.node_hash(a, b), merkle.node_hash(c, dd), merkle.node_hash(e, f)
    k, l_ = merkle.node_hash(g, h), merkle.node_hash(i, j)
    node = tree(7)
    assert merkle.root(7, node) == merkle.node_hash(k, l_) == mth(d)
    assert merkle.inclusion_proof(0, 7, node) == [b, h, l_]
    assert merkle.inclusion_proof(3, 7, node) == [c, g, l_]
    assert merkle.inclusion_proof(4, 7, node) == [f, j, k]
    assert merkle.inclusion_proof(6, 7, node) == [i, k]
    assert merkle.consistency_proof(3, 7, node) == [c, dd, g, l_]
    assert merkle.consistency_proof(4, 7, node) == [l_]
    assert merkle.consistency_proof(6, 7, node) == [i, j, k]


def test_roots_match_the_recursive_definition():
    for n in range(0, 40):
        assert merkle.root(n, tree(n)) == mth(data(n))


def test_every_proof_round_trips_up_to_100():
    node = tree(100)
    roots = [merkle.root(n, node) for n in range(101)]
    leaves = [merkle.leaf_hash(x) for x in data(100)]
    forged = merkle.leaf_hash(b"forged")
    for n in range(1, 101):
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, node)
            assert merkle.verify_inclusion(m, n, leaves[m], proof, roots[n])
            assert not merkle.verify_inclusion(m, n, forged, proof, roots[n])
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, node)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)


@pytest.mark.parametrize(("m", "n"), [(3, 7), (4, 7), (1, 2), (5, 64), (33, 100)])
def test_altered_consistency_proofs_fail(m, n):
    node = tree(n)
    roots = [merkle.root(k, node) for k in range(n + 1)]
    proof = merkle.consistency_proof(m, n, node)
    assert not merkle.verify_consistency(m, n, roots[m - 1], roots[n], proof)
    assert not merkle.verify_consistency(m, n, roots[m], roots[n - 1], proof)
    bad = [bytes(32), *proof[1:]]
    assert not merkle.verify_consistency(m, n, roots[m], roots[n], bad)
    assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1])


def test_altered_inclusion_proofs_fail():
    node = tree(37)
    top = merkle.root(37, node)
    leaf = merkle.leaf_hash(data(37)[20])
    proof = merkle.inclusion_proof(20, 37, node)
    assert merkle.verify_inclusion(20, 37, leaf, proof, top)
    assert not merkle.verify_inclusion(21, 37, leaf, proof, top)
    assert not merkle.verify_inclusion(20, 37, leaf, [*proof[:-1], bytes(32)], top)
    assert not merkle.verify_inclusion(20, 37, leaf, proof[:-1], top)
    assert not merkle.verify_inclusion(37, 37, leaf, proof, top)


def test_appends_read_one_node_per_level_and_add_at_most_log_n():
    nodes = {}
    reads = []

    def node(level, k):
        reads.append((level, k))
        return nodes[(level, k)]

    for i, d in enumerate(data(1024)):
        reads.clear()
        added = merkle.new_nodes(i, merkle.leaf_hash(d), node)
        assert len(reads) == len(added) - 1 <= (i + 1).bit_length()
        nodes.update({(lv, k): h for lv, k, h in added})
    wanted = merkle.needed_nodes(lambda n: merkle.inclusion_proof(700, 1000, n))
    assert len(wanted) <= 2 * 10


def test_needed_nodes_lists_what_a_proof_reads():
    node = tree(50)
    keys = merkle.needed_nodes(lambda n: merkle.consistency_proof(13, 50, n))
    fetched = {key: node(*key) for key in keys}
    assert merkle.consistency_proof(13, 50, lambda lv, i: fetched[(lv, i)]) == (
        merkle.consistency_proof(13, 50, node)
    )
