"""benchmarks/examday.py keeps working: a handful of applicants of two test sites log in
at the shipped login settings (one mistyping first), answer with heartbeats while an
observer follows the log, on PostgreSQL with 2 workers, at 30 times the human pace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_examday_smoke_run(tmp_path):
    out = tmp_path / "examday.json"
    cmd = [
        *(sys.executable, str(ROOT / "benchmarks" / "examday.py")),
        *("--applicants", "6", "--sites", "2", "--pace", "30", "--window", "60"),
        *("--steady", "150", "--items", "6", "--bank", "60", "--calibrate", "0"),
        *("--typos", "0.3", "--json", str(out)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELEKSI_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["logins"] == r["started"] == 6
    assert r["mistyped_logins"] >= 1
    assert r["errors"] == 0 and r["applicants_failed"] == 0, r["error_kinds"]
    assert r["answers"] >= 6 and r["heartbeats"] >= 12
    assert r["lost"] == 0 and r["observer_unseen"] == 0
    assert r["site_allowance"] == 3
    assert r["steady"]["cpu_ms_per_answer"]["server"] > 0
