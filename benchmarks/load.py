"""Load: concurrent applicants over HTTP.

N simulated applicants (default 500), each with its own HTTP client and session cookie,
take a 30-item adaptive exam through the JSON API of a real server (``python -m exam
serve`` in a subprocess, on loopback): log in, start the attempt, then 30 times read the
attempt (the item to answer), think, and post the answer. A simulee answers with the 3PL
probability of a correct answer at its own θ ~ N(0, 1), otherwise picks a wrong option.

Observers (``--observers``, default 2) follow the log's SSE stream and as many read the
public ranking every 2 s, as the live board does.

Measured: answers per second over the answer phase, the latency of the answer POST
(p50, p99), the latency of the read GET, and errors (any non-200 reply or transport
error). After the run the server is stopped and the acknowledged answers are counted back
from the database: an answer the client was acknowledged but the database does not hold is
lost.

Setup (not measured): a fresh database per backend (SQLite in a temporary data folder; on
PostgreSQL a new database ``seleksi_load_<random>``, dropped afterwards) with a synthetic
3PL bank, one exam LOAD with a single adaptive section of exactly 30 items (default
exposure control: Sympson–Hetter, derived when the exam opens) and N enrolled applicants.
Passwords are hashed with argon2id at the cheapest costs (time 1, 8 KiB) and the login rate
limit is lifted: login is not what this measures.

Run:  python benchmarks/load.py [--applicants 500] [--db sqlite,postgresql] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from servers import (
    EXAM_CODE,
    PASSWORD,
    cpu_seconds,
    fresh_database,
    prepare,
    running_server,
)
from sqlalchemy import func, select
from tqdm import tqdm

from exam.adapters import database
from exam.adapters.models import Attempt, Response
from exam.adapters.settings import Settings
from proctoring.models import LogEntry

# -- the simulated applicants -----------------------------------------------------------


@dataclass
class Stats:
    answer_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    rankings_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    acknowledged: set[tuple[int, int]] = field(default_factory=set)
    finished: int = 0
    stopped: int = 0
    first_answer: float = math.inf
    last_answer: float = 0.0
    #: log index of an acknowledged answer → when its reply arrived
    acked_at: dict[int, float] = field(default_factory=dict)
    #: log index → when an observer's stream delivered it (first observer to see it)
    streamed_at: dict[int, float] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class FailedError(Exception):
    pass


async def _request(client: httpx.AsyncClient, stats: Stats, what: str, method: str, url: str, **kw):
    """One request, retried up to 3 times after an error (every request here may be
    repeated: starting resumes, the same answer gets the same reply). Errors are counted."""
    for _ in range(3):
        try:
            res = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            stats.error(f"{what}: {exc.__class__.__name__}")
            await asyncio.sleep(0.5)
            continue
        if res.status_code == 200:
            return res
        stats.error(f"{what}: HTTP {res.status_code}")
        if res.status_code < 500:
            raise FailedError(f"{what}: HTTP {res.status_code} {res.text[:200]}")
        await asyncio.sleep(0.5)
    raise FailedError(f"{what}: gave up after 3 attempts")


@dataclass(frozen=True)
class Plan:
    applicants: int
    items: int
    think_s: float
    login_concurrency: int
    max_answer_s: float
    seed: int
    observers: int = 2


async def applicant(
    url: str,
    k: int,
    plan: Plan,
    bank: dict,
    stats: Stats,
    logins: asyncio.Semaphore,
    ready: asyncio.Event,
    go: asyncio.Event,
    progress: tqdm,
    rng: random.Random,
) -> None:
    theta = rng.gauss(0.0, 1.0)
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        try:
            async with logins:
                await _request(client, stats, "csrf", "GET", "/healthz")
                client.headers["x-csrftoken"] = client.cookies["csrftoken"]
                await _request(
                    client,
                    stats,
                    "login",
                    "POST",
                    "/api/v1/auth/login",
                    json={"username": f"load{k:05d}", "password": PASSWORD},
                )
                start = f"/api/v1/exams/{EXAM_CODE}/attempts"
                res = await _request(client, stats, "start", "POST", start)
                attempt = res.json()["attempt_id"]
        finally:
            ready.set()
        await go.wait()
        stop_at = time.perf_counter() + plan.max_answer_s
        await asyncio.sleep(rng.uniform(0, plan.think_s))  # spread the first answers
        view = None
        while time.perf_counter() < stop_at:
            if view is None:  # the first item, or after a reply without the next one
                t0 = time.perf_counter()
                res = await _request(client, stats, "read", "GET", f"/api/v1/attempts/{attempt}")
                stats.read_ms.append((time.perf_counter() - t0) * 1000)
                view = res.json()
            if view["status"] != "active" or view["item"] is None:
                stats.finished += view["status"] == "finished"
                return
            item = view["item"]
            correct, keys, a, b, c = bank[item["item_id"]]
            if {o["key"] for o in item["options"]} != set(keys):
                raise FailedError(f"item {item['item_id']}: options differ from the bank")
            p = c + (1 - c) / (1 + math.exp(-a * (theta - b)))
            wrong = [o for o in keys if o != correct]
            choice = correct if rng.random() < p else rng.choice(wrong)
            await asyncio.sleep(rng.uniform(0.5 * plan.think_s, 1.5 * plan.think_s))
            body = {"step": view["step"], "item_id": item["item_id"], "choice": choice}
            t0 = time.perf_counter()
            res = await _request(
                client, stats, "answer", "POST", f"/api/v1/attempts/{attempt}/answers", json=body
            )
            t1 = time.perf_counter()
            stats.answer_ms.append((t1 - t0) * 1000)
            reply = res.json()
            if reply.get("accepted"):
                stats.acknowledged.add((attempt, view["step"]))
                stats.acked_at[reply["log_index"]] = t1
                stats.first_answer = min(stats.first_answer, t1)
                stats.last_answer = max(stats.last_answer, t1)
                progress.update(1)
            # The reply carries the next item: no second request per answer.
            if reply.get("next_step") is None:
                view = {"status": "finished", "item": None}
            elif reply.get("item"):
                view = {"status": "active", "step": reply["next_step"], "item": reply["item"]}
            else:
                view = None
        stats.stopped += 1


async def observer(url: str, stats: Stats, stop: asyncio.Event) -> None:
    """An observer following the log's SSE stream, as the live board does: records when
    each entry arrives, to measure answer → observer latency."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=None) as client,
        client.stream("GET", "/api/v1/log/stream") as stream,
    ):
        index = None
        async for line in stream.aiter_lines():
            if stop.is_set():
                return
            if line.startswith("id: "):
                index = int(line[4:])
            elif line.startswith("data: ") and index is not None:
                stats.streamed_at.setdefault(index, time.perf_counter())


