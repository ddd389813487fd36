"""C2SP signed notes, checkpoints and tlog proofs, against Go's sumdb/note reference vector."""

import pytest

from proctoring import merkle
from proctoring.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    format_proof,
    open_checkpoint,
    open_note,
    parse_proof,
)

# golang.org/x/mod/sumdb/note, the package documentation's example.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_go_reference_note_signs_and_verifies_byte_for_byte():
    signer = Signer.parse(GO_SIGNER)
    assert str(signer.verifier) == GO_VERIFIER
    assert str(signer) == GO_SIGNER
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == GO_TEXT


def test_altered_notes_and_wrong_keys_are_refused():
    verifier = Verifier.parse(GO_VERIFIER)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptograph"), verifier)
    other = Signer.generate("PeterNeumann")
    with pytest.raises(NoteError, match="no signature"):
        open_note(GO_NOTE, other.verifier)
    with pytest.raises(NoteError):
        Verifier.parse(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(NoteError):
        open_note(GO_TEXT, verifier)


def test_checkpoint_and_tlog_proof_round_trip():
    signer = Signer.generate("seleksi.example/log")
    leaves = [merkle.leaf_hash(f"e{i}".encode()) for i in range(11)]
    nodes = merkle.nodes_for_leaves(leaves)

    def node(level, i):
        return nodes[(level, i)]

    cp = Checkpoint("seleksi.example/log", 11, merkle.root(11, node))
    note = signer.sign(cp.text())
    assert open_checkpoint(note, signer.verifier, "seleksi.example/log") == cp
    with pytest.raises(NoteError, match="not 'other'"):
        open_checkpoint(note, signer.verifier, "other")

    text = format_proof(7, merkle.inclusion_proof(7, 11, node), note, extra=b"answer")
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra YW5zd2Vy\nindex 7\n")
    proof = parse_proof(text)
    assert proof.index == 7 and proof.extra == b"answer" and proof.checkpoint_note == note
    opened = open_checkpoint(proof.checkpoint_note, signer.verifier)
    assert merkle.verify_inclusion(7, opened.size, leaves[7], proof.hashes, opened.root)
    assert not merkle.verify_inclusion(7, opened.size, leaves[6], proof.hashes, opened.root)


@pytest.mark.parametrize(
    "broken",
    [
        "c2sp.org/tlog-proof@v2\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nnot-base64!\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n",
    ],
)
def test_malformed_proofs_are_refused(broken):
    with pytest.raises(NoteError):
        parse_proof(broken)
