"""Rich item content: a stem or option as sanitised markup.

An item written with ``markup`` holds an HTML fragment restricted to an allow-list: text
formatting, lists, tables, images and MathML (Chromium renders MathML Core natively, so
no script or web font is needed). Sanitising is nh3's (the Ammonia HTML sanitiser), run on
every import and again on every rendering, so nothing outside the allow-list reaches a
browser: no script, no event attribute, no style, no link, no external reference.

An image refers to a stored asset by its SHA-256, ``<img src="asset:<hex>" alt="…">``, so
the item's content hash, and with it the bank snapshot the log commits to, covers the
picture's bytes. Every image needs alt text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import nh3

ASSET_SCHEME = "asset:"
ASSET_REF = re.compile(r"asset:([0-9a-f]{64})")

HTML_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "sub", "sup", "span", "div", "ul", "ol", "li",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "img",
}  # fmt: skip
#: MathML Core's presentation elements (W3C, MathML Core, 2023), without ``semantics``
#: and its annotations, which could carry HTML past the allow-list.
MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt", "mroot",
    "msub", "msup", "msubsup", "munder", "mover", "munderover", "mmultiscripts",
    "mprescripts", "none", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "merror",
}  # fmt: skip
TAGS = HTML_TAGS | MATHML_TAGS
_MO = {"form", "fence", "separator", "stretchy", "symmetric", "largeop", "movablelimits",
       "lspace", "rspace", "minsize", "maxsize"}  # fmt: skip
_SIZE = {"width", "height", "depth"}
ATTRIBUTES: dict[str, set[str]] = {
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
    "math": {"display"},
    "mi": {"mathvariant"},
    "mo": _MO,
    "mfrac": {"linethickness"},
    "mspace": _SIZE,
    "mpadded": _SIZE | {"lspace", "voffset"},
    "mtd": {"columnspan", "rowspan"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "munderover": {"accent", "accentunder"},
    "mstyle": {"displaystyle", "scriptlevel"},
}
#: Elements removed with everything inside them (the rest lose the tag, keep the text).
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "embed", "svg",
                     "annotation-xml", "annotation", "noscript", "textarea", "select"}  # fmt: skip


def _clean(text: str, attribute_filter: Callable[[str, str, str], str | None] | None) -> str:
    return nh3.clean(
        text,
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"asset"},
        link_rel=None,
        strip_comments=True,
    )


def clean(text: str, src: Callable[[str], str | None] | None = None) -> str:
    """The fragment restricted to the allow-list, white space collapsed; ``src`` (if
    given) maps each image source to a new one, or to None to drop it."""

    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src" and src is not None:
            return src(value)
        return value

    return _clean(" ".join(text.split()), keep if src is not None else None)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def images(text: str) -> list[tuple[str, str]]:
    """(src, alt) of each image of a sanitised fragment, in order; missing ones are ''."""
    parser = _Images()
    parser.feed(text)
    parser.close()
    return [(i.get("src") or "", (i.get("alt") or "").strip()) for i in parser.images]


def asset_refs(text: str) -> list[str]:
    """The SHA-256 of each stored asset the fragment shows, in order of first use."""
    out: list[str] = []
    for src, _ in images(text):
        m = ASSET_REF.fullmatch(src)
        if m and m.group(1) not in out:
            out.append(m.group(1))
    return out


def image_problems(text: str) -> list[str]:
    """What is wrong with the images of a sanitised fragment: no source (an external
    one is removed by sanitising) or no alt text. Sources are checked where they are
    resolved (itembank.transfer), and a page shows only stored pictures."""
    out = []
    for n, (src, alt) in enumerate(images(text), 1):
        if not src:
            out.append(f"image {n} has no source (only pictures inside the file are allowed)")
        if not alt:
            out.append(f"image {n} ({src or 'no source'}) has no alt text")
    return out


def render(text: str, asset_url: Callable[[str], str]) -> str:
    """The fragment as a page shows it: sanitised again, each ``asset:<hex>`` source
    replaced by ``asset_url(hex)``."""

    def url(value: str) -> str | None:
        m = ASSET_REF.fullmatch(value)
        return asset_url(m.group(1)) if m else None

    def keep(tag: str, attr: str, value: str) -> str | None:
        return url(value) if tag == "img" and attr == "src" else value

    return _clean(text, keep)