async def ranking_watcher(url: str, stats: Stats, stop: asyncio.Event) -> None:
    """An observer's live board: the public ranking, read every 2 s."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            path = f"/api/v1/exams/{EXAM_CODE}/rankings"
            with contextlib.suppress(FailedError):  # counted as an error; keep watching
                await _request(client, stats, "rankings", "GET", path)
                stats.rankings_ms.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(2.0)


async def drive(url: str, plan: Plan, bank: dict, server_pid: int):
    """Log everyone in and start their attempts (at most ``login_concurrency`` at a time),
    then let all answer at once; returns the statistics, the applicants that failed, the
    time logins and starts took, and the processor seconds used during the answers."""
    stats = Stats()
    rng = random.Random(plan.seed)
    logins = asyncio.Semaphore(plan.login_concurrency)
    go = asyncio.Event()
    readies = [asyncio.Event() for _ in range(plan.applicants)]
    progress = tqdm(
        total=plan.applicants * plan.items,
        unit="ans",
        desc="answers",
        leave=False,
        mininterval=1,
        disable=not sys.stderr.isatty(),
    )
    t_login = time.perf_counter()
    tasks = [
        asyncio.create_task(
            applicant(
                url,
                k,
                plan,
                bank,
                stats,
                logins,
                readies[k],
                go,
                progress,
                random.Random(rng.getrandbits(64)),
            )
        )
        for k in range(plan.applicants)
    ]
    for ready in readies:
        await ready.wait()
    login_s = time.perf_counter() - t_login
    stop = asyncio.Event()
    watchers = [asyncio.create_task(observer(url, stats, stop)) for _ in range(plan.observers)]
    watchers += [
        asyncio.create_task(ranking_watcher(url, stats, stop)) for _ in range(plan.observers)
    ]
    await asyncio.sleep(0.5)  # the observers are connected before the first answer
    cpu_before = cpu_seconds(server_pid)
    # A profiler attached now (py-spy on the server) sees the answer phase alone.
    print(f"answer phase starts (server pid {server_pid})", file=sys.stderr, flush=True)
    go.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    cpu_after = cpu_seconds(server_pid)
    cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_after if k in cpu_before}
    progress.close()
    failed = await wind_down(outcomes, stop, watchers)
    return stats, failed, login_s, cpu


async def wind_down(outcomes: list, stop: asyncio.Event, watchers: list[asyncio.Task]) -> list[str]:
    """Let the last entries reach the observers, stop them; the applicants that failed."""
    await asyncio.sleep(1.0)
    stop.set()
    for w in watchers:
        w.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    return [repr(o) for o in outcomes if isinstance(o, BaseException)]


def count_back(settings: Settings, acknowledged: set[tuple[int, int]]) -> dict:
    """Answers in the database (responses and 'answer' log entries) against those the
    clients were acknowledged."""
    engine = database.sync_engine(settings)
    with engine.connect() as conn:
        stored = set(conn.execute(select(Response.attempt_id, Response.step)).all())
        log_answers = conn.scalar(
            select(func.count())
            .select_from(LogEntry)
            .where(LogEntry.entry.like('{%"type":"answer"%'))
        )
        finished = conn.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.status == "finished")
        )
    engine.dispose()
    return {
        "stored": len(stored),
        "lost": len(acknowledged - stored),
        "stored_not_acknowledged": len(stored - acknowledged),
        "log_answer_entries": log_answers,
        "attempts_finished_in_db": finished,
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_backend(backend: str, args, tmp: Path) -> dict:
    with fresh_database(backend, tmp / backend) as settings:
        t0 = time.perf_counter()
        bank = prepare(settings, args.applicants, args.bank, args.items)
        setup_s = time.perf_counter() - t0
        print(f"[{backend}] prepared in {setup_s:.1f} s; starting the server", file=sys.stderr)
        plan = Plan(
            args.applicants,
            args.items,
            args.think,
            args.login_concurrency,
            args.max_s,
            args.seed,
            args.observers,
        )
        log_path = tmp / f"{backend}-server.log"
        with running_server(settings, args.workers, log_path) as (base, proc):
            stats, failed, login_s, cpu = asyncio.run(drive(base, plan, bank, proc.pid))
        counted = count_back(settings, stats.acknowledged)
        server_errors = error_lines(log_path)
    span = stats.last_answer - stats.first_answer
    answers = len(stats.acknowledged)
    # Answer → observer: from the applicant's acknowledgement to the observer's stream (an
    # entry may reach the stream first: then the delay counts as 0).
    delays = [
        max(0.0, stats.streamed_at[i] - t) * 1000
        for i, t in stats.acked_at.items()
        if i in stats.streamed_at
    ]
    unseen = sum(1 for i in stats.acked_at if i not in stats.streamed_at)
    return {
        "backend": backend,
        "applicants": args.applicants,
        "items": args.items,
        "workers": args.workers,
        "think_s": args.think,
        "setup_s": round(setup_s, 1),
        "login_and_start_s": round(login_s, 1),
        "answer_phase_s": round(span, 1),
        "answers": answers,
        "answers_per_s": round(answers / span, 1) if span > 0 else 0.0,
        "answer_p50_ms": round(pct(stats.answer_ms, 50), 1),
        "answer_p99_ms": round(pct(stats.answer_ms, 99), 1),
        "answer_max_ms": round(max(stats.answer_ms, default=float("nan")), 1),
        "observer_p50_ms": round(pct(delays, 50), 1),
        "observer_p99_ms": round(pct(delays, 99), 1),
        "observer_unseen": unseen,
        "rankings_p50_ms": round(pct(stats.rankings_ms, 50), 1),
        "rankings_p99_ms": round(pct(stats.rankings_ms, 99), 1),
        "read_p50_ms": round(pct(stats.read_ms, 50), 1),
        "read_p99_ms": round(pct(stats.read_ms, 99), 1),
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "applicants_failed": len(failed),
        "failures": failed[:5],
        "attempts_finished": stats.finished,
        "applicants_stopped_at_time_limit": stats.stopped,
        "server_errors": server_errors,
        # Where the machine's processors went, per acknowledged answer.
        **{
            f"cpu_ms_per_answer_{k.replace(' ', '_')}": round(v / answers * 1000, 2)
            for k, v in cpu.items()
            if answers
        },
        **counted,
    }


def error_lines(log_path: Path) -> dict[str, int]:
    """The server log's distinct exception lines and how often each occurred."""
    out: dict[str, int] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if "Error" in line or "Exception" in line:
            key = line.strip()[:160]
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:10])


