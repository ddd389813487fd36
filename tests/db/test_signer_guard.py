"""The log signer cannot be made to lie, on SQLite and PostgreSQL: after the database's
owner rewrites history (edits an entry, fixes its leaf hash, deletes the nodes and the
checkpoints above it, with the append-only triggers off for the while), the signer refuses
to sign, keeps an alarm that operators and observers see, and a verifier holding an
earlier checkpoint reports the fork."""

import asyncio
import hashlib
import json
import logging

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select, text

from exam.adapters import database
from exam.adapters.models import User
from exam.adapters.security import password_hasher
from exam.app import create_app
from exam.cli import main
from exam.cli_log import state_path, write_export
from proctoring import checkpoints, log, signer_guard
from proctoring.checkpoints import SignerRefusedError
from proctoring.models import LogCheckpoint
from proctoring.note import open_checkpoint
from proctoring.verify import State, verify
from proctoring.web.log_feed import LogFeed

EDITED = 5  # the index of the entry the attacker rewrites


def event(i: int) -> dict:
    return {"type": "test", "exam": "DEMO", "t": 1_700_000_000_000 + i, "n": i}


def grow_and_sign(session_maker, signer, origin: str, start: int, end: int) -> str:
    with session_maker() as session, session.begin():
        log.append(session, [event(i) for i in range(start, end)])
    with session_maker() as session, session.begin():
        log.build_tree(session)
        return checkpoints.sign(session, signer, origin, "periodic")


@pytest.fixture
def signed_log(settings, session_maker):
    """A log of 24 entries with checkpoints at 8, 16 and 24, all served to observers."""
    signer = settings.log_signer()
    notes = [
        grow_and_sign(session_maker, signer, settings.log_origin, a, b)
        for a, b in ((0, 8), (8, 16), (16, 24))
    ]
    return signer, notes


def rewrite_history(session_maker, settings) -> None:
    """The red team's rewrite, with SQL only, as the database's owner."""
    tables = ("log_entries", "log_nodes", "log_checkpoints")
    with session_maker() as session, session.begin():
        if settings.database_url:
            for table in tables:
                session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        else:
            for table in tables:
                for action in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER {table}_no_{action}"))
        forged = json.dumps({**event(EDITED), "n": 999}, separators=(",", ":"), sort_keys=True)
        leaf = hashlib.sha256(b"\x00" + forged.encode()).digest()
        session.execute(
            text('UPDATE log_entries SET entry = :e, leaf_hash = :l WHERE "index" = :i'),
            {"e": forged, "l": leaf, "i": EDITED},
        )
        # Every stored node whose range reaches the edited entry, and every checkpoint
        # that covers it.
        session.execute(
            text("DELETE FROM log_nodes WHERE (idx + 1) * (1 << level) > :i"), {"i": EDITED}
        )
        session.execute(text("DELETE FROM log_checkpoints WHERE size > :i"), {"i": EDITED})
        if settings.database_url:
            for table in tables:
                session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
                for trigger in ("append_only", "no_truncate"):
                    session.execute(
                        text(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_{trigger}")
                    )
        else:
            for table in tables:
                for action in ("UPDATE", "DELETE"):
                    session.execute(
                        text(
                            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} "
                            f"ON {table} BEGIN SELECT RAISE(ABORT, 'the audit log is "
                            "append-only'); END"
                        )
                    )


def stored_sizes(session_maker) -> list[int]:
    with session_maker() as session:
        return list(session.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size)))


def test_an_honest_log_is_signed_and_remembered_beside_the_key(settings, signed_log):
    signer, notes = signed_log
    state = signer_guard.read_state(signer.state_file)
    assert state.alarm is None and state.last.size == 24 and state.last.note == notes[-1]
    assert signer.state_file.parent == settings.resolved_log_key_file.parent


def test_an_explicit_sign_after_the_rewrite_is_refused_with_an_alarm(
    settings, session_maker, signed_log, caplog
):
    signer, _ = signed_log
    rewrite_history(session_maker, settings)
    with (
        caplog.at_level(logging.CRITICAL, logger="proctoring.checkpoints"),
        session_maker() as session,
        session.begin(),
        pytest.raises(SignerRefusedError, match="not consistent") as refused,
    ):
        checkpoints.sign(session, signer, settings.log_origin, "receipt")
    assert refused.value.alarm["remembered_size"] == 24
    assert refused.value.alarm["database_size"] == 24
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert stored_sizes(session_maker) == [], "nothing signed, nothing stored"
    alarm = signer_guard.read_state(signer.state_file).alarm
    assert alarm["remembered_size"] == 24 and "rewritten" in alarm["reason"]
    # The alarm stands (a restart reads it from the file): even an honest-looking
    # request is refused until an operator clears it.
    with session_maker() as session, session.begin(), pytest.raises(SignerRefusedError):
        checkpoints.sign(session, settings.log_signer(), settings.log_origin, "exam_open")


