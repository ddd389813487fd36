"""Password checks per second per core, at candidate argon2id costs.

A login's processor time is almost all one argon2id verification, so its cost decides how
fast a session's applicants can log in: a 2,000-applicant session must be in within
3 minutes on 2 cores (11.1 logins/s), while the same cores serve the answers of those
already in. The candidates are OWASP's argon2id minimum and its equivalents (Password
Storage Cheat Sheet: m = 19 MiB t = 2, m = 12 MiB t = 3, m = 46 MiB t = 1, all p = 1) and
the costs shipped before (m = 64 MiB, t = 3).

For each, the verification is run in 1 thread and in as many threads as the process may
use cores (argon2-cffi releases the interpreter lock, as a server's worker threads would
run it), and the script prints checks/s per core and the seconds 2,000 logins spend
hashing on 2 cores.

Run:  python benchmarks/passwords.py [--seconds S] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher

from exam.adapters.settings import Settings

#: (time cost, memory KiB), OWASP's minimum first.
CANDIDATES = [(2, 19456), (3, 12288), (1, 47104), (3, 65536)]
OWASP_MINIMUM_KIB_BY_T = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}
SESSION, WINDOW_S, CORES = 2000, 180, 2


def meets_owasp(t: int, m: int) -> bool:
    """Whether (t, m) is at least one of OWASP's equivalent argon2id minimums."""
    return any(t >= tt and m >= mm for tt, mm in OWASP_MINIMUM_KIB_BY_T.items())


def rate(hasher: PasswordHasher, stored: str, threads: int, seconds: float) -> float:
    """Verifications per second over all ``threads``."""

    def run(_: int) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            hasher.verify(stored, "correct horse")
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(run, range(threads)))
    return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    shipped = Settings()
    print(f"{platform.processor() or platform.machine()}, {cores} cores usable")
    print(f"shipped: t={shipped.argon2_time_cost} m={shipped.argon2_memory_kib} KiB p=1")
    print("   t  m KiB  OWASP  ms/check  checks/s/core (1 thread)  (all cores)  2,000 on 2 cores")
    rows = []
    for t, m in CANDIDATES:
        hasher = PasswordHasher(time_cost=t, memory_cost=m, parallelism=1)
        stored = hasher.hash("correct horse")
        one = rate(hasher, stored, 1, args.seconds)
        many = rate(hasher, stored, cores, args.seconds) / cores
        per_core = min(one, many)
        session_s = SESSION / (per_core * CORES)
        rows.append(
            {
                "time_cost": t,
                "memory_kib": m,
                "owasp": meets_owasp(t, m),
                "per_core_1_thread": one,
                "per_core_all": many,
                "session_hash_s": session_s,
            }
        )
        print(
            f"  {t}  {m:6d}  {'yes' if meets_owasp(t, m) else 'no ':3s}  {1000 / one:8.1f}"
            f"  {one:24.1f}  {many:11.1f}  {session_s:6.0f} s of {WINDOW_S} s"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"cores": cores, "rows": rows}, out, indent=2)


if __name__ == "__main__":
    main()
