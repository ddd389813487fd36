"""Audit-log benchmarks, SQLite and PostgreSQL side by side in one run.

1. Append: the cost of ``proctoring.log.append`` of one event in its own transaction
   (begin, reserve the index, insert the entry, on SQLite also its Merkle nodes, commit)
   on a log that already holds 1,000,000 entries. On PostgreSQL the nodes the appends
   left are then built in one ``log.build_tree``, as before a checkpoint, and timed.
2. Inclusion proofs: ``proctoring.log.inclusion_proof`` for random indices of that log
   (the stored nodes it needs, read in one query, and the proof built from them).
3. Offline verification: ``proctoring.verify.verify`` of the log of a closed exam with
   10,000 applicants of a 30-item adaptive section — the tree, the event rules, the
   commitments, and the replay of every attempt through the engine.

The 10^6-entry logs are built directly: entries like the ones the app appends (answers
and served items of 10,000 pseudonyms), their leaf hashes and every perfect-subtree node
computed with ``proctoring.merkle.nodes_for_leaves`` — the same nodes ``log.append`` would
have stored — are bulk-inserted into a freshly migrated database (SQLite: executemany
in one transaction; PostgreSQL: COPY), and ``log_head.size`` is set to 10^6. Before the
timing starts the stored root is checked against the one computed in memory.

The closed exam's log is built in memory with the functions delivery uses: per applicant
``engine.start`` / ``engine.decide`` / ``engine.answer`` on the compiled section, and the
canonical entries ``exam_committed``, ``attempt_started``, ``item_served``, ``answer``,
``section_finished``, ``attempt_finished``, ``exam_closed`` and ``exam_revealed`` as
``exam.usecases.delivery`` and ``exam.usecases.closing`` write them, the sealed ones with
their openings (``proctoring.seal``), which the verifier is given. Simulated applicants
answer from a 3PL model of their true θ.

Run:  python benchmarks/log.py [--quick] [--json FILE] [--skip-postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from exam.adapters import database, migrate
from exam.adapters.settings import Settings
from exam.cat import engine, randomness
from exam.cat.blueprint import ExamConfig, SectionConfig
from exam.cat.outcome import section_result
from exam.cat.plan import compile_section
from exam.cat.simulation import simulated_responses, splitmix_uniforms, with_exposure_parameters
from exam.usecases.delivery import _canonical
from exam.usecases.events import event, ms
from itembank.repository import bank_table
from itembank.synthetic import synthetic_items
from proctoring import log, merkle
from proctoring import verify as verify_module
from proctoring.canonical import canonical, decimal
from proctoring.note import Checkpoint, Signer
from proctoring.seal import Opening, sealed_entry
from proctoring.verify import PARALLEL_FROM, verify

PG_ADMIN_URL = os.environ.get(
    "SELEKSI_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ORIGIN = "bench.example/log"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def percentiles(values: list[float]) -> dict:
    arr = np.asarray(values)
    return {
        "n": int(arr.size),
        "median_ms": float(np.median(arr)),
        "p99_ms": float(np.percentile(arr, 99)),
        "mean_ms": float(arr.mean()),
    }


# -- a large log, bulk-loaded -----------------------------------------------------------


def synthetic_entries(n: int) -> list[str]:
    """``n`` canonical entries shaped like an exam's traffic: item_served, answer, …"""
    out = []
    t = ms(T0)
    for i in range(n):
        person = f"P{(i // 60) % 10_000:020x}"
        step = (i // 2) % 30
        kind = "item_served" if i % 2 == 0 else "answer"
        e = event(kind, "BENCH", T0, pseudonym=person, section="TIU", step=step)
        e["sealed"] = f"{i:064x}"
        e["t"] = t + i * 10
        out.append(canonical(e))
    return out


def _fresh_database(kind: str, workdir: Path):
    """A migrated database of ``kind``; returns (settings, drop)."""
    if kind == "sqlite":
        s = Settings(data_dir=workdir / "sqlite")
        migrate.upgrade(database.sync_engine(s))
        return s, lambda: None
    name = f"seleksi_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    s = Settings(data_dir=workdir / "pg", database_url=PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    eng = database.sync_engine(s)
    migrate.upgrade(eng)
    eng.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return s, drop


def bulk_load(kind: str, eng, texts: list[str], leaves: list[bytes], nodes: dict) -> None:
    """Insert entries and nodes as ``log.append`` would have stored them."""
    stamp = T0.isoformat()
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        if kind == "sqlite":
            cur.execute("BEGIN")
            cur.executemany(
                'INSERT INTO log_entries ("index", entry, leaf_hash, appended_at) '
                "VALUES (?, ?, ?, ?)",
                ((i, t, leaves[i], stamp) for i, t in enumerate(texts)),
            )
            cur.executemany(
                "INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                ((lv, i, h) for (lv, i), h in nodes.items()),
            )
            cur.execute("UPDATE log_head SET size = ? WHERE id = 1", (len(texts),))
            cur.execute("COMMIT")
        else:
            with cur.copy(
                'COPY log_entries ("index", entry, leaf_hash, appended_at) FROM STDIN'
            ) as copy:
                for i, t in enumerate(texts):
                    copy.write_row((i, t, leaves[i], T0))
            with cur.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
                for (lv, i), h in nodes.items():
                    copy.write_row((lv, i, h))
            cur.execute("UPDATE log_head SET size = %s WHERE id = 1", (len(texts),))
            raw.commit()
            cur.execute("ANALYZE log_entries")
            cur.execute("ANALYZE log_nodes")
            raw.commit()
        cur.close()
    finally:
        raw.close()


def big_log_benchmark(kind: str, n: int, appends: int, proofs: int, workdir: Path) -> dict:
    texts = synthetic_entries(n)
    t0 = time.perf_counter()
    leaves = [merkle.leaf_hash(t.encode()) for t in texts]
    nodes = merkle.nodes_for_leaves(leaves)
    expected_root = merkle.root(n, lambda lv, i, nodes=nodes: nodes[(lv, i)])
    hash_s = time.perf_counter() - t0
    settings, drop = _fresh_database(kind, workdir)
    try:
        eng = database.sync_engine(settings)
        maker = database.session_factory(eng)
        t0 = time.perf_counter()
        bulk_load(kind, eng, texts, leaves, nodes)
        load_s = time.perf_counter() - t0
        del texts, leaves, nodes
        with maker() as s:
            assert log.size(s) == n and log.root(s, n) == expected_root
        # (a) appends, each in its own transaction: the append call (reserve the index and
        # insert the entry; SQLite also reads the frontier and inserts the nodes), and the
        # whole transaction from a new session to the durable commit.
        append_ms, transaction_ms = [], []
        for k in range(appends):
            entry = event("answer", "BENCH", T0, pseudonym=f"Q{k:020x}", step=k % 30, item="x")
            t0 = time.perf_counter()
            with maker() as s, s.begin():
                t1 = time.perf_counter()
                log.append(s, [entry])
                append_ms.append((time.perf_counter() - t1) * 1000)
            transaction_ms.append((time.perf_counter() - t0) * 1000)
        size = n + appends
        with maker() as s:
            assert log.size(s) == size
            root_now = log.root(s, size)
        # The nodes the appends left to be built (PostgreSQL), as before a checkpoint.
        t0 = time.perf_counter()
        with maker() as s, s.begin():
            built = log.build_tree(s)
        build_ms = (time.perf_counter() - t0) * 1000
        with maker() as s:
            assert log.root(s, size) == root_now
        # (b) inclusion proofs of random indices against the current size.
        rng = random.Random(1)
        proof_ms = []
        with maker() as s:
            for _ in range(proofs):
                index = rng.randrange(size)
                t0 = time.perf_counter()
                proof = log.inclusion_proof(s, index, size)
                proof_ms.append((time.perf_counter() - t0) * 1000)
                s.rollback()  # each proof in its own short read transaction
            leaf = log.entries(s, index, index + 1)[0].leaf_hash
            assert merkle.verify_inclusion(index, size, bytes(leaf), proof, root_now)
        eng.dispose()
    finally:
        drop()
    return {
        "database": kind,
        "entries": n,
        "hash_s": hash_s,
        "bulk_load_s": load_s,
        "append": percentiles(append_ms),
        "append_transaction": percentiles(transaction_ms),
        "inclusion_proof": percentiles(proof_ms),
        "build_tree": {"nodes": built, "ms": round(build_ms, 1)},
    }


# -- a closed exam of many applicants, in memory ------------------------------------------


def exam_setup(bank_size: int, length: int):
    """A one-section exam (adaptive, Sympson–Hetter with derived parameters) on a
    synthetic bank, compiled as ``exam.adapters.runtime`` compiles an open exam."""
    items = synthetic_items(bank_size, seed=11, domain="TIU", topics=4)
    section = SectionConfig("TIU", "TIU", max_items=length)
    config = ExamConfig("SIM", "Simulasi", (section,), 5400)
    bank = bank_table(items, config.points_correct)
    section = with_exposure_parameters(section, bank, seed=1, tolerance=0.0)
    config = ExamConfig("SIM", "Simulasi", (section,), 5400)
    plan = compile_section(section, bank)
    return config, bank, plan, {i.item_id: i for i in items}


def closed_exam_log(
    applicants: int, bank_size: int = 500, length: int = 30
) -> tuple[list[str], list[Opening]]:
    """The canonical entries of an exam that ``applicants`` simulated applicants took,
    then closed (the attempts follow one another), and the openings of its sealed ones."""
    config, bank, plan, items = exam_setup(bank_size, length)
    seed = hashlib.sha256(b"benchmark seed").digest()
    hashes = {item_id: item.content_hash() for item_id, item in items.items()}
    definition = _canonical(config.to_dict())
    code, name = config.code, plan.config.name
    entries: list[dict] = []
    given: list[Opening] = []

    def sealed(public: dict, record: dict, inner: dict | None = None) -> None:
        entry, opening, nested = sealed_entry(public, record, inner)
        entries.append(entry)
        given.append(opening)
        if nested is not None:
            given.append(nested)

    sealed(
        event(
            "exam_committed",
            code,
            T0,
            definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
            engine=engine.ENGINE_VERSION,
            seed_sha256=randomness.seed_commitment(seed),
        ),
        {"parameter_table": bank.parameter_table(), "bank_snapshot_sha256": "0" * 64},
    )
    thetas = np.random.default_rng(5).standard_normal(applicants)
    for k in range(applicants):
        person = f"P{hashlib.sha256(str(k).encode()).hexdigest()[:20]}"
        now = T0 + timedelta(seconds=k)
        entries.append(
            event(
                "attempt_started",
                code,
                now,
                pseudonym=person,
                deadline=ms(now + timedelta(seconds=config.duration_s)),
                extra_time_s=0,
            )
        )
        st = engine.start(plan, seed, person)
        step = 0
        while True:
            decision = engine.decide(plan, st, seed, person, 0.0)
            if decision.item is None:
                break
            sealed(
                event("item_served", code, now, pseudonym=person, section=name, step=step),
                {"item": decision.item_id, "pilot": False},
                {"item_sha256": hashes[decision.item_id]},
            )
            u = splitmix_uniforms(3, np.array([k]), np.array([decision.item]))
            category = int(
                simulated_responses(plan, thetas[k : k + 1], np.array([decision.item]), u)[0]
            )
            content = items[decision.item_id]
            choice = (
                content.correct
                if category
                else next(o.key for o in content.options if o.key != content.correct)
            )
            now += timedelta(seconds=20)
            sealed(
                event("answer", code, now, pseudonym=person, section=name, step=step),
                {
                    "item": decision.item_id,
                    "choice": choice,
                    "pilot": False,
                    "response_ms": 20_000,
                },
                {"category": category},
            )
            st = engine.answer(plan, st, decision.item, category)
            step += 1
        result = section_result(plan, st)
        entries.append(
            event(
                "section_finished",
                code,
                now,
                pseudonym=person,
                section=name,
                reason=decision.stop_reason,
                items=result.n_items,
                theta=decimal(result.theta),
                se=decimal(result.se),
                points=result.points,
            )
        )
        entries.append(
            event(
                "attempt_finished",
                code,
                now,
                pseudonym=person,
                reason="completed",
                total=result.points,
                points={name: result.points},
            )
        )
    end = T0 + timedelta(seconds=applicants + config.duration_s)
    entries.append(event("exam_closed", code, end, by=1, finished_on_close=0))
    entries.append(
        event(
            "exam_revealed",
            code,
            end,
            seed=seed.hex(),
            definition=definition,
            definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
            closed_at=ms(end),
        )
    )
    return [canonical(e) for e in entries], given


def sign(signer: Signer, texts: list[str]) -> str:
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in texts)
    root = merkle.root(len(texts), lambda lv, i: nodes[(lv, i)])
    return signer.sign(Checkpoint(ORIGIN, len(texts), root).text())


