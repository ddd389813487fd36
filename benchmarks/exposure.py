"""Sympson–Hetter exposure control: does the derived cap hold for new applicants?

On a 1,000-item synthetic 3PL bank with 30-item adaptive tests, derive the exposure
parameters for r_max = 0.2 and 0.1 (tolerance 0, the default setting), then run 3,000
fresh simulees — other abilities, answers and engine draws than any derivation round —
and report the largest exposure rate, the items above r_max, the RMSE and the cost of
the derivation.

Run:  python benchmarks/exposure.py [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np

from exam.cat.blueprint import ExposureConfig, SectionConfig
from exam.cat.plan import compile_section
from exam.cat.simulation import derive_sympson_hetter, simulate
from itembank.synthetic import synthetic_bank

FRESH = 3000


def measure(r_max: float) -> dict:
    bank = synthetic_bank(1000, seed=1000, domain="TIU", topics=4)
    config = SectionConfig("TIU", "TIU", max_items=30, exposure=ExposureConfig(r_max=r_max))
    plan = compile_section(config, bank)
    t0 = time.perf_counter()
    derivation = derive_sympson_hetter(plan, seed=1, tolerance=0.0)
    seconds = time.perf_counter() - t0
    theta = np.random.default_rng(12345).standard_normal(FRESH)
    fresh = simulate(
        plan.with_exposure_parameters(derivation.k),
        theta,
        hashlib.sha256(b"fresh applicants").digest(),
        answer_seed=777,
    )
    rates = fresh.exposure_rates
    return {
        "r_max": r_max,
        "converged": derivation.converged,
        "rounds": derivation.rounds,
        "derive_s": round(seconds, 1),
        "fresh_max_exposure": round(float(rates.max()), 4),
        "fresh_items_over_r_max": int((rates > r_max).sum()),
        "fresh_rmse": round(fresh.summary()["rmse"], 4),
        "items_restricted": int((derivation.k < 1).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="Write the figures to this file too.")
    args = parser.parse_args()
    rows = [measure(r) for r in (0.2, 0.1)]
    for row in rows:
        print(json.dumps(row))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
