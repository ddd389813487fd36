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


# The eight-leaf test data of the Certificate Transparency reference implementation
# (merkle_tree_test.cc), also used by Go's transparency-dev/merkle: leaves, roots of the
# first n leaves, and RFC 9162 consistency proofs between some of those trees.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
CT_LEAVES.append("606162636465666768696a6b6c6d6e6f")
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_the_certificate_transparency_vectors():
    leaves = [bytes.fromhex(x) for x in CT_LEAVES]
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(x) for x in leaves)
    node = lambda level, i: nodes[(level, i)]  # noqa: E731
    for n, expected in CT_ROOTS.items():
        assert merkle.root(n, node).hex() == expected == mth(leaves[:n]).hex()
    for m, n, hashes in CT_CONSISTENCY:
        proof = [bytes.fromhex(h) for h in hashes]
        assert merkle.consistency_proof(m, n, node) == proof
        roots = bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n])
        assert merkle.verify_consistency(m, n, *roots, proof)
        assert not merkle.verify_consistency(m, n, roots[1], roots[0], proof) or m == n


def test_a_rewritten_history_is_not_consistent_with_the_old_root():
    """What the log signer's guard relies on: change one entry below the old size, and
    no proof from the rewritten tree links it to the old root."""
    honest, forked = data(20), data(20)
    forked[5] = b"rewritten"
    old_root = mth(honest[:12])
    fork = merkle.nodes_for_leaves(merkle.leaf_hash(x) for x in forked)
    node = lambda level, i: fork[(level, i)]  # noqa: E731
    for n in range(12, 21):
        proof = merkle.consistency_proof(12, n, node)
        assert not merkle.verify_consistency(12, n, old_root, merkle.root(n, node), proof)
    assert merkle.verify_consistency(12, 20, mth(forked[:12]), mth(forked), proof)
