"""Rich content between QTI XML and Seleksi's markup (itembank.markup).

Reading turns an item body's XHTML (``p``, ``table``, ``img``…), its MathML and its
picture ``object`` elements into an HTML fragment, which the importer then sanitises and
whose image paths it resolves inside the package. Writing turns the sanitised fragment
back into elements of the QTI namespace (MathML in its own), with each stored picture
written as a file of the package.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

from itembank.markup import MATHML_TAGS

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
#: Elements that make an item rich content (read as markup, not plain text).
RICH = {"img", "object", "math", "table"}
VOID = {"img", "br", "hr"}
PICTURE_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def qti_name(name: str) -> str:
    """A QTI 3.0 element name without its ``qti-`` prefix (``qti-prompt`` → ``prompt``)."""
    return name[4:] if name.startswith("qti-") else name


def is_rich(elem: ET.Element) -> bool:
    return any(local(e.tag) in RICH for e in elem.iter())


def object_problem(elem: ET.Element) -> str | None:
    """Why an ``object`` cannot be read as a picture, or None."""
    kind = elem.get("type", "")
    if kind not in PICTURE_TYPES:
        return f"object of type {kind or '(none)'}: only PNG, JPEG and SVG pictures are supported"
    return None


def _attrs(elem: ET.Element) -> str:
    out = []
    for name, value in elem.attrib.items():
        if "}" in name:  # xml:lang, xsi:… and the like
            continue
        out.append(f' {name}="{html.escape(value, quote=True)}"')
    return "".join(out)


def outer_html(elem: ET.Element) -> str:
    """The element as HTML text (tags by local name; an ``object`` picture as an ``img``
    whose alt text is the object's fallback text)."""
    name = qti_name(local(elem.tag))
    if name == "object":
        alt = " ".join("".join(elem.itertext()).split())
        src = html.escape(elem.get("data", ""), quote=True)
        size = "".join(
            f' {k}="{html.escape(elem.get(k, ""), quote=True)}"'
            for k in ("width", "height")
            if elem.get(k)
        )
        return f'<img src="{src}" alt="{html.escape(alt, quote=True)}"{size}>' + _tail(elem)
    if name in VOID:
        return f"<{name}{_attrs(elem)}>" + _tail(elem)
    return f"<{name}{_attrs(elem)}>{inner_html(elem)}</{name}>" + _tail(elem)


def _tail(elem: ET.Element) -> str:
    return html.escape(elem.tail or "", quote=False)


def inner_html(elem: ET.Element) -> str:
    return html.escape(elem.text or "", quote=False) + "".join(outer_html(c) for c in elem)


def stem_html(container: ET.Element, choice: ET.Element) -> str:
    """The HTML of an item body outside its choice interaction."""
    out = html.escape(container.text or "", quote=False)
    for child in container:
        if any(e is choice for e in child.iter()):
            if child is not choice:
                out += stem_html(child, choice)
            out += _tail(child)
        else:
            out += outer_html(child)
    return out


def unwrap(fragment: str) -> str:
    """A stem that is one bare ``div`` (as Seleksi writes a stem) without the wrapper."""
    if fragment.startswith("<div>") and fragment.endswith("</div>"):
        inner = fragment[5:-6]
        depth = 0
        for part in inner.split("<")[1:]:
            if part.startswith("div"):
                depth += 1
            elif part.startswith("/div"):
                depth -= 1
                if depth < 0:
                    return fragment
        return inner
    return fragment


class _Builder(HTMLParser):
    """Sanitised HTML → XML elements under ``parent``; MathML in its namespace."""

    def __init__(self, parent: ET.Element, ns: str, src: Callable[[str], str]) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [parent]
        self.ns = ns
        self.src = src
        self.math = 0

    def _add_text(self, text: str) -> None:
        top = self.stack[-1]
        if len(top):
            top[-1].tail = (top[-1].tail or "") + text
        else:
            top.text = (top.text or "") + text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "img" and "src" in values:
            values["src"] = self.src(values["src"])
        if tag == "math":
            self.math += 1
        ns = MATHML_NS if self.math and tag in MATHML_TAGS else self.ns
        elem = ET.SubElement(self.stack[-1], f"{{{ns}}}{tag}", values)
        if tag not in VOID:
            self.stack.append(elem)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or len(self.stack) == 1:
            return
        self.stack.pop()
        if tag == "math":
            self.math -= 1

    def handle_data(self, data: str) -> None:
        self._add_text(data)


def append_html(parent: ET.Element, fragment: str, ns: str, src: Callable[[str], str]) -> None:
    """Append a sanitised fragment's nodes to ``parent``; ``src`` maps image sources."""
    builder = _Builder(parent, ns, src)
    builder.feed(fragment)
    builder.close()
