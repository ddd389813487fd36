"""Engine benchmarks, side by side with catsim 0.21 in one run.

1. Step time (estimate + select) on the same random 3PL banks of 1,000 and 10,000 items:
   Seleksi's single-attempt engine (EAP update, maximum information, content quotas,
   enemy items, Sympson–Hetter exposure control) against catsim's
   NumericalSearchEstimator (MLE) + MaxInfoSelector.
2. Accuracy at 30 items: RMSE of both engines on the same simulees, who answer an item
   the same way in both runs (counter-based uniforms per simulee and item).
3. Batched simulation: 10,000 simulees × 30 items on the 1,000-item bank, with the
   maximum item exposure under the default settings.

Run:  python benchmarks/engine.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
from catsim.estimation import NumericalSearchEstimator
from catsim.item_bank import ItemBank
from catsim.selection import MaxInfoSelector

from exam.cat import engine
from exam.cat.blueprint import ContentRule, SectionConfig
from exam.cat.plan import SectionPlan, compile_section
from exam.cat.simulation import simulate, splitmix_uniforms, with_exposure_parameters
from itembank.synthetic import synthetic_bank

SEED = bytes(32)
LENGTH = 30


def section(bank, content: bool) -> SectionConfig:
    rules = tuple(ContentRule(f"T{i}", 6, 9) for i in range(1, 5)) if content else ()
    return SectionConfig("TIU", "TIU", max_items=LENGTH, content=rules)


def respond(plan: SectionPlan, theta: float, person: int, item: int) -> int:
    p = plan.params
    u = splitmix_uniforms(99, np.array([person]), np.array([plan.rows[item]]))[0]
    prob = p.c[item] + (1 - p.c[item]) / (1 + np.exp(-p.a[item] * (theta - p.b[item])))
    return int(u < prob)


def seleksi_steps(plan: SectionPlan, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step µs (decide + answer) and final θ̂ of each simulee."""
    times, finals = [], []
    for person, theta in enumerate(thetas):
        name = f"b{person}"
        st = engine.start(plan, SEED, name)
        while True:
            t0 = time.perf_counter_ns()
            d = engine.decide(plan, st, SEED, name)
            t1 = time.perf_counter_ns()
            if d.item is None:
                break
            r = respond(plan, theta, person, d.item)
            t2 = time.perf_counter_ns()
            st = engine.answer(plan, st, d.item, r)
            times.append((time.perf_counter_ns() - t2 + t1 - t0) / 1000)
        finals.append(float(st.theta[0]))
    return np.array(times), np.array(finals)


