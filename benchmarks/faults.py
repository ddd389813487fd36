"""Fault campaign: kill -9 at random moments under load, PostgreSQL restarts, retrying clients.

Simulated applicants (default 200) take the 30-item adaptive exam of ``benchmarks/load.py``
through the JSON API of a real server, thinking 1–5 s per item. Their client gives up on a
request after 1.5 s and sends the same request again until it gets a reply, as a browser on
a bad connection does; the answer's (attempt, step) makes the retry safe.

Meanwhile ``--rounds`` times (default 20), after 2–5 s of work, the server is killed with
SIGKILL and started again on the same port: most rounds after 0.5–3 s, every fourth after
8 s, long enough to be credited as downtime. On PostgreSQL, ``--pg-restarts`` of the rounds
restart PostgreSQL itself (``pg_ctlcluster … restart``) instead, with the server running.

Afterwards the server is stopped and everything is counted back from the database:

- acknowledged answers lost (a reply said stored, the database does not hold it);
- duplicated or skipped steps (each attempt's steps must be 0, 1, 2, … once each), and
  answers stored differently from their acknowledgement;
- answers a retry turned into a second, different answer (409 "already answered");
- deadlines moved by anything but the logged downtime credits (each attempt's final
  deadline = its first deadline + the credits of the outages it was running through);
- ``seleksi log verify`` on an export of the log (signatures, tree, event rules: no second
  answer to a step, no skipped step, no answer after the deadline with the credits applied).

Run:  python benchmarks/faults.py [--db sqlite|postgresql] [--rounds 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from servers import ARGON2, EXAM_CODE, PASSWORD, PG_SERVER, free_port, load_exam, prepare
from sqlalchemy import create_engine, select, text

from exam.adapters import database
from exam.adapters.models import Attempt, Response
from exam.adapters.settings import Settings
from proctoring import checkpoints
from proctoring.models import LogEntry

LONG_DOWN_S = 8.0
#: How long after a PostgreSQL restart a 5xx still counts as the restart's: requests already
#: queued for a connection when it went down, and the clients' 0.3 s pause before a retry.
PG_SETTLE_S = 5.0
DURATION_MS = load_exam(30).duration_s * 1000


@dataclass
class Applicant:
    name: str
    attempt: int = 0
    first_deadline: str = ""
    acked: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    retries: int = 0
    conflicts: list[str] = field(default_factory=list)
    finished: bool = False


@dataclass
class Campaign:
    kills: int = 0
    pg_restarts: int = 0
    down_s: list[float] = field(default_factory=list)
    transport_errors: int = 0
    server_errors: int = 0
    #: When each 5xx reply arrived, and each PostgreSQL restart's start and end (monotonic).
    server_error_at: list[float] = field(default_factory=list)
    pg_windows: list[tuple[float, float]] = field(default_factory=list)

    def server_errors_near_pg_restarts(self, after_s: float = PG_SETTLE_S) -> int:
        """5xx replies that came during a PostgreSQL restart or up to ``after_s`` after it."""
        return sum(
            any(start <= t <= end + after_s for start, end in self.pg_windows)
            for t in self.server_error_at
        )


class Server:
    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings, self.log_path = settings, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            SELEKSI_DATA_DIR=str(self.settings.data_dir),
            SELEKSI_ARGON2_TIME_COST="1",
            SELEKSI_ARGON2_MEMORY_KIB="8",
        )
        env.pop("SELEKSI_DATABASE_URL", None)
        if self.settings.database_url:
            env["SELEKSI_DATABASE_URL"] = self.settings.database_url
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exam", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(self.log_path.read_text(errors="replace")[-2000:])

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=30)


async def request(client, campaign: Campaign, a: Applicant, method: str, url: str, **kw):
    """Send until a reply arrives: a timeout or a refused connection is retried as is."""
    while True:
        try:
            res = await client.request(method, url, timeout=1.5, **kw)
        except httpx.TransportError:
            campaign.transport_errors += 1
            a.retries += 1
            await asyncio.sleep(0.3)
            continue
        if res.status_code >= 500:
            campaign.server_errors += 1
            campaign.server_error_at.append(time.monotonic())
            a.retries += 1
            await asyncio.sleep(0.3)
            continue
        return res


async def applicant(url: str, a: Applicant, bank: dict, campaign: Campaign, rng, stop) -> None:
    async with httpx.AsyncClient(base_url=url) as c:
        await request(c, campaign, a, "GET", "/healthz")
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        login = {"username": a.name, "password": PASSWORD}
        while True:
            # A login whose reply was lost to a kill is simply done again.
            res = await request(c, campaign, a, "POST", "/api/v1/auth/login", json=login)
            assert res.status_code == 200, res.text
            res = await request(c, campaign, a, "POST", f"/api/v1/exams/{EXAM_CODE}/attempts")
            if res.status_code == 200:
                break
            a.conflicts.append(f"start: {res.status_code} {res.text[:120]}")
        a.attempt, a.first_deadline = res.json()["attempt_id"], res.json()["deadline"]
        while not stop.is_set():
            view = (await request(c, campaign, a, "GET", f"/api/v1/attempts/{a.attempt}")).json()
            if view["status"] != "active" or view["item"] is None:
                a.finished = True
                return
            item = view["item"]
            keys = bank[item["item_id"]][1]
            choice = rng.choice(keys)
            await asyncio.sleep(rng.uniform(1.0, 5.0))
            body = {"step": view["step"], "item_id": item["item_id"], "choice": choice}
            res = await request(
                c, campaign, a, "POST", f"/api/v1/attempts/{a.attempt}/answers", json=body
            )
            if res.status_code == 200:
                a.acked[view["step"]] = (item["item_id"], choice, res.json()["log_index"])
            else:
                a.conflicts.append(f"step {view['step']}: {res.status_code} {res.text[:120]}")


def restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
    )


async def faults(server: Server, campaign: Campaign, rounds: int, pg_rounds: set[int], rng, stop):
    for r in range(rounds):
        await asyncio.sleep(rng.uniform(2.0, 5.0))
        if r in pg_rounds:
            started = time.monotonic()
            await asyncio.to_thread(restart_postgresql)
            campaign.pg_windows.append((started, time.monotonic()))
            campaign.pg_restarts += 1
            continue
        await asyncio.to_thread(server.kill9)
        campaign.kills += 1
        down = LONG_DOWN_S if r % 4 == 3 else rng.uniform(0.5, 3.0)
        campaign.down_s.append(down)
        await asyncio.sleep(down)
        await asyncio.to_thread(server.start)
    stop.set()


async def drive(server: Server, applicants: list[Applicant], bank, campaign, args) -> None:
    rng = random.Random(args.seed)
    stop = asyncio.Event()
    pg_rounds = set(rng.sample(range(args.rounds), args.pg_restarts)) if args.pg_restarts else set()
    tasks = [
        asyncio.create_task(applicant(server.url, a, bank, campaign, random.Random(k), stop))
        for k, a in enumerate(applicants)
    ]
    await faults(server, campaign, args.rounds, pg_rounds, rng, stop)
    await asyncio.gather(*tasks)


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def check(settings: Settings, applicants: list[Applicant]) -> dict:
    engine = database.sync_engine(settings)
    problems: list[str] = []
    with database.session_factory(engine)() as s:
        credits = [
            json.loads(e)
            for e in s.scalars(
                select(LogEntry.entry).where(LogEntry.entry.contains('"downtime_credited"'))
            )
        ]
        lost = stored_answers = 0
        for a in applicants:
            attempt = s.get(Attempt, a.attempt)
            rows = s.execute(
                select(Response.step, Response.item_id, Response.choice, Response.log_index)
                .where(Response.attempt_id == a.attempt)
                .order_by(Response.step)
            ).all()
            stored_answers += len(rows)
            steps = [r.step for r in rows]
            if steps != list(range(len(rows))):
                problems.append(f"{a.name}: steps {steps}")
            by_step = {r.step: (r.item_id, r.choice, r.log_index) for r in rows}
            for step, ack in a.acked.items():
                if by_step.get(step) != ack:
                    lost += 1
                    problems.append(
                        f"{a.name}: step {step} acknowledged as {ack}, stored {by_step.get(step)}"
                    )
            finished = attempt.finished_at
            owed = sum(
                c["credit_ms"]
                for c in credits
                if int(attempt.started_at.timestamp() * 1000) <= c["to"]
                # Running when the credit was given: finished (if at all) after the restart.
                and (finished is None or int(finished.timestamp() * 1000) > c["to"])
            )
            # From the start's own deadline (a client may first see it after a credit, when
            # the reply to its start was lost to a kill).
            first = int(attempt.started_at.timestamp() * 1000) + DURATION_MS
            moved = int(attempt.deadline_at.timestamp() * 1000) - first
            if abs(moved - owed) > 2:  # whole milliseconds on both sides
                started = int(attempt.started_at.timestamp() * 1000)
                problems.append(
                    f"{a.name}: deadline moved {moved} ms, credited {owed} ms "
                    f"(started {started}, first deadline {first}, credits "
                    f"{[(c['from'], c['to'], c['credit_ms']) for c in credits]})"
                )
        checkpoints.sign(s, settings.log_signer(), settings.log_origin, "campaign")
        s.commit()
    engine.dispose()
    return {
        "lost": lost,
        "stored_answers": stored_answers,
        "credits": len(credits),
        "credited_s": sum(c["credit_ms"] for c in credits) / 1000,
        "problems": problems,
    }


def verify_log(settings: Settings, tmp: Path) -> tuple[int, str]:
    env = dict(os.environ, SELEKSI_DATA_DIR=str(settings.data_dir))
    env.pop("SELEKSI_DATABASE_URL", None)
    if settings.database_url:
        env["SELEKSI_DATABASE_URL"] = settings.database_url
    out = tmp / "export"
    run = [sys.executable, "-m", "exam", "log"]
    subprocess.run([*run, "export", "--out", str(out)], env=env, check=True, capture_output=True)
    key = str(settings.log_signer().verifier)
    done = subprocess.run(
        [*run, "verify", "--export", str(out), "--key", key, "--state", str(tmp / "state")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--applicants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg-restarts", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.pg_restarts and args.db != "postgresql":
        parser.error("--pg-restarts needs --db postgresql")
    with tempfile.TemporaryDirectory(prefix="seleksi-faults-") as tmp_name:
        tmp = Path(tmp_name)
        url, admin, name = None, None, None
        if args.db == "postgresql":
            name = f"seleksi_faults_{os.getpid()}"
            admin = create_engine(
                f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", pool_pre_ping=True
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = f"{PG_SERVER}/{name}"
        settings = Settings(data_dir=tmp / "data", database_url=url, **ARGON2)
        try:
            bank = prepare(settings, args.applicants, 300, 30)
            server = Server(settings, tmp / "server.log")
            server.start()
            applicants = [Applicant(f"load{k:05d}") for k in range(args.applicants)]
            campaign = Campaign()
            started = time.monotonic()
            try:
                asyncio.run(drive(server, applicants, bank, campaign, args))
            finally:
                server.stop()
            elapsed = time.monotonic() - started
            counted = check(settings, applicants)
            rc, verify_out = verify_log(settings, tmp)
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    result = {
        "db": args.db,
        "applicants": args.applicants,
        "kills": campaign.kills,
        "pg_restarts": campaign.pg_restarts,
        "down_s": [round(d, 2) for d in campaign.down_s],
        "campaign_s": round(elapsed, 1),
        "acknowledged": sum(len(a.acked) for a in applicants),
        "retried_requests": sum(a.retries for a in applicants),
        "transport_errors": campaign.transport_errors,
        "server_errors_retried": campaign.server_errors,
        "server_errors_pg_restart": campaign.server_errors_near_pg_restarts(),
        "double_answers": sum(len(a.conflicts) for a in applicants),
        "finished": sum(a.finished for a in applicants),
        **counted,
        "verify_rc": rc,
        "verify": verify_out.splitlines()[-1] if verify_out else "",
    }
    problems = result.pop("problems")
    for key, value in result.items():
        print(f"{key:24} {value}")
    for p in problems[:20]:
        print("PROBLEM", p)
    ok = not problems and result["double_answers"] == 0 and rc == 0 and result["lost"] == 0
    print("campaign:", "PASSED" if ok else "FAILED")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "problems": problems}, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
