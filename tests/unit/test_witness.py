"""Cosignatures (c2sp.org/tlog-cosignature) and the witness's decisions
(c2sp.org/tlog-witness), with the specification's examples as vectors."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime

import pytest

from proctoring import merkle
from proctoring.cosign import (
    WitnessKey,
    WitnessSigner,
    check,
    quorum_problems,
    signed_message,
    split_note,
    with_lines,
)
from proctoring.note import Checkpoint, NoteError, Signer, Verifier, key_id, open_checkpoint
from proctoring.witness import (
    AddCheckpoint,
    LogState,
    RequestError,
    WitnessStore,
    decide,
    parse_request,
)

ORIGIN = "example.com/behind-the-sofa"
LOG = Signer.generate(ORIGIN)
WITNESS = WitnessSigner.generate("witness.example.com/w1")
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def tree(texts: list[str]) -> tuple[int, bytes, dict]:
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in texts)
    return len(texts), merkle.root(len(texts), lambda lv, i: nodes[(lv, i)]), nodes


def note_of(texts: list[str], signer: Signer = LOG) -> str:
    size, root, _ = tree(texts)
    return signer.sign(Checkpoint(ORIGIN, size, root).text())


def proof(texts: list[str], old: int) -> list[bytes]:
    _, _, nodes = tree(texts)
    return merkle.consistency_proof(old, len(texts), lambda lv, i: nodes[(lv, i)])


HISTORY = [f"entry {i}" for i in range(13)]


# -- cosignatures ------------------------------------------------------------------------------


def test_the_specification_example_cosignature_carries_its_timestamp():
    """tlog-cosignature's example line: key ID, then the u64 big-endian timestamp of its
    example message (``time 1679315147``), then a 64-byte Ed25519 signature."""
    line = (
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9d"
        "lrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    text = f"{ORIGIN}\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert signed_message(text, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + text.encode()
    )


def test_a_cosigner_key_id_uses_signature_type_4():
    key = WITNESS.verifier
    assert key.id == key_id(key.name, key.public_key, b"\x04")
    assert key.id != key_id(key.name, key.public_key)  # not the log's type 0x01
    assert WitnessKey.parse(str(key)) == key
    assert WitnessSigner.parse(str(WITNESS)) == WITNESS
    assert base64.b64decode(str(key).split("+", 2)[2])[:1] == b"\x04"
    with pytest.raises(NoteError, match="type 0x04"):
        WitnessKey.parse(str(LOG.verifier))
    with pytest.raises(NoteError, match="type 0x01"):
        Verifier.parse(str(key))


def test_a_cosignature_verifies_and_leaves_the_log_signature_intact():
    note = note_of(HISTORY)
    line = WITNESS.cosign(split_note(note)[0], 1679315147)
    cosigned = with_lines(note, [line])
    assert with_lines(cosigned, [line]) == cosigned  # once only
    assert open_checkpoint(cosigned, LOG.verifier).size == 13
    found = check(cosigned, [WITNESS.verifier])
    assert [c.timestamp for c in found.valid] == [1679315147] and not found.invalid
    other = WitnessSigner.generate("witness.example.com/w2")
    assert check(cosigned, [other.verifier]).valid == []  # an unknown line is ignored
    names, problems = quorum_problems(cosigned, [WITNESS.verifier, other.verifier], 2)
    assert names == ["witness.example.com/w1"]
    assert problems == [
        "checkpoint: 1 of the 2 witness cosignatures required "
        "(witness.example.com/w1 of 2 known witnesses)"
    ]


def test_a_cosignature_on_another_checkpoint_does_not_verify():
    line = WITNESS.cosign(split_note(note_of(HISTORY))[0], 1679315147)
    moved = with_lines(note_of([*HISTORY, "one more"]), [line])
    found = check(moved, [WITNESS.verifier])
    assert found.valid == [] and found.invalid == [line.rstrip("\n")]
    assert quorum_problems(moved, [WITNESS.verifier], 0)[1][0].startswith(
        "checkpoint: a cosignature does not verify"
    )


def test_a_witness_key_makes_no_plain_signatures():
    with pytest.raises(NoteError):
        WITNESS.sign("text\n")
    with pytest.raises(NoteError):
        WITNESS.cosign("text\n", 0)


# -- the witness's decisions -------------------------------------------------------------------


def ask(state: LogState, texts: list[str], old: int, given: list[bytes] | None = None, note=None):
    request = AddCheckpoint(
        old, proof(texts, old) if given is None else given, note or note_of(texts)
    )
    return decide(request, {ORIGIN: LOG.verifier}, state, WITNESS, NOW)


def test_the_first_checkpoint_is_cosigned_and_kept():
    reply = ask(LogState(ORIGIN), HISTORY[:5], 0)
    assert reply.status == 200
    assert check(with_lines(note_of(HISTORY[:5]), [reply.body]), [WITNESS.verifier]).valid
    assert reply.state.latest.size == 5
    assert reply.state.latest.note.endswith(reply.body)
    again = ask(reply.state, HISTORY, 5)
    assert again.status == 200 and again.state.latest.size == 13


@pytest.mark.parametrize(
    ("case", "status"),
    [("unknown log", 404), ("not signed", 403), ("old above size", 400), ("wrong old", 409)],
)
def test_refusals_before_the_consistency_check(case, status):
    state = ask(LogState(ORIGIN), HISTORY[:5], 0).state
    if case == "unknown log":
        reply = decide(AddCheckpoint(5, [], note_of(HISTORY)), {}, state, WITNESS, NOW)
    elif case == "not signed":
        reply = ask(state, HISTORY, 5, note=note_of(HISTORY, Signer.generate(ORIGIN)))
    elif case == "old above size":
        reply = ask(state, HISTORY[:3], 5, [])
    else:
        reply = ask(state, HISTORY, 3)
    assert reply.status == status
    assert reply.state is None  # nothing changes
    if status == 409:
        assert reply.body == "5\n" and reply.media_type == "text/x.tlog.size"


def test_a_fork_of_the_same_size_is_refused_and_kept_as_evidence():
    state = ask(LogState(ORIGIN), HISTORY, 0).state
    forked = [*HISTORY[:12], "entry 12, rewritten"]
    reply = ask(state, forked, 13)
    assert reply.status == 422 and reply.body.startswith("fork:")
    assert reply.state.latest == state.latest  # still the first history
    [evidence] = reply.state.refused
    assert evidence["checkpoint"] == note_of(forked)
    assert LogState.loads(reply.state.dumps()) == reply.state


def test_a_larger_tree_that_does_not_extend_the_cosigned_one_is_refused():
    state = ask(LogState(ORIGIN), HISTORY[:7], 0).state
    rewritten = ["rewritten", *HISTORY[1:]]
    assert ask(state, rewritten, 7).status == 422
    assert ask(state, HISTORY, 7, proof(HISTORY, 7)[:-1]).status == 422
    assert ask(LogState(ORIGIN), HISTORY, 0, proof(HISTORY, 7)).status == 422  # old 0: no proof
    empty = LOG.sign(Checkpoint(ORIGIN, 0, b"\x01" * 32).text())
    assert ask(LogState(ORIGIN), [], 0, [], note=empty).status == 422


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"old 01\n\nx", "leading zeros"),
        (b"new 1\n\nx", "the body is"),
        (b"old 1\nnot-a-hash\n\nx", "line 2"),
        (b"old 1\n" + b"".join([base64.b64encode(b"h" * 32) + b"\n"] * 64) + b"\nx", "at most 63"),
        (b"\xff\n\n", "UTF-8"),
    ],
)
def test_a_malformed_request_is_a_bad_request(body, message):
    with pytest.raises(RequestError, match=message):
        parse_request(body)


def test_the_request_body_round_trips():
    request = AddCheckpoint(5, proof(HISTORY, 5), note_of(HISTORY))
    assert parse_request(request.body().encode()) == request


def test_the_store_keeps_state_on_disk_and_never_rolls_back(tmp_path):
    store = WitnessStore(tmp_path / "w")
    logs = {ORIGIN: LOG.verifier}
    first = AddCheckpoint(0, [], note_of(HISTORY[:4]))
    assert store.handle(first.body().encode(), logs, WITNESS, NOW).status == 200
    assert oct(store.path(ORIGIN).stat().st_mode)[-3:] == "600"
    # Many requests at once from the same old size: exactly one is cosigned.
    replies = []
    sizes = range(5, 13)

    def send(size: int) -> None:
        body = AddCheckpoint(4, proof(HISTORY[:size], 4), note_of(HISTORY[:size])).body()
        replies.append((size, store.handle(body.encode(), logs, WITNESS, NOW)))

    threads = [threading.Thread(target=send, args=(s,)) for s in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [size for size, reply in replies if reply.status == 200]
    assert len(won) == 1
    assert {reply.status for _, reply in replies if reply.status != 200} == {409}
    assert WitnessStore(tmp_path / "w").read(ORIGIN).latest.size == won[0]
    store.path(ORIGIN).write_text("{broken")
    with pytest.raises(ValueError):
        store.read(ORIGIN)