def catsim_steps(plan: SectionPlan, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """catsim 0.21: MLE (bounded search, Dodd's heuristic) + maximum information."""
    p = plan.params
    bank = ItemBank(np.column_stack([p.a, p.b, p.c, np.ones(plan.size)]))
    est, sel = NumericalSearchEstimator(), MaxInfoSelector()
    times, finals = [], []
    for person, theta in enumerate(thetas):
        given: list[int] = []
        answers: list[bool] = []
        th = 0.0
        for _ in range(LENGTH):
            t0 = time.perf_counter_ns()
            if given:
                th = est.estimate(
                    item_bank=bank, administered_items=given, response_vector=answers, est_theta=th
                )
            item = int(sel.select(item_bank=bank, administered_items=given, est_theta=th))
            times.append((time.perf_counter_ns() - t0) / 1000)
            given.append(item)
            answers.append(bool(respond(plan, theta, person, item)))
        finals.append(
            float(
                est.estimate(
                    item_bank=bank, administered_items=given, response_vector=answers, est_theta=th
                )
            )
        )
    return np.array(times), np.clip(np.array(finals), -6, 6)


def step_benchmark(n_items: int, simulees: int, catsim_simulees: int) -> dict:
    bank = synthetic_bank(n_items, seed=n_items, domain="TIU", topics=4, enemy_pairs=n_items // 20)
    t0 = time.perf_counter()
    config = with_exposure_parameters(section(bank, content=True), bank, seed=1, tolerance=0.0)
    derive_s = time.perf_counter() - t0
    plan = compile_section(config, bank)
    thetas = np.random.default_rng(n_items).standard_normal(max(simulees, catsim_simulees))
    ours, _ = seleksi_steps(plan, thetas[:simulees])
    theirs, _ = catsim_steps(plan, thetas[:catsim_simulees])
    return {
        "bank_size": n_items,
        "seleksi_step_us_median": float(np.median(ours)),
        "seleksi_step_us_p99": float(np.percentile(ours, 99)),
        "catsim_step_us_median": float(np.median(theirs)),
        "catsim_step_us_p99": float(np.percentile(theirs, 99)),
        "ratio_median": float(np.median(theirs) / np.median(ours)),
        "seleksi_steps": int(ours.size),
        "catsim_steps": int(theirs.size),
        "exposure_derivation_s": derive_s,
    }


def accuracy_benchmark(simulees: int) -> dict:
    bank = synthetic_bank(1000, seed=1000, domain="TIU", topics=4)
    config = with_exposure_parameters(section(bank, content=False), bank, seed=1, tolerance=0.0)
    plan = compile_section(config, bank)
    thetas = np.random.default_rng(7).standard_normal(simulees)
    _, ours = seleksi_steps(plan, thetas)
    _, theirs = catsim_steps(plan, thetas)
    return {
        "simulees": simulees,
        "seleksi_rmse": float(np.sqrt(np.mean((ours - thetas) ** 2))),
        "catsim_rmse": float(np.sqrt(np.mean((theirs - thetas) ** 2))),
        "seleksi_bias": float(np.mean(ours - thetas)),
        "catsim_bias": float(np.mean(theirs - thetas)),
    }


def batch_benchmark(examinees: int) -> dict:
    bank = synthetic_bank(1000, seed=1000, domain="TIU", topics=4)
    t0 = time.perf_counter()
    config = with_exposure_parameters(section(bank, content=False), bank, seed=1, tolerance=0.0)
    derive_s = time.perf_counter() - t0
    plan = compile_section(config, bank)
    thetas = np.random.default_rng(3).standard_normal(examinees)
    t0 = time.perf_counter()
    result = simulate(plan, thetas, SEED, answer_seed=5)
    elapsed = time.perf_counter() - t0
    summary = result.summary()
    return {
        "examinees": examinees,
        "items": LENGTH,
        "bank_size": 1000,
        "seconds": elapsed,
        "exposure_derivation_s": derive_s,
        "rmse": summary["rmse"],
        "max_exposure": summary["max_exposure"],
        "overlap_rate": summary["overlap_rate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer simulees (a smoke run)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    q = args.quick
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": __import__("os").cpu_count(),
        },
        "steps": [
            step_benchmark(1000, 10 if q else 200, 3 if q else 40),
            step_benchmark(10000, 5 if q else 100, 2 if q else 10),
        ],
        "accuracy": accuracy_benchmark(50 if q else 400),
        "batch": batch_benchmark(1000 if q else 10000),
    }
    for row in report["steps"]:
        ours, theirs = row["seleksi_step_us_median"], row["catsim_step_us_median"]
        print(
            f"step, {row['bank_size']:>6} items: seleksi median {ours:8.1f} µs "
            f"(p99 {row['seleksi_step_us_p99']:.0f}), catsim median {theirs:9.1f} µs "
            f"-> {row['ratio_median']:.1f}x faster"
        )
    acc = report["accuracy"]
    print(
        f"accuracy at {LENGTH} items, {acc['simulees']} simulees: RMSE seleksi "
        f"{acc['seleksi_rmse']:.3f}, catsim {acc['catsim_rmse']:.3f}"
    )
    b = report["batch"]
    print(
        f"batch: {b['examinees']} x {b['items']} items on {b['bank_size']} items in "
        f"{b['seconds']:.2f} s; max exposure {b['max_exposure']:.3f}, RMSE {b['rmse']:.3f}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
