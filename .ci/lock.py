"""Print the pinned versions of everything ``seleksi[test]`` needs, as installed here.

The output is ``constraints.txt``: ``.ci/run`` installs with ``-c constraints.txt``, so a
fresh machine gets exactly the versions the suite last passed with. Regenerate it after
upgrading on purpose (docs/operations.md, "Moving the lock forward").
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str, extras: set[str]) -> dict[str, str]:
    """Installed name → version for ``root`` with ``extras`` and all it requires."""
    pinned: dict[str, str] = {}
    todo = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        dist = metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key != canonicalize_name(root):
            pinned[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return pinned


if __name__ == "__main__":
    pins = closure("seleksi", {"test"})
    print("# The tested versions; regenerate with: python .ci/lock.py > constraints.txt")
    print(f"# Python {sys.version_info.major}.{sys.version_info.minor}")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
