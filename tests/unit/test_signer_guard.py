"""The log signer's guard: the decision, the state file beside the key, its lock."""

import fcntl
import os
import stat
import threading
import time
from datetime import UTC, datetime

import pytest

from proctoring import merkle, signer_guard
from proctoring.keys import load_or_create
from proctoring.signer_guard import Remembered, SignerRefusedError, SignerState

ORIGIN = "test.example/log"


def tree(texts: list[bytes]):
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t) for t in texts)
    return lambda level, i: nodes[(level, i)]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def remembered(n: int) -> Remembered:
    return Remembered(n, merkle.root(n, tree(entries(n))), f"note of {n}\n")


def test_check_accepts_a_tree_that_extends_the_last_checkpoint():
    node = tree(entries(30))
    last = remembered(12)
    for n in (12, 13, 16, 30):
        proof = merkle.consistency_proof(12, n, node)
        assert signer_guard.check(last, n, merkle.root(n, node), proof) is None
    assert signer_guard.check(None, 5, merkle.root(5, node), []) is None


def test_check_refuses_a_smaller_tree_and_a_rewritten_one():
    last = remembered(12)
    node = tree(entries(30))
    assert "fewer than the 12" in signer_guard.check(last, 11, merkle.root(11, node), [])
    forked = entries(30)
    forked[3] = b"rewritten"
    fork = tree(forked)
    for n in (12, 20):
        proof = merkle.consistency_proof(12, n, fork)
        reason = signer_guard.check(last, n, merkle.root(n, fork), proof)
        assert reason is not None and "not consistent" in reason


def test_the_state_file_round_trips_atomically_with_mode_0600(tmp_path):
    path = tmp_path / "log-signing.state"
    assert signer_guard.read_state(path) == SignerState()
    state = SignerState(remembered(7), {"reason": "x", "detected_at": "2026-01-01T00:00:00+00:00"})
    signer_guard.write_state(path, state)
    assert signer_guard.read_state(path) == state
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    signer_guard.write_state(path, SignerState(remembered(9)))
    assert signer_guard.read_state(path).last.size == 9
    assert [p.name for p in tmp_path.iterdir()] == ["log-signing.state"]  # no temp left


def test_a_damaged_state_file_refuses_rather_than_disarming_the_guard(tmp_path):
    path = tmp_path / "log-signing.state"
    path.write_text("{not json")
    with pytest.raises(SignerRefusedError, match="damaged"):
        signer_guard.read_state(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(SignerRefusedError, match="damaged"):
        signer_guard.read_state(path)


def test_the_state_and_lock_sit_beside_the_key(tmp_path):
    signer = load_or_create(tmp_path / "log-signing.key", ORIGIN)
    assert signer.state_file == tmp_path / "log-signing.state"
    assert signer.lock_file == tmp_path / "log-signing.lock"
    assert load_or_create(tmp_path / "log-signing.key", ORIGIN).verifier == signer.verifier


def test_remember_keeps_the_largest_checkpoint(tmp_path):
    signer = load_or_create(tmp_path / "log-signing.key", ORIGIN)
    signer_guard.remember(signer, remembered(10))
    signer_guard.remember(signer, remembered(8))  # committed later, but smaller
    assert signer_guard.read_state(signer.state_file).last == remembered(10)
    signer_guard.remember(signer, remembered(15))
    assert signer_guard.read_state(signer.state_file).last == remembered(15)


def test_an_alarm_stays_until_reset(tmp_path):
    signer = load_or_create(tmp_path / "log-signing.key", ORIGIN)
    signer_guard.remember(signer, remembered(10))
    evidence = signer_guard.alarm("why", remembered(10), 9, b"\x01" * 32, datetime.now(UTC))
    signer_guard.raise_alarm(signer, evidence)
    assert signer_guard.current_alarm(signer)["remembered_size"] == 10
    assert signer_guard.current_alarm(signer)["database_size"] == 9
    signer_guard.note_alarm_entry(signer, evidence["detected_at"], 42)
    assert signer_guard.current_alarm(signer)["log_index"] == 42
    before = signer_guard.reset(signer, forget_checkpoint=False)
    assert before.alarm["reason"] == "why"
    state = signer_guard.read_state(signer.state_file)
    assert state.alarm is None and state.last == remembered(10)
    signer_guard.reset(signer, forget_checkpoint=True)
    assert signer_guard.read_state(signer.state_file) == SignerState()


def test_the_lock_is_exclusive_between_holders(tmp_path):
    signer = load_or_create(tmp_path / "log-signing.key", ORIGIN)
    order = []
    with signer_guard.locked(signer):
        fd = os.open(signer.lock_file, os.O_RDWR)
        with pytest.raises(BlockingIOError):  # another holder (another worker) must wait
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)

        def other() -> None:
            with signer_guard.locked(signer):
                order.append("other")

        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.1)
        order.append("first")
    thread.join(5)
    assert order == ["first", "other"]
