"""Build hook: the wheel carries the repository's top-level data folders.

The project's metadata and packages are in pyproject.toml. The templates, static files and
migrations stay top-level folders of the repository; setuptools' package-data only takes
files inside a package's own folder, so this copies them into ``exam/_bundled/`` of the
built package, where ``exam.adapters.paths`` looks for them in an installed wheel.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("templates", "static", "migrations")


class BuildWithDataFolders(build_py):
    """``build_py`` that also copies ``DATA_FOLDERS`` into ``exam/_bundled/``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders
            return
        bundled = Path(self.build_lib) / "exam" / "_bundled"
        shutil.rmtree(bundled, ignore_errors=True)  # no file deleted from the source survives
        for name in DATA_FOLDERS:
            source = HERE / name
            if not source.is_dir():
                raise FileNotFoundError(f"{source}: missing, the wheel would not run")
            shutil.copytree(
                source, bundled / name, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
            )


setup(cmdclass={"build_py": BuildWithDataFolders})
