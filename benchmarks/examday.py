"""Exam day at a test site: a session's applicants log in over its start window, from the
few addresses of their sites, at the shipped login settings, then answer at a human pace.

N applicants (``--applicants``) sit at ``--sites`` test sites, rooms of 40. Each site is one
address (its NAT): the load generator binds each applicant's connections to its site's
loopback address 127.0.1.<site>, so the server sees the site's address with no proxy
header and no trusted proxy. The committee registers each site's address as a test-site
network (``seleksi network add``, the command line of the committee's access page) with an
allowance of one typing mistake per applicant; without it, the shipped 30 failed logins per
address and window would lock a site out after its 30th mistake.

Each applicant arrives at a uniformly random time of the start window (``--window``),
opens the login page (the CSRF cookie), types a wrong password first with probability
``--typos`` (then again after 3-8 s), logs in (``POST /api/v1/auth/login``; argon2id at the
shipped costs, the shipped throttles), starts (``POST /api/v1/exams/LOAD/attempts``) and reads
the attempt. Then, until the run ends, it answers one item every 30-60 s (uniform) and,
like the exam page, sends a heartbeat (``POST …/heartbeat``) at once and every
``heartbeat_s`` (10 s shipped). ``--observers`` follow the log's SSE stream and as many
``--pollers`` read the public ranking every 2 s (``load.py``'s observers).

``--pace K`` divides every human time (the window, thinking, retyping, the heartbeat
interval, the run) by K: for a short smoke run only; the figures reported come from
``--pace 1``.

Measured, split into the start window (until every applicant has started) and the steady
phase after it: logins per second and the login's latency, answers per second and the
answer's latency, answer → observer (from the answer's acknowledgement, which follows its
commit, to its entry on an observer's stream; and, as an upper bound, from the answer's
sending), errors (any unexpected reply or transport error), the processor time of the
server, PostgreSQL and the load generator per answer, and the machine's other load
(``/proc/stat``). Afterwards, on the same server with nothing else sent, the server's
processor time of one request of each kind, one at a time (``layers.py``'s approach).

Run:  python benchmarks/examday.py --applicants 3000 --window 180 --steady 120 [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import layers
import load
import servers

from exam.adapters.settings import Settings

ROOM = 40
THINK_S = (30.0, 60.0)
RETYPE_S = (3.0, 8.0)


@dataclass
class DayStats(load.Stats):
    login_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)
    heartbeat_ms: list[float] = field(default_factory=list)
    #: (when the reply came, latency ms) of each answer
    answers_at: list[tuple[float, float]] = field(default_factory=list)
    logins_at: list[float] = field(default_factory=list)
    #: log index of an answer → when it was sent
    sent_at: dict[int, float] = field(default_factory=dict)
    typos: int = 0
    started: int = 0


@dataclass(frozen=True)
class Plan:
    applicants: int
    sites: int
    window_s: float
    steady_s: float
    pace: float
    typos: float
    heartbeat_s: float
    seed: int

    def site_address(self, k: int) -> str:
        return f"127.0.1.{k % self.sites + 1}"

    def place(self, k: int) -> tuple[str, str]:
        site = k % self.sites
        return f"S{site + 1}", f"S{site + 1}-R{k // self.sites // ROOM + 1}"


def _client(url: str, address: str) -> aiohttp.ClientSession:
    """A browser at a site: its own cookies and connections, from the site's address.

    aiohttp rather than httpx, which the other benchmarks use: the applicants' requests
    cost the load generator about a third of httpx's processor time (0.30 against 0.87 ms
    per heartbeat, measured one at a time), and here the generator shares the server's
    cores."""
    return aiohttp.ClientSession(
        base_url=url,
        connector=aiohttp.TCPConnector(limit=2, local_addr=(address, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # the server is an IP address
        timeout=aiohttp.ClientTimeout(total=60),
        trust_env=False,
    )


async def _request(
    client: aiohttp.ClientSession, stats: DayStats, what: str, method: str, path: str, **kw
) -> dict:
    """``load._request`` for an aiohttp client: the reply's JSON, retried up to 3 times
    after a 5xx or transport error (every request here may be repeated), errors counted."""
    for _ in range(3):
        try:
            async with client.request(method, path, **kw) as res:
                status, text = res.status, await res.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.error(f"{what}: {exc.__class__.__name__}")
            await asyncio.sleep(0.5)
            continue
        if status == 200:
            return json.loads(text) if text else {}
        stats.error(f"{what}: HTTP {status}")
        if status < 500:
            raise load.FailedError(f"{what}: HTTP {status} {text[:200]}")
        await asyncio.sleep(0.5)
    raise load.FailedError(f"{what}: gave up after 3 attempts")


async def _log_in(client: aiohttp.ClientSession, plan: Plan, k: int, stats: DayStats, rng):
    user = f"load{k:05d}"
    await _request(client, stats, "login page", "GET", "/healthz")
    client.headers["x-csrftoken"] = next(c.value for c in client.cookie_jar if c.key == "csrftoken")
    if rng.random() < plan.typos:
        wrong = {"username": user, "password": servers.PASSWORD + "x"}
        async with client.post("/api/v1/auth/login", json=wrong) as res:
            status, text = res.status, await res.text()
        if status != 401:
            stats.error(f"mistyped login: HTTP {status}")
            raise load.FailedError(f"mistyped login: HTTP {status} {text[:200]}")
        stats.typos += 1
        await asyncio.sleep(rng.uniform(*RETYPE_S) / plan.pace)
    t0 = time.perf_counter()
    body = {"username": user, "password": servers.PASSWORD}
    await _request(client, stats, "login", "POST", "/api/v1/auth/login", json=body)
    t1 = time.perf_counter()
    stats.login_ms.append((t1 - t0) * 1000)
    stats.logins_at.append(t1)


async def _heartbeats(client: aiohttp.ClientSession, attempt: int, plan: Plan, stats: DayStats):
    """As the exam page: one at once, then one every ``heartbeat_s``."""
    path = f"/api/v1/attempts/{attempt}/heartbeat"
    while True:
        t0 = time.perf_counter()
        try:
            await _request(client, stats, "heartbeat", "POST", path)
            stats.heartbeat_ms.append((time.perf_counter() - t0) * 1000)
        except load.FailedError:
            pass  # counted; the page keeps beating
        await asyncio.sleep(plan.heartbeat_s / plan.pace)


async def applicant(url: str, k: int, plan: Plan, bank: dict, stats: DayStats, t0: float, rng):
    theta = rng.gauss(0.0, 1.0)
    await asyncio.sleep(rng.uniform(0, plan.window_s / plan.pace))
    stop_at = t0 + (plan.window_s + plan.steady_s) / plan.pace
    async with _client(url, plan.site_address(k)) as client:
        await _log_in(client, plan, k, stats, rng)
        s0 = time.perf_counter()
        started = await _request(client, stats, "start", "POST", "/api/v1/exams/LOAD/attempts")
        stats.start_ms.append((time.perf_counter() - s0) * 1000)
        attempt = started["attempt_id"]
        view = await _request(client, stats, "read", "GET", f"/api/v1/attempts/{attempt}")
        stats.started += 1
        beat = asyncio.create_task(_heartbeats(client, attempt, plan, stats))
        try:
            while view["status"] == "active" and view["item"] is not None:
                think = rng.uniform(*THINK_S) / plan.pace
                if time.perf_counter() + think >= stop_at:
                    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
                    stats.stopped += 1
                    return
                await asyncio.sleep(think)
                item = view["item"]
                correct, keys, a, b, c = bank[item["item_id"]]
                p = c + (1 - c) / (1 + 2.718281828459045 ** (-a * (theta - b)))
                choice = (
                    correct if rng.random() < p else rng.choice([o for o in keys if o != correct])
                )
                body = {"step": view["step"], "item_id": item["item_id"], "choice": choice}
                a0 = time.perf_counter()
                path = f"/api/v1/attempts/{attempt}/answers"
                reply = await _request(client, stats, "answer", "POST", path, json=body)
                a1 = time.perf_counter()
                stats.answer_ms.append((a1 - a0) * 1000)
                stats.answers_at.append((a1, (a1 - a0) * 1000))
                if reply.get("accepted"):
                    stats.acknowledged.add((attempt, view["step"]))
                    stats.acked_at[reply["log_index"]] = a1
                    stats.sent_at[reply["log_index"]] = a0
                if reply.get("next_step") is None:
                    stats.finished += 1
                    return
                view = {"status": "active", "step": reply["next_step"], "item": reply["item"]}
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)


def machine_busy_s() -> float:
    """Processor seconds the whole machine has been busy (all processes, /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def snapshot(pid: int) -> dict[str, float]:
    return {
        **servers.cpu_seconds(pid),
        "machine": machine_busy_s(),
        "wall": time.perf_counter(),
        "load average": os.getloadavg()[0],
    }


async def drive(url: str, plan: Plan, bank: dict, pid: int, observers: int, pollers: int):
    stats = DayStats()
    rng = random.Random(plan.seed)
    stop = asyncio.Event()
    watchers = [asyncio.create_task(load.observer(url, stats, stop)) for _ in range(observers)]
    watchers += [
        asyncio.create_task(load.ranking_watcher(url, stats, stop)) for _ in range(pollers)
    ]
    await asyncio.sleep(0.5)
    marks = {"start": snapshot(pid)}
    t0 = time.perf_counter()
    tasks = [
        asyncio.create_task(
            applicant(url, k, plan, bank, stats, t0, random.Random(rng.getrandbits(64)))
        )
        for k in range(plan.applicants)
    ]
    end = t0 + (plan.window_s + plan.steady_s) / plan.pace
    while stats.started + sum(t.done() for t in tasks) < plan.applicants:
        await asyncio.sleep(0.05)
        if time.perf_counter() > end:
            break
    marks["all started"] = snapshot(pid)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    marks["end"] = snapshot(pid)
    return stats, await load.wind_down(outcomes, stop, watchers), marks


def register_sites(settings: Settings, plan: Plan, allowance: int) -> None:
    """Each site's address as a test-site network, as the committee does it."""
    env = dict(os.environ, SELEKSI_DATA_DIR=str(settings.data_dir))
    env["SELEKSI_DATABASE_URL"] = settings.database_url or ""
    for s in range(plan.sites):
        cmd = [sys.executable, "-m", "exam", "network", "add", f"127.0.1.{s + 1}/32"]
        cmd += ["--allowance", str(allowance), "--name", f"Test site S{s + 1}"]
        subprocess.run(cmd, env=env, check=True, capture_output=True)


def per_request_costs(url: str, pid: int, k: int, n: int, items: int) -> dict[str, float]:
    """The server's processor ms of one request of each kind, one at a time, from applicant
    ``load{k}`` (and the following accounts for the answers), which took no part in the run."""
    out: dict[str, float] = {}
    clients = []
    for j in range(k, k + 20):
        c = httpx.Client(base_url=url, timeout=60)
        c.get("/healthz")
        c.headers["x-csrftoken"] = c.cookies["csrftoken"]
        c.post(
            "/api/v1/auth/login", json={"username": f"load{j:05d}", "password": servers.PASSWORD}
        ).raise_for_status()
        attempt = (
            c.post(f"/api/v1/exams/{servers.EXAM_CODE}/attempts")
            .raise_for_status()
            .json()["attempt_id"]
        )
        clients.append((c, attempt))
    first, attempt = clients[0]
    out["heartbeat"] = layers.per_request(
        pid, n, lambda: first.post(f"/api/v1/attempts/{attempt}/heartbeat").raise_for_status()
    )
    out["ranking poll"] = layers.per_request(
        pid, n, lambda: first.get(f"/api/v1/exams/{servers.EXAM_CODE}/rankings").raise_for_status()
    )
    views = {a: c.get(f"/api/v1/attempts/{a}").json() for c, a in clients}
    answers = [(c, a) for _ in range(items - 2) for c, a in clients]

    def answer() -> None:
        c, a = answers.pop()
        item = views[a]["item"]
        body = {
            "step": views[a]["step"],
            "item_id": item["item_id"],
            "choice": item["options"][0]["key"],
        }
        reply = c.post(f"/api/v1/attempts/{a}/answers", json=body).raise_for_status().json()
        views[a] = {"step": reply["next_step"], "item": reply["item"]}

    out["answer"] = layers.per_request(pid, len(answers) - 100, answer)
    login = {"username": f"load{k + 20:05d}", "password": servers.PASSWORD}
    out["login"] = layers.per_request(
        pid, 20, lambda: first.post("/api/v1/auth/login", json=login).raise_for_status()
    )
    for c, _ in clients:
        c.close()
    return out


def _phase(marks: dict, a: str, b: str, answers: int) -> dict:
    """Cores each part of the machine used between two marks, and processor ms per answer."""
    wall = marks[b]["wall"] - marks[a]["wall"]
    used = {
        k: marks[b][k] - marks[a][k] for k in ("server", "postgresql", "load generator", "machine")
    }
    used["others"] = used["machine"] - used["server"] - used["postgresql"] - used["load generator"]
    return {
        "wall_s": round(wall, 1),
        "answers": answers,
        "answers_per_s": round(answers / wall, 1) if wall > 0 else 0.0,
        "cores": {k: round(v / wall, 2) for k, v in used.items()} if wall > 0 else {},
        "cpu_ms_per_answer": {k: round(1000 * v / answers, 2) for k, v in used.items()}
        if answers
        else {},
        "load_average": [round(marks[a]["load average"], 2), round(marks[b]["load average"], 2)],
    }


def summarise(stats: DayStats, failed: list[str], marks: dict, plan: Plan) -> dict:
    split = marks["all started"]["wall"]
    window = [ms for t, ms in stats.answers_at if t < split]
    steady = [ms for t, ms in stats.answers_at if t >= split]
    acked = [(i, t) for i, t in stats.acked_at.items() if i in stats.streamed_at]
    seen = [max(0.0, stats.streamed_at[i] - t) * 1000 for i, t in acked]
    bound = [(stats.streamed_at[i] - stats.sent_at[i]) * 1000 for i, _ in acked]
    login_span = (max(stats.logins_at) - min(stats.logins_at)) if len(stats.logins_at) > 1 else 0
    r = lambda v: round(v, 1)  # noqa: E731
    return {
        "applicants": plan.applicants,
        "pace": plan.pace,
        "logins": len(stats.login_ms),
        "mistyped_logins": stats.typos,
        "logins_per_s": r(len(stats.login_ms) / login_span) if login_span else 0.0,
        "login_p50_ms": r(load.pct(stats.login_ms, 50)),
        "login_p99_ms": r(load.pct(stats.login_ms, 99)),
        "start_p99_ms": r(load.pct(stats.start_ms, 99)),
        "started": stats.started,
        "answers": len(stats.answer_ms),
        "answer_p50_ms": r(load.pct(stats.answer_ms, 50)),
        "answer_p99_ms": r(load.pct(stats.answer_ms, 99)),
        "answer_p99_window_ms": r(load.pct(window, 99)),
        "answer_p99_steady_ms": r(load.pct(steady, 99)),
        "answer_max_ms": r(max(stats.answer_ms, default=float("nan"))),
        "heartbeats": len(stats.heartbeat_ms),
        "heartbeat_p99_ms": r(load.pct(stats.heartbeat_ms, 99)),
        "rankings_p99_ms": r(load.pct(stats.rankings_ms, 99)),
        "observer_p50_ms": r(load.pct(seen, 50)),
        "observer_p99_ms": r(load.pct(seen, 99)),
        "observer_p99_from_sending_ms": r(load.pct(bound, 99)),
        "observer_unseen": len(stats.acked_at) - len(acked),
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "applicants_failed": len(failed),
        "failures": failed[:5],
        "window": _phase(marks, "start", "all started", len(window)),
        "steady": _phase(marks, "all started", "end", len(steady)),
    }


def run(args, tmp: Path) -> dict:
    plan = Plan(
        args.applicants,
        args.sites,
        args.window,
        args.steady,
        args.pace,
        args.typos,
        Settings.model_fields["heartbeat_s"].default,
        args.seed,
    )
    reserve = 41  # accounts for the one-at-a-time costs afterwards
    with servers.fresh_database("postgresql", tmp / "data", "seleksi_examday") as cheap:
        # The shipped login settings: argon2 costs and throttles at their defaults.
        settings = Settings(data_dir=cheap.data_dir, database_url=cheap.database_url)
        for name in ("argon2_time_cost", "argon2_memory_kib", "login_address_failures"):
            if getattr(settings, name) != Settings.model_fields[name].default:
                raise SystemExit(f"{name} is set in the environment: unset SELEKSI_{name.upper()}")
        t = time.perf_counter()
        bank = servers.prepare(
            settings, args.applicants + reserve, args.bank, args.items, plan.place
        )
        per_site = -(-args.applicants // args.sites)
        register_sites(settings, plan, allowance=per_site)
        print(f"prepared in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        log_path = tmp / "server.log"
        with servers.running_server(settings, args.workers, log_path) as (url, proc):
            stats, failed, marks = asyncio.run(
                drive(url, plan, bank, proc.pid, args.observers, args.pollers)
            )
            costs = (
                per_request_costs(url, proc.pid, args.applicants, args.calibrate, args.items)
                if args.calibrate
                else {}
            )
        counted = load.count_back(settings, stats.acknowledged)
        result = summarise(stats, failed, marks, plan)
        result |= {
            "lost": counted["lost"],
            "server_errors": load.error_lines(log_path),
            "per_request_cpu_ms": {k: round(v, 3) for k, v in costs.items()},
            "site_allowance": per_site,
        }
    return result


def capacity(r: dict, think_mean_s: float) -> dict:
    """What 2 cores allow at real pace, from the steady phase's processor time per answer
    (everything the machine did for this service, heartbeats and observers included)."""
    per_answer = r["steady"]["cpu_ms_per_answer"]
    if not per_answer:
        return {}
    service = per_answer["server"] + per_answer["postgresql"]
    whole = service + per_answer["load generator"]
    answers_per_applicant_s = 1 / think_mean_s
    out = {"answers_per_s_per_1000": round(1000 * answers_per_applicant_s, 1)}
    for name, ms in (("server+postgresql", service), ("with the load generator", whole)):
        cores_per_1000 = 1000 * answers_per_applicant_s * ms / 1000
        out[name] = {
            "cpu_ms_per_answer": round(ms, 2),
            "cores_per_1000_applicants": round(cores_per_1000, 3),
            "applicants_at_2_cores_85pct": int(2 * 0.85 / cores_per_1000 * 1000),
        }
    return out


def print_report(r: dict) -> None:
    keys = [
        "applicants",
        "pace",
        "logins",
        "mistyped_logins",
        "logins_per_s",
        "login_p50_ms",
        "login_p99_ms",
        "start_p99_ms",
        "answers",
        "answer_p50_ms",
        "answer_p99_ms",
        "answer_p99_window_ms",
        "answer_p99_steady_ms",
        "answer_max_ms",
        "heartbeats",
        "heartbeat_p99_ms",
        "rankings_p99_ms",
        "observer_p50_ms",
        "observer_p99_ms",
        "observer_p99_from_sending_ms",
        "observer_unseen",
        "errors",
        "applicants_failed",
        "lost",
    ]
    for k in keys:
        print(f"{k:32s} {r[k]}")
    for phase in ("window", "steady"):
        print(f"{phase}: {json.dumps(r[phase])}")
    print(f"per request (server ms, one at a time): {r['per_request_cpu_ms']}")
    print(f"capacity: {json.dumps(r['capacity'])}")
    problems = {"errors": r["error_kinds"], "failed": r["failures"], "log": r["server_errors"]}
    print("\n".join(f"{kind}: {what}" for kind, what in problems.items() if what))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=3, help="Test sites, one address each")
    parser.add_argument("--window", type=float, default=120, help="Start window (s)")
    parser.add_argument("--steady", type=float, default=120, help="Run after the window (s)")
    parser.add_argument("--pace", type=float, default=1.0, help="Time compression (smoke runs)")
    parser.add_argument("--typos", type=float, default=0.05, help="Share mistyping once")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--observers", type=int, default=2, help="SSE log followers")
    parser.add_argument("--pollers", type=int, default=2, help="Public ranking pollers")
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--bank", type=int, default=300)
    parser.add_argument("--calibrate", type=int, default=300, help="Requests per kind (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="Write the results here")
    args = parser.parse_args()
    if args.calibrate and args.items < 10:
        parser.error("--calibrate needs --items 10 or more (20 applicants answer all but 2)")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="seleksi-examday-") as tmp:
        result = run(args, Path(tmp))
    result["capacity"] = capacity(result, sum(THINK_S) / 2)
    result["machine"] = {
        "cores": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    result["args"] = vars(args)
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
