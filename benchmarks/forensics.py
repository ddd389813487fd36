"""Forensics validation: power and false-positive rate of the screening, by simulation.

Simulated sections (``proctoring.planted``: 400 applicants, a 90-item pool, 30 items each,
rooms of 40) are screened with ``proctoring.screening.screen`` at the committee's level.
Two kinds of runs:

- **no cheating**: every applicant honest. The false-positive rate of a statistic is the
  share of applicants (pairs, for similarity) it flags;
- **planted**: ``--planted`` applicants each with preknowledge, copying, rapid guessing
  and a stand-in. Power is the share of the planted applicants a statistic flags (for
  copying: copiers flagged in a pair with their source or anyone), and "any" the share
  flagged by at least one statistic. False positives are counted on the honest ones.

Run:  python benchmarks/forensics.py [--runs 10] [--level 0.05] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from proctoring.planted import PLANTS, simulate_section
from proctoring.screening import KINDS, ScreeningRules, screen


def run(runs: int, level: float, planted: int, persons: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    flagged_honest: dict[str, int] = defaultdict(int)
    honest_tested: dict[str, int] = defaultdict(int)
    null_flagged: dict[str, int] = defaultdict(int)
    null_tested: dict[str, int] = defaultdict(int)
    power: dict[tuple[str, str], int] = defaultdict(int)
    planted_total: dict[str, int] = defaultdict(int)
    seconds = []
    for r in tqdm(range(2 * runs), desc="screening", unit="section"):
        with_plants = r % 2 == 1
        sim = simulate_section(rng, persons=persons, planted=planted if with_plants else 0)
        rules = ScreeningRules(level=level, compromised=sim.compromised, seed=r)
        t0 = time.perf_counter()
        result = screen([sim.data], rules)
        seconds.append(time.perf_counter() - t0)
        cheaters = {p for names in sim.planted.values() for p in names}
        honest = [p for p in sim.data.persons if p not in cheaters]
        n_pairs_honest = {t.kind: t.tested for t in result.tested if t.kind == "similarity"}.get(
            "similarity", 0
        )
        by_kind: dict[str, set[str]] = defaultdict(set)
        for f in result.flags:
            for p in f.pseudonyms:
                by_kind[f.kind].add(p)
        if not with_plants:
            for t in result.tested:
                null_tested[t.kind] += t.tested
                null_flagged[t.kind] += t.flagged
            continue
        for kind in KINDS:
            if kind == "similarity":
                honest_pairs = [
                    f
                    for f in result.flags
                    if f.kind == "similarity" and not set(f.pseudonyms) & cheaters
                ]
                flagged_honest[kind] += len(honest_pairs)
                honest_tested[kind] += n_pairs_honest
            else:
                flagged_honest[kind] += len(by_kind[kind] - cheaters)
                honest_tested[kind] += len(honest)
        for plant in PLANTS:
            names = set(sim.planted[plant])
            planted_total[plant] += len(names)
            anyone = set()
            for kind in KINDS:
                hit = by_kind[kind] & names
                power[(plant, kind)] += len(hit)
                anyone |= hit
            power[(plant, "any")] += len(anyone)
    return {
        "runs": runs,
        "level": level,
        "persons": persons,
        "planted": planted,
        "seconds_per_section": float(np.median(seconds)),
        "fpr_no_cheating": {
            k: null_flagged[k] / null_tested[k] if null_tested[k] else None for k in KINDS
        },
        "fpr_honest_in_planted": {
            k: flagged_honest[k] / honest_tested[k] if honest_tested[k] else None for k in KINDS
        },
        "power": {
            plant: {k: power[(plant, k)] / planted_total[plant] for k in (*KINDS, "any")}
            for plant in PLANTS
        },
    }


def table(res: dict) -> str:
    def pct(x):
        return "—" if x is None else f"{100 * x:.1f} %"

    lines = [
        f"{res['runs']} sections without and {res['runs']} with planted applicants; "
        f"{res['persons']} applicants, {res['planted']} of each kind planted; level "
        f"{res['level']}; {res['seconds_per_section']:.1f} s per section (median)",
        "",
        "| statistic | FPR, no cheating | FPR, honest among planted | "
        + " | ".join(f"power: {p}" for p in PLANTS)
        + " |",
        "|---|---|---|" + "---|" * len(PLANTS),
    ]
    for k in (*KINDS, "any"):
        cells = [
            pct(res["fpr_no_cheating"].get(k)) if k != "any" else "",
            pct(res["fpr_honest_in_planted"].get(k)) if k != "any" else "",
        ] + [pct(res["power"][p][k]) for p in PLANTS]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--level", type=float, default=0.05)
    parser.add_argument("--planted", type=int, default=8)
    parser.add_argument("--persons", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json")
    args = parser.parse_args()
    res = run(args.runs, args.level, args.planted, args.persons, args.seed)
    res["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(table(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
