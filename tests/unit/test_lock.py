"""The lock (constraints.txt) is what the suite runs on, and it meets pyproject's bounds."""

import importlib.util
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    rows = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = (r.split("==") for r in rows if r.strip() and not r.startswith("#"))
    return {canonicalize_name(name): version for name, version in pairs}


def lock_module():
    spec = importlib.util.spec_from_file_location("lock", ROOT / ".ci" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dependency_is_pinned_within_its_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins()
    for text in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        req = Requirement(text)
        version = locked.get(canonicalize_name(req.name))
        assert version is not None, f"{req.name} is not in constraints.txt"
        assert version in req.specifier, f"{req.name}=={version} is outside {req.specifier}"
        # An upper bound on the major version: a new major never arrives unannounced.
        bounded = any(s.operator in ("<", "==", "~=") for s in req.specifier)
        assert bounded, f"{req.name} has no upper bound"


def test_the_installed_environment_is_the_lock():
    """What the suite imports resolves to exactly the locked versions (.ci/run installs
    with -c constraints.txt); a drifted environment or a stale lock fails here."""
    assert lock_module().closure("seleksi", {"test"}) == pins()
