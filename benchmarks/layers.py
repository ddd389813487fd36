"""Layers: the server's processor time per request, one request at a time.

Where ``load.py`` measures the whole machine under load, this measures what one request
costs the server, layer by layer, with no other request waiting: the processor time of the
server process (Linux /proc, user + system) over many requests sent one after another by a
single HTTP client on loopback.

- ``bare Litestar``: the peer, a Litestar app with one JSON route and nothing else, served
  by the same uvicorn (uvloop, httptools) as Seleksi;
- ``health, anonymous``: Seleksi's ``/healthz`` without a session cookie: the same route
  through Seleksi's middleware (session, authentication, CSRF, security headers);
- ``health, logged in``: the same with an applicant's session cookie, so the session is
  read from the database (one SELECT);
- ``attempt read``: ``GET /api/v1/attempts/{id}``, the applicant's current item;
- ``answer``: ``POST /api/v1/attempts/{id}/answers``, one transaction with the engine's
  step, the log append and the next item in the reply.

On PostgreSQL it also times one read of the session row inside one process, with no HTTP:
through SQLAlchemy as the server does it (a pooled connection, the statement, the
connection returned) and through asyncpg alone with a prepared statement (the peer).

Run:  python benchmarks/layers.py [--db sqlite,postgresql] [--requests 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import servers
from litestar import Litestar, get

from exam.adapters.models import WebSession
from exam.adapters.settings import Settings
from exam.web.sessions import SESSION_STORE, SessionStore
from exam.web.threaded import ThreadedDb

APPLICANTS = 40
ITEMS = 30


@get("/healthz", sync_to_thread=False)
def _health() -> dict[str, str]:
    return {"status": "ok"}


bare_app = Litestar([_health])


def server_cpu_ms(pid: int) -> float:
    return 1000 * sum(servers.proc_cpu_s(p) for p in servers.descendants(pid))


def per_request(pid: int, n: int, send: Callable[[], object]) -> float:
    """Server processor ms per request over ``n`` requests (after 100 unmeasured)."""
    for _ in range(100):
        send()
    before = server_cpu_ms(pid)
    for _ in range(n):
        send()
    return (server_cpu_ms(pid) - before) / n


def bare_litestar(n: int, tmp: Path) -> float:
    port = servers.free_port()
    cmd = [
        *(sys.executable, "-m", "uvicorn", "layers:bare_app", "--port", str(port)),
        *("--app-dir", str(Path(__file__).parent), "--log-level", "warning"),
    ]
    with open(tmp / "bare.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/healthz").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            return per_request(proc.pid, n, lambda: client.get("/healthz").raise_for_status())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def seleksi_layers(settings: Settings, n: int, log_path: Path) -> dict[str, float]:
    servers.prepare(settings, APPLICANTS, 300, ITEMS)
    with servers.running_server(settings, 1, log_path) as (base, proc):
        clients = []
        for k in range(APPLICANTS):
            c = httpx.Client(base_url=base, timeout=60)
            c.get("/healthz")
            c.headers["x-csrftoken"] = c.cookies["csrftoken"]
            login = {"username": f"load{k:05d}", "password": servers.PASSWORD}
            c.post("/api/v1/auth/login", json=login).raise_for_status()
            res = c.post(f"/api/v1/exams/{servers.EXAM_CODE}/attempts")
            clients.append((c, res.raise_for_status().json()["attempt_id"]))
        anonymous = httpx.Client(base_url=base, timeout=60)
        anonymous.get("/healthz")
        first, attempt = clients[0]
        out = {
            "health, anonymous": per_request(
                proc.pid, n, lambda: anonymous.get("/healthz").raise_for_status()
            ),
            "health, logged in": per_request(
                proc.pid, n, lambda: first.get("/healthz").raise_for_status()
            ),
            "attempt read": per_request(
                proc.pid, n, lambda: first.get(f"/api/v1/attempts/{attempt}").raise_for_status()
            ),
        }
        views = {a: c.get(f"/api/v1/attempts/{a}").json() for c, a in clients}
        answers = [(c, a) for _ in range(ITEMS - 1) for c, a in clients]

        def answer() -> None:
            c, a = answers.pop()
            item = views[a]["item"]
            body = {"step": views[a]["step"], "item_id": item["item_id"]}
            body["choice"] = item["options"][0]["key"]
            reply = c.post(f"/api/v1/attempts/{a}/answers", json=body).raise_for_status()
            reply = reply.json()
            views[a] = {"step": reply["next_step"], "item": reply["item"]}

        # Every applicant answers in turn, so the warm-up and the measured answers together
        # use every step but each exam's last (whose reply has no next item).
        out["answer"] = per_request(proc.pid, len(answers) - 100, answer)
        for c, _ in clients:
            c.close()
        anonymous.close()
    return out


async def _session_reads(settings: Settings, n: int) -> dict[str, float]:
    import asyncpg  # noqa: PLC0415 (PostgreSQL only)

    db = ThreadedDb(settings)
    store = SessionStore(db, WebSession, namespace=SESSION_STORE)
    key = secrets.token_hex(32)
    await store.set(key, b"{}", expires_in=3600)
    dsn = settings.resolved_database_url.replace("postgresql+asyncpg", "postgresql")
    raw = await asyncpg.connect(dsn)
    table = WebSession.__tablename__
    prepared = await raw.prepare(
        f"SELECT value FROM {table} WHERE key = $1 AND namespace = $2 "
        "AND (expires_at IS NULL OR expires_at > $3)"
    )

    async def timed(read) -> float:
        for _ in range(100):
            assert await read() is not None
        before = time.process_time()
        for _ in range(n):
            await read()
        return 1000 * (time.process_time() - before) / n

    try:
        return {
            "session row, SQLAlchemy (as served)": await timed(lambda: store.get(key)),
            "session row, asyncpg prepared": await timed(
                lambda: prepared.fetchval(key, SESSION_STORE, datetime.now(UTC))
            ),
        }
    finally:
        await raw.close()
        await db.dispose()


def run_backend(backend: str, args, tmp: Path) -> dict:
    with servers.fresh_database(backend, tmp / backend, "seleksi_layers") as settings:
        result = seleksi_layers(settings, args.requests, tmp / f"{backend}-server.log")
        if backend == "postgresql":
            import uvloop  # noqa: PLC0415

            result |= uvloop.run(_session_reads(settings, args.requests))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per layer")
    parser.add_argument("--json", help="Write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_litestar(args.requests, Path(tmp))
        results = {b: run_backend(b, args, Path(tmp)) for b in args.db.split(",")}
    print(f"\nserver processor ms per request, one at a time ({platform.machine()}, 1 worker)")
    print(f"{'bare Litestar (peer)':38s} {bare:7.3f}")
    for backend, rows in results.items():
        print(f"{backend}:")
        for name, value in rows.items():
            print(f"  {name:36s} {value:7.3f}   {value / bare:5.1f}× bare Litestar")
    if args.json:
        Path(args.json).write_text(json.dumps({"bare_litestar": bare, **results}, indent=2))


if __name__ == "__main__":
    main()
