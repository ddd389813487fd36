"""Where the app finds its templates, static files and schema migrations.

In a source checkout (and its editable install) they are the top-level folders
``templates/``, ``static/`` and ``migrations/`` of the repository. A built wheel carries
copies of them inside the package, in ``exam/_bundled/`` (``setup.py`` puts them there),
because an installed package has no repository around it.
"""

from __future__ import annotations

from pathlib import Path

#: The ``exam`` package (this module lives in ``exam/adapters/``).
PACKAGE = Path(__file__).resolve().parent.parent
#: The folders' copies in an installed wheel.
BUNDLED = PACKAGE / "_bundled"
#: The repository's top level, in a checkout.
CHECKOUT = PACKAGE.parent


def data_folder(name: str) -> Path:
    """The folder ``name`` (``templates``, ``static``, ``migrations``): the wheel's copy when
    the package is installed from one, else the checkout's."""
    # Only the installed wheel has _bundled/; there, site-packages/<name> is never looked at.
    return (BUNDLED if BUNDLED.is_dir() else CHECKOUT) / name


TEMPLATES = data_folder("templates")
STATIC = data_folder("static")
MIGRATIONS = data_folder("migrations")