def test_the_periodic_signer_refuses_and_enters_the_evidence_in_the_log(
    settings, session_maker, signed_log
):
    signer, _ = signed_log
    rewrite_history(session_maker, settings)
    feed = LogFeed(database.async_engine(settings), signer, settings.log_origin, 10.0)

    async def run() -> None:
        try:
            with pytest.raises(SignerRefusedError):
                await feed.checkpoint_if_grown()
            with pytest.raises(SignerRefusedError, match="halted"):  # the next round too
                await feed.checkpoint_if_grown()
        finally:
            await feed.engine.dispose()

    asyncio.run(run())
    assert stored_sizes(session_maker) == []
    alarm = signer_guard.read_state(signer.state_file).alarm
    with session_maker() as session:
        entries = [json.loads(e.entry) for e in log.entries(session, 0, log.size(session))]
    refused = [e for e in entries if e["type"] == "signer_refused"]
    assert len(refused) == 1, "one entry per alarm"
    assert refused[0]["remembered_size"] == 24 and refused[0]["database_size"] == 24
    assert refused[0]["remembered_root"] == alarm["remembered_root"]
    assert alarm["log_index"] == entries.index(refused[0])


def test_observers_see_the_alarm_and_the_last_good_checkpoint(settings, session_maker, signed_log):
    _, notes = signed_log
    fast = settings.model_copy(
        update={"argon2_time_cost": 1, "argon2_memory_kib": 8, "downtime_credit": False}
    )
    with session_maker() as session, session.begin():
        session.add(
            User(
                username="pengamat",
                password_hash=password_hasher(fast).hash("pw-12345"),
                role="observer",
            )
        )
    rewrite_history(session_maker, settings)
    with TestClient(app=create_app(fast)) as client:  # its start-up signature is refused
        served = client.get("/api/v1/log/checkpoint")
        assert served.status_code == 200
        assert "rewritten" in served.headers["seleksi-signer-alarm"]
        # The attacker deleted the checkpoints above the edit; the server signed nothing
        # and serves the last good checkpoint, from the signer's state file.
        assert served.text == notes[-1]
        client.get("/login")
        token = client.cookies["csrftoken"]
        client.post(
            "/login",
            data={"username": "pengamat", "password": "pw-12345"},
            headers={"x-csrftoken": token},
        )
        page = client.get("/observer/verify")
        assert page.status_code == 200 and 'id="signer-alarm"' in page.text
        assert "PERINGATAN" in page.text and notes[-1].split("\n")[2] in page.text
    assert stored_sizes(session_maker) == []


def test_a_verifier_holding_an_earlier_checkpoint_reports_the_fork(
    settings, session_maker, signed_log, tmp_path
):
    signer, notes = signed_log
    held = open_checkpoint(notes[1], signer.verifier)  # the checkpoint of 16 entries
    rewrite_history(session_maker, settings)
    with pytest.raises(SignerRefusedError), session_maker() as session, session.begin():
        checkpoints.sign(session, signer, settings.log_origin, "receipt")
    # The server serves the last checkpoint it signed (24 entries) and the database's
    # entries; an observer who kept the checkpoint of 16 entries finds they disagree.
    served = signer_guard.current_alarm(signer)["remembered_checkpoint"]
    with session_maker() as session:
        texts = [e.entry for e in log.entries(session, 0, log.size(session))]
    state = State(held.size, held.root)
    report = verify(texts, served, signer.verifier, settings.log_origin, state)
    assert report.problems, "a verifier with an earlier checkpoint must object"
    states = tmp_path / "state"
    states.mkdir()
    state_path(states, settings.log_origin).write_text(
        State(held.size, held.root, str(signer.verifier)).dumps()
    )
    folder = tmp_path / "export"
    write_export(folder, str(signer.verifier), served, texts, [])
    result = CliRunner().invoke(
        main, ["log", "verify", "--export", str(folder), "--state", str(states)]
    )
    assert result.exit_code == 1, result.output


def test_signer_reset_clears_the_alarm_only_when_asked_to(
    settings, session_maker, signed_log, monkeypatch
):
    signer, _ = signed_log
    rewrite_history(session_maker, settings)
    with pytest.raises(SignerRefusedError), session_maker() as session, session.begin():
        checkpoints.sign(session, signer, settings.log_origin, "receipt")
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    from exam.adapters.settings import get_settings

    get_settings.cache_clear()
    try:
        refused = CliRunner().invoke(main, ["log", "signer-reset"])
        assert refused.exit_code == 2 and "--i-understand" in refused.output
        assert signer_guard.current_alarm(signer) is not None
        ok = CliRunner().invoke(main, ["log", "signer-reset", "--i-understand"])
        assert ok.exit_code == 0 and "cleared the alarm" in ok.output, ok.output
    finally:
        get_settings.cache_clear()
    assert signer_guard.current_alarm(signer) is None
    # The remembered checkpoint stays: the rewritten database is still refused.
    with (
        pytest.raises(SignerRefusedError, match="not consistent"),
        session_maker() as session,
        session.begin(),
    ):
        checkpoints.sign(session, signer, settings.log_origin, "receipt")


def test_a_rolled_back_signature_is_not_remembered(settings, session_maker, signed_log):
    """A checkpoint signed in a transaction that rolls back was never served: the next,
    different entries at those indices are no fork."""
    signer, _ = signed_log
    with session_maker() as session:
        session.begin()
        log.append(session, [{**event(24), "n": "rolled back"}])
        checkpoints.sign(session, signer, settings.log_origin, "exam_open")
        session.rollback()
    note = grow_and_sign(session_maker, signer, settings.log_origin, 24, 26)
    assert open_checkpoint(note, signer.verifier).size == 26
    assert signer_guard.read_state(signer.state_file).last.size == 26
