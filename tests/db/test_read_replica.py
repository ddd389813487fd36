"""A read-only server on a read-only PostgreSQL database, as on a streaming replica: it
starts (no migration, heartbeat or signing), serves the log, proofs, rankings and results,
and refuses every request that would write with 503."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exam.app import create_app
from tests.conftest import _fresh_pg_database
from tests.live_server import PASSWORD, prepare_closed_exam, prepare_data


def test_a_read_only_server_on_a_read_only_database(pg_server, tmp_path):
    url, drop = _fresh_pg_database(pg_server)
    try:
        settings = prepare_data(tmp_path / "data", url)
        prepare_closed_exam(settings, checkpoint=True)
        name = make_url(url).database
        admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        admin.dispose()

        replica = settings.model_copy(update={"read_only": True})
        with TestClient(app=create_app(replica)) as client:
            checkpoint = client.get("/api/v1/log/checkpoint")
            assert checkpoint.status_code == 200
            size = int(checkpoint.text.splitlines()[1])
            entries = client.get("/api/v1/log/entries", params={"start": 0, "end": size})
            assert entries.status_code == 200 and len(entries.json()["entries"]) == size
            proof = client.get("/api/v1/log/proof/inclusion", params={"index": 0, "size": size})
            assert proof.status_code == 200, proof.text
            assert client.get("/api/v1/exams/HASIL/rankings").status_code == 200
            assert client.get("/api/v1/log/key").status_code == 200
            refused = client.post(
                "/api/v1/auth/login",
                json={"username": "pengamat", "password": PASSWORD},
                headers={"x-csrftoken": client.cookies.get("csrftoken", "")},
            )
            assert refused.status_code == 503 and "primary" in refused.text
        # The database really refuses writes: a server that writes cannot start on it.
        try:
            with TestClient(app=create_app(settings)):
                started = True
        except Exception:  # any startup failure will do
            started = False
        assert not started
    finally:
        drop()
