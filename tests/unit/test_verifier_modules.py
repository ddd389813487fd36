"""The single-file verifier carries exactly the project modules its entry point imports:
a module added to the verifier's import closure but not to the file fails here, before
anyone downloads a verifier that cannot start."""

import modulefinder
from pathlib import Path

from proctoring import zipapp

ROOT = Path(zipapp.__file__).resolve().parents[1]
PACKAGES = ("proctoring", "exam", "itembank", "scoring")


def project_closure(entry: str) -> set[str]:
    finder = modulefinder.ModuleFinder(path=[str(ROOT)])
    finder.run_script(str(ROOT / entry))
    found = set()
    for name, module in finder.modules.items():
        if name.split(".")[0] in PACKAGES and module.__file__:
            found.add(Path(module.__file__).resolve().relative_to(ROOT).as_posix())
    return found


def test_the_verifier_file_holds_its_whole_import_closure():
    needed = project_closure("proctoring/verifier_main.py")
    assert "proctoring/verify.py" in needed and "exam/cat/engine.py" in needed
    assert needed <= set(zipapp.MODULES), sorted(needed - set(zipapp.MODULES))
    # Nothing beyond the pure verifier: no web, database or settings module.
    assert not [m for m in zipapp.MODULES if "/web/" in m or "/adapters/" in m]
