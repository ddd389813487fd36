"""Item-bank benchmarks.

1. Import of 10,000 items from a CSV file into a fresh database (SQLite, and PostgreSQL
   when reachable): parse, validate everything, write in one transaction.
2. 2PL calibration (girth, marginal maximum likelihood) of 100 items × 10,000 persons
   simulated from known parameters: time and recovery of the generating b and a.

Run:  python benchmarks/itembank.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from exam.adapters import database, migrate
from exam.adapters.settings import Settings
from itembank import repository
from itembank.calibration import calibrate
from itembank.synthetic import synthetic_items
from itembank.transfer import read_bank_file, write_bank
from scoring.irt import category_probs
from scoring.params import ItemParams

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def import_benchmark(settings: Settings, csv_path: Path) -> dict:
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    with database.session_factory(engine)() as session, session.begin():
        located = read_bank_file(csv_path, repository.known_item_ids(session))
        t_parse = time.perf_counter() - t0
        report = repository.import_items(session, located)
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": elapsed, "parse_validate_seconds": t_parse, "created": len(report.created)}


def imports(n: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "bank.csv"
        items = synthetic_items(n // 2, seed=1, domain="TIU") + [
            i for i in synthetic_items(n - n // 2, seed=2, domain="TKP", polytomous=True)
        ]
        write_bank(items, csv_path)
        out["csv_bytes"] = csv_path.stat().st_size
        out["sqlite"] = import_benchmark(Settings(data_dir=Path(tmp) / "data"), csv_path)
        try:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('DROP DATABASE IF EXISTS "seleksi_bench"'))
                conn.execute(text('CREATE DATABASE "seleksi_bench"'))
            url = PG_ADMIN.rsplit("/", 1)[0] + "/seleksi_bench"
            out["postgresql"] = import_benchmark(
                Settings(data_dir=Path(tmp) / "d2", database_url=url), csv_path
            )
            with admin.connect() as conn:
                conn.execute(text('DROP DATABASE "seleksi_bench" WITH (FORCE)'))
        except Exception as exc:  # no PostgreSQL here: report it, keep the SQLite figure
            out["postgresql"] = {"error": f"{exc.__class__.__name__}: {exc}"[:200]}
    return out


def calibration(items: int, persons: int) -> dict:
    rng = np.random.default_rng(2024)
    a = rng.uniform(0.6, 2.0, items)
    b = rng.normal(0.0, 1.0, items)
    params = ItemParams.three_pl(a, b)
    theta = rng.standard_normal(persons)
    p = category_probs(params, theta)[:, :, 1]
    responses = (rng.random(p.shape) < p).astype(np.int64)
    t0 = time.perf_counter()
    result = calibrate(responses, params.ids, "2pl")
    elapsed = time.perf_counter() - t0
    est = result.params
    return {
        "items": items,
        "persons": persons,
        "seconds": elapsed,
        "rmse_b": float(np.sqrt(np.mean((est.b - b) ** 2))),
        "rmse_a": float(np.sqrt(np.mean((est.a - a) ** 2))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    report = {"import": imports(10_000), "calibration": calibration(100, 10_000)}
    imp = report["import"]
    for db in ("sqlite", "postgresql"):
        r = imp[db]
        if "error" in r:
            print(f"import 10,000 CSV items, {db}: not run ({r['error']})")
        else:
            print(
                f"import 10,000 CSV items, {db}: {r['seconds']:.2f} s "
                f"(parse + validate {r['parse_validate_seconds']:.2f} s)"
            )
    cal = report["calibration"]
    print(
        f"2PL calibration {cal['items']} items x {cal['persons']} persons: "
        f"{cal['seconds']:.1f} s, RMSE b {cal['rmse_b']:.3f}, RMSE a {cal['rmse_a']:.3f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