def verdict(r: dict, args) -> dict[str, bool]:
    return {
        "p99 <= 250 ms": r["answer_p99_ms"] <= 250,
        ">= 300 answers/s": r["answers_per_s"] >= 300,
        "zero errors": r["errors"] == 0 and r["applicants_failed"] == 0,
        "zero lost": r["lost"] == 0,
        "observer p99 <= 1 s": r["observer_p99_ms"] <= 1000 and r["observer_unseen"] == 0,
    }


def print_table(results: list[dict], args) -> None:
    rows = [
        ("answers", "answers", "{:,}"),
        ("answers/s", "answers_per_s", "{:.1f}"),
        ("answer p50 (ms)", "answer_p50_ms", "{:.1f}"),
        ("answer p99 (ms)", "answer_p99_ms", "{:.1f}"),
        ("answer max (ms)", "answer_max_ms", "{:.1f}"),
        ("answer → observer p50 (ms)", "observer_p50_ms", "{:.1f}"),
        ("answer → observer p99 (ms)", "observer_p99_ms", "{:.1f}"),
        ("answers never streamed", "observer_unseen", "{}"),
        ("rankings p50 (ms)", "rankings_p50_ms", "{:.1f}"),
        ("rankings p99 (ms)", "rankings_p99_ms", "{:.1f}"),
        ("read p50 (ms)", "read_p50_ms", "{:.1f}"),
        ("read p99 (ms)", "read_p99_ms", "{:.1f}"),
        ("errors", "errors", "{}"),
        ("lost answers", "lost", "{}"),
        ("stored, never acknowledged", "stored_not_acknowledged", "{}"),
        ("attempts finished", "attempts_finished_in_db", "{}"),
        ("stopped at the time limit", "applicants_stopped_at_time_limit", "{}"),
        ("answer phase (s)", "answer_phase_s", "{:.1f}"),
        ("login + start (s)", "login_and_start_s", "{:.1f}"),
        ("CPU ms/answer: server", "cpu_ms_per_answer_server", "{:.2f}"),
        ("CPU ms/answer: PostgreSQL", "cpu_ms_per_answer_postgresql", "{:.2f}"),
        ("CPU ms/answer: load generator", "cpu_ms_per_answer_load_generator", "{:.2f}"),
    ]
    width = 30
    print(
        f"\n{args.applicants} applicants × {args.items} items, think {args.think} s, "
        f"{args.workers} worker(s), {os.cpu_count()} cores, answer phase at most {args.max_s:g} s"
    )
    print("".ljust(width) + "".join(r["backend"].rjust(14) for r in results))
    for label, key, fmt in rows:
        print(
            label.ljust(width)
            + "".join((fmt.format(r[key]) if key in r else "–").rjust(14) for r in results)
        )
    for r in results:
        checks = verdict(r, args)
        marks = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in checks.items())
        print(f"{r['backend']}: {marks}")
        if r["error_kinds"]:
            print(f"  errors: {r['error_kinds']}")
        if r["failures"]:
            print(f"  failed applicants, e.g. {r['failures']}")
        for line, count in r["server_errors"].items():
            print(f"  server log ({count}×): {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=500)
    parser.add_argument("--items", type=int, default=30, help="Items per exam")
    parser.add_argument(
        "--observers", type=int, default=2, help="Observers following the SSE stream"
    )
    parser.add_argument("--bank", type=int, default=300, help="Items in the synthetic bank")
    parser.add_argument(
        "--think",
        type=float,
        default=1.2,
        help="Mean think time per item in seconds (uniform over 0.5-1.5 times it)",
    )
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes")
    parser.add_argument(
        "--login-concurrency",
        type=int,
        default=25,
        help="Logins and starts in flight at once before the answer phase",
    )
    parser.add_argument(
        "--max-s",
        type=float,
        default=120,
        help="Time limit of the answer phase in seconds: an applicant still answering then "
        "stops (its answers so far count)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="Write the results here")
    args = parser.parse_args()
    backends = [b.strip() for b in args.db.split(",") if b.strip()]
    if not set(backends) <= {"sqlite", "postgresql"}:
        parser.error("--db takes sqlite, postgresql or both (comma-separated)")
    results = []
    with tempfile.TemporaryDirectory(prefix="seleksi-load-") as tmp:
        for backend in backends:
            results.append(run_backend(backend, args, Path(tmp)))
    print_table(results, args)
    if args.json:
        out = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "args": vars(args),
            "results": results,
            "targets": {r["backend"]: verdict(r, args) for r in results},
        }
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