def verify_benchmark(applicants: int, bank_size: int, length: int) -> dict:
    t0 = time.perf_counter()
    texts, given = closed_exam_log(applicants, bank_size, length)
    build_s = time.perf_counter() - t0
    signer = Signer.generate(ORIGIN)
    note = sign(signer, texts)
    times = {}
    # As ``seleksi log verify`` runs (the replay shared among one worker per core), then
    # with the replay in this process alone, for comparison.
    for label, parallel_from in (("verify_s", verify_module.PARALLEL_FROM), ("one_process_s", 0)):
        verify_module.PARALLEL_FROM = parallel_from or 10**12
        t0 = time.perf_counter()
        report = verify(texts, note, signer.verifier, ORIGIN, openings=given)
        times[label] = time.perf_counter() - t0
        verify_module.PARALLEL_FROM = PARALLEL_FROM
        assert report.problems == [], report.problems[:5]
        assert report.attempts == applicants and report.replayed == applicants, report
        assert report.exams_closed == 1
    return {
        "applicants": applicants,
        "items_per_attempt": length,
        "bank_size": bank_size,
        "entries": len(texts),
        "build_s": build_s,
        **times,
        "replayed": report.replayed,
        "problems": len(report.problems),
        "workers": verify_module._workers(),
    }


def _timed(label: str, fn: Callable[[], dict]) -> dict:
    t0 = time.perf_counter()
    out = fn()
    print(f"  ({label}: {time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller logs (a smoke run)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--only", choices=["log", "verify"], help="run one part")
    args = parser.parse_args()
    q = args.quick
    n, appends, proofs = (20_000, 200, 200) if q else (1_000_000, 2_000, 1_000)
    kinds = ["sqlite"] if args.skip_postgresql else ["sqlite", "postgresql"]
    report: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
        },
        "log": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "verify":
            for kind in kinds:
                row = _timed(
                    kind, lambda k=kind: big_log_benchmark(k, n, appends, proofs, Path(tmp))
                )
                report["log"].append(row)
                a, tx = row["append"], row["append_transaction"]
                p = row["inclusion_proof"]
                print(
                    f"{kind:>10}, {row['entries']:,} entries "
                    f"(bulk load {row['bulk_load_s']:.0f} s): "
                    f"append median {a['median_ms']:.3f} ms (p99 {a['p99_ms']:.3f}), "
                    f"whole transaction {tx['median_ms']:.3f} ms (p99 {tx['p99_ms']:.3f}), "
                    f"inclusion proof median {p['median_ms']:.3f} ms (p99 {p['p99_ms']:.3f}), "
                    f"tree built after the appends: {row['build_tree']['nodes']:,} nodes in "
                    f"{row['build_tree']['ms']:.0f} ms",
                    flush=True,
                )
    if args.only != "log":
        v = _timed("verify", lambda: verify_benchmark(500 if q else 10_000, 500, 30))
        report["verify"] = v
        print(
            f"verify + replay: {v['applicants']:,} attempts x {v['items_per_attempt']} items, "
            f"{v['entries']:,} entries (built in {v['build_s']:.0f} s): {v['verify_s']:.1f} s "
            f"with {v['workers']} replay workers, {v['one_process_s']:.1f} s in one process; "
            f"{v['problems']} problems, {v['replayed']:,} replayed"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
