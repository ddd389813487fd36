"""Killing the server with SIGKILL mid-exam loses no acknowledged answer.

Five applicants answer the 10-minute exam UJI concurrently against a real server process.
At a random moment, while at least one answer is in flight, the server gets SIGKILL. The
test records every answer the server acknowledged (a 2xx reply) and then checks, in the
database the killed server left and through the API of a server restarted on it:

- every acknowledged answer is stored exactly once (one response row, one ``answer`` log
  entry) with its item, choice, log index and next step; steps have no gaps or duplicates;
  an answer in flight at the kill is either stored whole or not at all;
- the attempt resumes at the next step with the item that was served there (or the step
  after, when the in-flight answer was stored); its deadline is the one set at the start
  and the remaining time counts down to it, not from the full duration;
- the login session survives (same cookies, same CSRF token); the same answers sent again
  get the same replies;
- each applicant can finish the exam and gets a result whose receipt lists every answer.

Runs on SQLite and, when it is reachable, PostgreSQL. ``SELEKSI_TEST_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from exam.adapters import database
from exam.adapters.models import Attempt, Enrollment, Response, User
from exam.usecases import downtime
from proctoring import openings
from proctoring.models import LogEntry, LogHead
from proctoring.seal import open_entries
from tests.conftest import _fresh_pg_database
from tests.live_server import APPLICANTS, EXAMS, PASSWORD, LiveServer, prepare_data

EXAM = "UJI"
DURATION_S = dict(EXAMS)[EXAM]
#: Answers an applicant gives at most before the kill (the exam has 9 items).
CAP_BEFORE_KILL = 6
#: The remaining time may differ from deadline − now by this much (whole seconds, clocks).
TOLERANCE_S = 2
#: One answer of this applicant (after a random number of others) reaches the server and
#: is stored, but its reply is never read: the kill comes after the commit and before the
#: client saw the acknowledgement.
UNREAD = APPLICANTS[-1]
#: The others give at most this many answers before UNREAD's answer is stored.
GATE = 2
#: At least this long passes between the start and the check after the restart, so a timer
#: reset to the full duration would show beyond the tolerance.
MIN_ELAPSED_S = TOLERANCE_S + 3


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path):
    """A prepared data dir and a server on it that the test can SIGKILL and restart."""
    url = drop = None
    if request.param == "postgresql":
        url, drop = _fresh_pg_database(request.getfixturevalue("pg_server"))
    srv = None
    try:
        srv = LiveServer(prepare_data(tmp_path / "data", url))
        srv.start()
        yield srv
    finally:
        if srv is not None:
            srv.stop()
        if drop is not None:
            drop()


@dataclass
class Ack:
    item_id: str
    choice: str
    log_index: int
    next_step: int | None


@dataclass
class Applicant:
    name: str
    attempt: int = 0
    deadline: datetime | None = None
    cookies: httpx.Cookies = field(default_factory=httpx.Cookies)
    csrf: str = ""
    served: dict[int, str] = field(default_factory=dict)  # step → item seen in a GET
    acked: dict[int, Ack] = field(default_factory=dict)  # step → acknowledged answer
    in_flight: tuple[int, str, str] | None = None  # (step, item, choice) without a reply
    unread_after: int | None = None  # UNREAD: answers acknowledged before the unread one
    unexpected: list[str] = field(default_factory=list)


def run_in_thread(coro_fn, *args):
    # A loop of its own: the browser tests' Playwright may hold this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn(*args))).result()


def new_client(url: str, a: Applicant | None = None) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=url, timeout=60)
    if a is not None:
        c.cookies = httpx.Cookies(a.cookies)
        c.headers["x-csrftoken"] = a.csrf
    return c


async def log_in_and_start(url: str, a: Applicant) -> httpx.AsyncClient:
    c = new_client(url)
    await c.get("/login")
    a.csrf = c.cookies["csrftoken"]
    c.headers["x-csrftoken"] = a.csrf
    res = await c.post("/api/v1/auth/login", json={"username": a.name, "password": PASSWORD})
    assert res.status_code == 200, res.text
    res = await c.post(f"/api/v1/exams/{EXAM}/attempts")
    assert res.status_code == 200, res.text
    a.attempt = res.json()["attempt_id"]
    a.deadline = datetime.fromisoformat(res.json()["deadline"])
    assert res.json()["remaining_seconds"] > DURATION_S - 60, res.text
    a.cookies = httpx.Cookies(c.cookies)
    return c


async def send_without_reading(
    c: httpx.AsyncClient, a: Applicant, body: dict
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """POST an answer on a connection of its own and leave the reply unread."""
    host, port = c.base_url.host, c.base_url.port
    reader, writer = await asyncio.open_connection(host, port)
    payload = json.dumps(body).encode()
    cookies = "; ".join(f"{k.name}={k.value}" for k in c.cookies.jar)
    head = (
        f"POST /api/v1/attempts/{a.attempt}/answers HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"x-csrftoken: {a.csrf}\r\nCookie: {cookies}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    return reader, writer


@dataclass
class Race:
    """What the answering applicants and the killer share."""

    pending: set[str] = field(default_factory=set)  # applicants awaiting an answer's reply
    unread_stored: asyncio.Event = field(default_factory=asyncio.Event)
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    unread_conn: list = field(default_factory=list)  # UNREAD's (reader, writer)


async def answer_until_killed(
    c: httpx.AsyncClient, a: Applicant, rng: random.Random, race: Race
) -> None:
    """GET the item, answer it, repeat; stop at the cap (waiting for the kill) or when the
    server is gone. Every 2xx reply is recorded as acknowledged. ``UNREAD`` sends one
    answer without reading the reply and waits for the kill; the others wait after
    ``GATE`` answers until that answer is stored, so answers remain for the kill."""
    while True:
        try:
            res = await c.get(f"/api/v1/attempts/{a.attempt}")
        except httpx.TransportError:
            return
        if res.status_code != 200:
            a.unexpected.append(f"GET {res.status_code} {res.text}")
            return
        view = res.json()
        if view["status"] != "active":
            a.unexpected.append(f"finished before the kill: {view}")
            return
        step, item = view["step"], view["item"]["item_id"]
        a.served[step] = item
        if len(a.acked) >= CAP_BEFORE_KILL:
            await race.killed.wait()
            return
        choice = rng.choice([o["key"] for o in view["item"]["options"]])
        body = {"step": step, "item_id": item, "choice": choice}
        if len(a.acked) == a.unread_after:
            race.unread_conn.extend(await send_without_reading(c, a, body))
            a.in_flight = (step, item, choice)
            await race.killed.wait()
            race.unread_conn[1].close()
            return
        if a.unread_after is None and len(a.acked) >= GATE:
            await race.unread_stored.wait()
        race.pending.add(a.name)
        try:
            res = await c.post(f"/api/v1/attempts/{a.attempt}/answers", json=body)
        except httpx.TransportError:
            a.in_flight = (step, item, choice)
            return
        finally:
            race.pending.discard(a.name)
        if not res.is_success:
            a.unexpected.append(f"answer {body}: {res.status_code} {res.text}")
            return
        reply = res.json()
        a.acked[step] = Ack(item, choice, reply["log_index"], reply["next_step"])
        await asyncio.sleep(rng.random() * 0.02)


async def before_kill(live: LiveServer, applicants: list[Applicant], rng: random.Random) -> dict:
    clients = [await log_in_and_start(live.url, a) for a in applicants]
    race = Race()
    unread = next(a for a in applicants if a.name == UNREAD)
    unread.unread_after = rng.randint(0, 3)
    # Answers acknowledged after UNREAD's is stored and before the kill: fewer than the
    # others can still give ((CAP_BEFORE_KILL - GATE) each), so one is always under way.
    threshold = rng.randint(0, 2 * (CAP_BEFORE_KILL - GATE))
    report: dict = {"threshold": threshold, "unread_after": unread.unread_after}
    engine = database.sync_engine(live.settings)

    def unread_is_stored() -> bool:
        query = select(func.count()).where(
            Response.attempt_id == unread.attempt, Response.step == unread.in_flight[0]
        )
        with engine.connect() as conn:
            return conn.scalar(query) == 1

    def acked() -> int:
        return sum(len(a.acked) for a in applicants)

    async def killer() -> None:
        # Once UNREAD's answer is stored and the threshold reached, kill a random few
        # milliseconds into another answer's request, often in the middle of handling it
        # (after a few misses, at once while one is pending).
        limit = time.monotonic() + 30
        base = misses = 0
        while True:
            if time.monotonic() > limit:
                reply = b"(none)"
                if race.unread_conn:
                    reply = await asyncio.wait_for(race.unread_conn[0].read(2000), 5)
                race.killed.set()
                raise AssertionError(
                    f"no moment came to kill the server: {UNREAD} stored: "
                    f"{race.unread_stored.is_set()}, acknowledged: "
                    f"{[len(a.acked) for a in applicants]}, pending: {race.pending}, "
                    f"reply to {UNREAD}: {reply!r}"
                )
            if not race.unread_stored.is_set():
                if unread.in_flight is not None and await asyncio.to_thread(unread_is_stored):
                    base = acked()
                    race.unread_stored.set()
            elif acked() - base >= threshold and race.pending:
                if misses < 3:
                    await asyncio.sleep(rng.random() * 0.03)
                if race.pending:
                    break
                misses += 1
            await asyncio.sleep(0.001)
        os.kill(live.pid, signal.SIGKILL)
        report["acked_at_kill"] = acked()
        report["pending_at_kill"] = sorted(race.pending)
        race.killed.set()

    try:
        await asyncio.gather(
            killer(),
            *[
                answer_until_killed(c, a, rng, race)
                for c, a in zip(clients, applicants, strict=True)
            ],
        )
    finally:
        for c in clients:
            await c.aclose()
        engine.dispose()
    return report


def check_database(live: LiveServer, applicants: list[Applicant], finished: bool) -> dict:
    """What the database holds for each applicant: asserts the acknowledged answers are
    there exactly once, the steps gapless, the log consistent; returns per applicant the
    stored step count and the served item."""
    engine = database.sync_engine(live.settings)
    out = {}
    try:
        with database.session_factory(engine)() as s:
            size = s.get(LogHead, 1).size
            indices = list(s.scalars(select(LogEntry.index).order_by(LogEntry.index)))
            assert indices == list(range(size)), "the audit log has gaps or a wrong head"
            entries = {
                e.index: json.loads(e.entry)
                for e in s.scalars(select(LogEntry).where(LogEntry.entry.contains('"answer"')))
            }
            # Each answer's opening is stored with it, in the same transaction.
            assert open_entries(list(entries.values()), openings.of_exam(s, EXAM)).complete
            credits = [
                json.loads(e.entry)
                for e in s.scalars(
                    select(LogEntry).where(LogEntry.entry.contains('"downtime_credited"'))
                )
            ]
            for a in applicants:
                attempt = s.get(Attempt, a.attempt)
                enrollment = s.get(Enrollment, attempt.enrollment_id)
                assert s.get(User, enrollment.user_id).username == a.name
                rows = list(
                    s.scalars(
                        select(Response)
                        .where(Response.attempt_id == a.attempt)
                        .order_by(Response.step, Response.id)
                    )
                )
                steps = [r.step for r in rows]
                assert steps == list(range(len(rows))), f"{a.name}: steps {steps}"
                by_step = {r.step: r for r in rows}
                for step, ack in a.acked.items():
                    r = by_step.get(step)
                    assert r is not None, f"{a.name}: acknowledged step {step} is lost"
                    assert (r.item_id, r.choice, r.log_index, r.next_step) == (
                        ack.item_id,
                        ack.choice,
                        ack.log_index,
                        ack.next_step,
                    ), f"{a.name}: step {step} stored differently from its acknowledgement"
                unacked = sorted(set(by_step) - set(a.acked))
                if not finished:
                    # Only the answer in flight at the kill may be stored without a reply.
                    if a.in_flight is None:
                        assert unacked == [], f"{a.name}: unacknowledged steps {unacked}"
                    else:
                        step, item, choice = a.in_flight
                        assert unacked in ([], [step]), f"{a.name}: {unacked} vs {a.in_flight}"
                        if unacked:
                            assert (by_step[step].item_id, by_step[step].choice) == (item, choice)
                # Every stored answer is in the log exactly once, at its own index.
                answers = [
                    (i, e)
                    for i, e in sorted(entries.items())
                    if e.get("type") == "answer" and e.get("pseudonym") == enrollment.pseudonym
                ]
                assert sorted(e["step"] for _, e in answers) == steps, f"{a.name}: log answers"
                for i, e in answers:
                    r = by_step[e["step"]]
                    assert (i, e["item"], e["choice"]) == (r.log_index, r.item_id, r.choice)
                credit_ms = sum(e["credit_ms"] for e in credits if e["exam"] == EXAM)
                assert attempt.deadline_at == a.deadline + timedelta(milliseconds=credit_ms), (
                    f"{a.name}: the deadline moved by more than the credited downtime"
                )
                if finished:
                    assert attempt.status == "finished", f"{a.name}: {attempt.status}"
                else:
                    assert attempt.status == "active", f"{a.name}: {attempt.status}"
                    assert attempt.step == len(rows), f"{a.name}: step {attempt.step}"
                    if attempt.step in a.served:
                        assert attempt.served_item == a.served[attempt.step]
                out[a.name] = {
                    "stored": len(rows),
                    "served_item": attempt.served_item,
                    "log_index": {r.step: r.log_index for r in rows},
                }
            assert s.scalar(select(func.count()).select_from(Response)) == sum(
                v["stored"] for v in out.values()
            )
    finally:
        engine.dispose()
    return out


async def after_restart(
    url: str, applicants: list[Applicant], stored: dict, started: float, rng: random.Random
) -> None:
    # The session cookie must be what lets the applicant in, not something else.
    async with new_client(url) as anonymous:
        res = await anonymous.get(f"/api/v1/attempts/{applicants[0].attempt}")
        assert res.status_code == 401, res.text
    wait = MIN_ELAPSED_S - (time.monotonic() - started)
    if wait > 0:
        await asyncio.sleep(wait)
    await asyncio.gather(*[resume_and_finish(url, a, stored[a.name], rng) for a in applicants])


async def resume_and_finish(url: str, a: Applicant, stored: dict, rng: random.Random) -> None:
    async with new_client(url, a) as c:
        res = await c.get(f"/api/v1/attempts/{a.attempt}")
        now = datetime.now(UTC)
        assert res.status_code == 200, f"{a.name}: the session did not survive: {res.text}"
        view = res.json()
        assert view["status"] == "active", view
        next_step = max(a.acked, default=-1) + 1
        in_flight_stored = stored["stored"] == next_step + 1
        assert view["step"] == next_step + in_flight_stored, (a.name, view, a.acked, a.in_flight)
        assert view["step"] == stored["stored"]
        assert view["item"]["item_id"] == stored["served_item"]
        if view["step"] in a.served:
            assert view["item"]["item_id"] == a.served[view["step"]], "another item after restart"
        # The deadline moved by the downtime credited at the restart (the gap since the last
        # heartbeat), so the remaining time is what it was at the kill; check_database
        # matches the move to the log's downtime_credited entry.
        deadline = datetime.fromisoformat(view["deadline"])
        credit = (deadline - a.deadline).total_seconds()
        assert credit >= downtime.GAP_S, (a.name, "the downtime was not credited", credit)
        expected = (deadline - now).total_seconds()
        assert abs(view["remaining_seconds"] - expected) <= TOLERANCE_S, (view, expected)
        limit = DURATION_S - MIN_ELAPSED_S + TOLERANCE_S + credit
        assert view["remaining_seconds"] <= limit, view

        # Starting again resumes the same attempt with the same deadline.
        res = await c.post(f"/api/v1/exams/{EXAM}/attempts")
        assert res.status_code == 200, res.text
        assert res.json()["attempt_id"] == a.attempt
        assert datetime.fromisoformat(res.json()["deadline"]) == deadline

        # The same answers again get the same replies (what a retrying client does).
        for step, ack in sorted(a.acked.items())[-2:]:
            body = {"step": step, "item_id": ack.item_id, "choice": ack.choice}
            res = await c.post(f"/api/v1/attempts/{a.attempt}/answers", json=body)
            assert res.status_code == 200, res.text
            assert (res.json()["log_index"], res.json()["next_step"]) == (
                ack.log_index,
                ack.next_step,
            )
        if a.in_flight is not None:
            step, item, choice = a.in_flight
            body = {"step": step, "item_id": item, "choice": choice}
            res = await c.post(f"/api/v1/attempts/{a.attempt}/answers", json=body)
            assert res.status_code == 200, f"{a.name}: retry of the answer in flight: {res.text}"
            if in_flight_stored:
                assert res.json()["log_index"] == stored["log_index"][step], res.text
            a.acked[step] = Ack(item, choice, res.json()["log_index"], res.json()["next_step"])

        # Finish the exam.
        for _ in range(50):
            res = await c.get(f"/api/v1/attempts/{a.attempt}")
            assert res.status_code == 200, res.text
            view = res.json()
            if view["status"] != "active":
                break
            step, item = view["step"], view["item"]["item_id"]
            choice = rng.choice([o["key"] for o in view["item"]["options"]])
            body = {"step": step, "item_id": item, "choice": choice}
            res = await c.post(f"/api/v1/attempts/{a.attempt}/answers", json=body)
            assert res.status_code == 200, res.text
            a.acked[step] = Ack(item, choice, res.json()["log_index"], res.json()["next_step"])
        assert view["status"] == "finished", view
        res = await c.get(f"/api/v1/attempts/{a.attempt}/result")
        assert res.status_code == 200, res.text
        result = res.json()
        assert result["finish_reason"] == "completed", result
        assert result["total"] == sum(s["points"] for s in result["sections"].values())
        receipt = {r["step"]: (r["item_id"], r["log_index"]) for r in result["receipt"]["answers"]}
        assert receipt == {s: (k.item_id, k.log_index) for s, k in a.acked.items()}, a.name
        assert sum(s["items"] for s in result["sections"].values()) == len(receipt)


def test_sigkill_mid_exam_loses_no_acknowledged_answer(live):
    seed = int(os.environ.get("SELEKSI_TEST_SEED", time.time_ns() % 2**32))
    print(f"SELEKSI_TEST_SEED={seed}")
    rng = random.Random(seed)
    applicants = [Applicant(name) for name in APPLICANTS]
    started = time.monotonic()

    report = run_in_thread(before_kill, live, applicants, rng)
    live.proc.wait(timeout=10)
    assert live.proc.returncode == -signal.SIGKILL, live.log_tail()
    print(f"seed {seed}: {report}; in flight: {[a.in_flight for a in applicants]}")
    for a in applicants:
        assert a.unexpected == [], (seed, a.name, a.unexpected)
    assert report["pending_at_kill"], "no answer was in flight at the kill"

    stored = check_database(live, applicants, finished=False)
    stored_unacked = [a.name for a in applicants if stored[a.name]["stored"] > len(a.acked)]
    print("in flight and stored anyway:", stored_unacked)
    assert UNREAD in stored_unacked

    # Down long enough to count as downtime: the restart credits it to every attempt.
    time.sleep(downtime.GAP_S + 2)
    live.restart()
    run_in_thread(after_restart, live.url, applicants, stored, started, rng)
    check_database(live, applicants, finished=True)
