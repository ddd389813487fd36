"""Every message the code or a template uses has an Indonesian and an English text.

The used message ids are found by Babel's own extraction (the same as ``pybabel extract``)
over the templates and the Python packages, with the project's keywords: ``t(key)`` and
``gettext``/``_`` in templates, ``translate(lang, key)`` in Python.
"""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from exam import i18n
from exam.web.api_attempts import PROCTORING_EVENTS
from exam.web.errors import PAGES

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"t": None, "translate": (2,), "gettext": None, "_": None, "ngettext": (1, 2)}
PACKAGES = ("exam", "scoring", "itembank", "proctoring")


def used() -> dict[str, str]:
    """Message id → the first place that uses it."""
    found: dict[str, str] = {}
    sources = [("templates", "**.html", "jinja2.ext:babel_extract")]
    sources += [(package, "**.py", "python") for package in PACKAGES]
    for folder, pattern, method in sources:
        for name, line, msgid, _comments, _context in extract_from_dir(
            ROOT / folder, [(pattern, method)], keywords=KEYWORDS
        ):
            found.setdefault(msgid, f"{folder}/{name}:{line}")
    return found


def catalogue(lang: str) -> dict[str, str]:
    with i18n.catalogue_path(lang).open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def test_extraction_finds_the_messages_in_templates_and_code():
    """A guard on the test itself: an extraction that found nothing would pass below."""
    found = used()
    assert "exam.receipt_help" in found and found["exam.receipt_help"].startswith("templates/")
    assert found["err.signer_refused"].startswith("exam/")


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_used_message_has_a_text(lang):
    texts = catalogue(lang)
    missing = [f"{msgid} ({where})" for msgid, where in used().items() if not texts.get(msgid)]
    assert missing == [], f"no {lang} text in {i18n.catalogue_path(lang)} for: {missing}"


def test_both_catalogues_hold_the_same_messages_all_translated():
    indonesian, english = catalogue("id"), catalogue("en")
    assert set(indonesian) == set(english)
    assert [k for k, v in indonesian.items() if not v.strip()] == []
    assert [k for k, v in english.items() if not v.strip()] == []


def test_messages_built_from_a_prefix_exist():
    """``t("event." ~ kind)`` escapes extraction: each prefix a template builds on names
    messages, and every proctoring event a client may send has its name."""
    texts = catalogue("id")
    prefixes = set()
    for page in (ROOT / "templates").rglob("*.html"):
        prefixes |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*~""", page.read_text()))
    assert "event." in prefixes
    assert [p for p in prefixes if not any(k.startswith(p) for k in texts)] == []
    assert [e for e in PROCTORING_EVENTS if not texts.get(f"proctor.{e}")] == []


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_error_page_has_its_texts(lang):
    """The error pages pick their texts by status (``exam.web.errors``)."""
    texts = catalogue(lang)
    keys = [f"error.{s}.{part}" for s in PAGES for part in ("title", "text")]
    assert [k for k in keys if not texts.get(k)] == []


def test_lookup_follows_the_language_and_falls_back_to_the_key():
    assert i18n.translate("id", "login.title") == "Masuk"
    assert i18n.translate("en", "login.title") == "Log in"
    assert i18n.translate("fr", "login.title") == "Masuk"  # unknown: the default
    assert i18n.translate("id", "no.such.message") == "no.such.message"
