"""Two witnesses end to end: the log sends its checkpoints to them over HTTP
(c2sp.org/tlog-witness), a server that forks its log (another history of the same size,
signed with the same key) is refused by both and the refusal is reported, and results that
need K = 2 cosignatures are published only once both witnesses cosigned."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
from click.testing import CliRunner

from exam.adapters import database, migrate
from exam.adapters.models import Exam
from exam.adapters.settings import Settings
from exam.cli import main
from exam.cli_log import write_export
from exam.usecases import results
from exam.usecases.delivery import DeliveryError
from proctoring import checkpoints, cosignatures, log
from proctoring.cosign import WitnessSigner, check
from proctoring.cosignatures import Witness
from proctoring.web.witness_app import create_witness_app
from tests.db.test_delivery import T0, demo_config
from tests.db.test_log_verify import ORIGIN, SIGNER, take_and_close

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


@pytest.fixture
def witnesses(tmp_path):
    """Two witnesses of the log, each with its own key and state folder, served by their
    own HTTP application."""
    out = []
    for n in (1, 2):
        signer = WitnessSigner.generate(f"witness{n}.example/w")
        app = create_witness_app(signer, [SIGNER.verifier], tmp_path / f"witness{n}")
        out.append(
            (Witness(f"http://witness{n}.test", signer.verifier), app, tmp_path / f"witness{n}")
        )
    return out


def collect(session_maker, witnesses) -> list[cosignatures.Outcome]:
    """The log's collection (as its background task runs it) on a synchronous database,
    posting to the witnesses' applications."""
    apps = {w.url: app for w, app, _ in witnesses}

    async def post(url: str, body: str) -> tuple[int, str]:
        base = next(u for u in apps if url.startswith(u))
        transport = httpx.ASGITransport(app=apps[base])
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            reply = await client.post(url, content=body.encode())
            return reply.status_code, reply.text

    async def read(use_case):
        with session_maker() as session:
            return use_case(session)

    async def write(use_case):
        with session_maker() as session, session.begin():
            return use_case(session)

    ws = [w for w, _, _ in witnesses]
    now = lambda: datetime.now(UTC)  # noqa: E731
    # In a thread of its own: a test before this one in the same process may have left
    # an event loop marked running in this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(anyio.run, cosignatures.collect, ws, read, write, post, now).result()


def forked_server(tmp_path, size: int):
    """Another database holding another history of the log, of ``size`` entries, whose
    checkpoint is signed with the same key: what a server that forks its log shows."""
    settings = Settings(data_dir=tmp_path / "fork")
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    maker = database.session_factory(engine)
    with maker() as session, session.begin():
        log.append(
            session,
            [{"type": "forged", "exam": "UJI", "t": i} for i in range(size)],
        )
    with maker() as session, session.begin():
        log.build_tree(session)
        checkpoints.sign(session, SIGNER, ORIGIN, "fork")
    return maker


def test_two_witnesses_refuse_a_fork_and_results_wait_for_both(session_maker, witnesses, tmp_path):
    exam_id = take_and_close(session_maker, demo_config(duration_s=900))
    keys = [w.key for w, _, _ in witnesses]
    later = T0 + timedelta(hours=2)

    # K = 2: nothing is published while no witness has cosigned.
    with session_maker() as session, session.begin():
        exam = session.get(Exam, exam_id)
        exam.min_witnesses = 2
    with session_maker() as session, pytest.raises(DeliveryError) as refused:
        results.publish(session, session.get(Exam, exam_id), 1, later, SIGNER, keys)
    assert "need 2 witness cosignatures" in refused.value.reason
    assert "0 of 2 known witnesses (none)" in refused.value.reason

    # Both witnesses cosign the log's checkpoint.
    outcomes = collect(session_maker, witnesses)
    assert [o.status for o in outcomes] == [200, 200]
    with session_maker() as session:
        size = checkpoints.latest(session).size
        summary = cosignatures.summary(session, keys)
    assert (summary.size, summary.known, summary.signed) == (
        size,
        2,
        ["witness1.example/w", "witness2.example/w"],
    )

    # A server showing another history of the same size is refused by both witnesses…
    fork = forked_server(tmp_path, size)
    outcomes = collect(fork, witnesses)
    assert [o.status for o in outcomes] == [409, 409, 422, 422]  # asked again from their size
    assert all(o.detail.startswith("422: fork:") for o in outcomes[2:])
    # …the refusal is reported by the forked server's own witness summary…
    with fork() as session:
        reported = cosignatures.summary(session, keys)
        assert checkpoints.latest(session).size == size
    assert reported.signed == []
    assert [(p.kind, p.size) for p in reported.problems] == [("refused", size)] * 2
    assert reported.as_dict()["problems"][0]["detail"].startswith("422: fork:")
    # …and kept by each witness as evidence (``seleksi witness show`` exits 1).
    for _, _, state in witnesses:
        shown = CliRunner().invoke(main, ["witness", "show", "--state", str(state)])
        assert shown.exit_code == 1, shown.output
        assert f"cosigned up to {size} entries" in shown.output
        assert "REFUSED" in shown.output and "fork:" in shown.output
    # The true log is unharmed: its checkpoint keeps both cosignatures.
    with session_maker() as session:
        note = cosignatures.cosigned_note(session, checkpoints.latest(session).note, size)
    assert len(check(note, keys).valid) == 2

    # With both cosignatures the results are published, bound to that checkpoint.
    with session_maker() as session, session.begin():
        publication = results.publish(session, session.get(Exam, exam_id), 1, later, SIGNER, keys)
        assert publication.checkpoint_size == size
        entries = [r.entry for r in log.entries(session, 0, log.size(session))]
        checkpoints.sign(session, SIGNER, ORIGIN, "after")
    assert '"type":"results_published"' in entries[-1]

    # An observer requires both witnesses: the new checkpoint is not cosigned yet (exit
    # 1), and once the witnesses cosigned it, the log verifies with K = 2.
    def verify(folder, *extra):
        with session_maker() as session:
            latest = checkpoints.latest(session)
            note = cosignatures.cosigned_note(session, latest.note, latest.size)
            texts = [r.entry for r in log.entries(session, 0, latest.size)]
        write_export(folder, str(SIGNER.verifier), note, texts, [])
        args = ["log", "verify", "--export", str(folder), "--state", str(tmp_path / "st")]
        for key in keys:
            args += ["--witness", str(key)]
        return CliRunner().invoke(main, [*args, *extra])

    before = verify(tmp_path / "e1", "--min-witnesses", "2")
    assert before.exit_code == 1
    assert "0 of the 2 witness cosignatures required" in before.output
    assert [o.status for o in collect(session_maker, witnesses)] == [200, 200]
    after = verify(tmp_path / "e2", "--min-witnesses", "2")
    assert after.exit_code == 0, after.output
    assert "witnesses: 2 of 2 cosigned (witness1.example/w, witness2.example/w)" in after.output
    too_many = verify(tmp_path / "e3", "--min-witnesses", "3")
    assert too_many.exit_code == 2 and "only 2 --witness keys" in too_many.output
