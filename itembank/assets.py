"""Pictures of items: checked, sanitised and named by the SHA-256 of their bytes.

Allowed types are PNG, JPEG and SVG, recognised by their bytes, never by a file's name.
PNG and JPEG are checked by Pillow (header, size in pixels, decodable); SVG is rebuilt
element by element from an allow-list, so a stored SVG has no script, no event attribute,
no animation, no foreign object and no reference outside itself. The SHA-256 is taken of
the bytes stored, i.e. after sanitising.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET  # writing only; parsing goes through defusedxml

from defusedxml import ElementTree as SafeET
from PIL import Image

from scoring import limits

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "svg": "image/svg+xml"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}

# Hand-written because the maintained sanitisers (nh3, bleach) clean HTML fragments and
# write HTML; a standalone SVG file must stay namespaced XML. Static SVG 1.1 drawing
# elements only: no script, a, foreignObject, image, animate/set or use of other files.
SVG_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "title", "desc", "path", "rect", "circle",
    "ellipse", "line", "polyline", "polygon", "text", "tspan", "linearGradient",
    "radialGradient", "stop", "clipPath", "mask", "pattern", "marker", "style",
}  # fmt: skip
SVG_ATTRIBUTES = {
    "id", "class", "style", "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2",
    "cx", "cy", "r", "rx", "ry", "d", "points", "transform", "fill", "fill-opacity",
    "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit",
    "opacity", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "dx", "dy", "rotate", "letter-spacing", "offset", "stop-color",
    "stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod", "fx", "fy",
    "clip-path", "clip-rule", "mask", "maskUnits", "maskContentUnits", "patternUnits",
    "patternContentUnits", "patternTransform", "markerWidth", "markerHeight", "refX",
    "refY", "orient", "markerUnits", "marker-start", "marker-mid", "marker-end",
    "preserveAspectRatio", "version", "display", "visibility", "color", "role",
    "aria-label", "aria-hidden", "focusable", "vector-effect", "shape-rendering",
    "clipPathUnits", "paint-order", "type", "media",
}  # fmt: skip
#: A CSS or attribute value that could fetch or run something: any url() but a local
#: fragment, @import, CSS escapes (which hide either), and script-ish schemes.
_UNSAFE_VALUE = re.compile(
    r"url\s*\(\s*(?!['\"]?#)|@import|\\|javascript:|data:|expression\s*\(", re.IGNORECASE
)


class AssetError(ValueError):
    """A picture that is refused; the message says why."""


@dataclass(frozen=True)
class Asset:
    sha256: str
    media_type: str
    data: bytes

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Asset:
        return cls(hashlib.sha256(data).hexdigest(), media_type, data)


def sniff(data: bytes) -> str | None:
    """The allowed type the bytes are, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    head = data[:1024].lstrip().lower()
    if (
        head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype"))
        and b"<svg" in data[:4096].lower()
    ):
        return "image/svg+xml"
    return None


def _other_type(data: bytes) -> str:
    for magic, name in ((b"GIF8", "GIF"), (b"RIFF", "WebP"), (b"BM", "BMP"), (b"%PDF", "PDF")):
        if data.startswith(magic):
            return f"a {name} file"
    return "not a PNG, JPEG or SVG picture"


def check(data: bytes) -> Asset:
    """The asset these bytes make (SVG sanitised); AssetError saying why if refused."""
    if len(data) > limits.ASSET_BYTES:
        raise AssetError(f"{len(data):,} bytes; a picture may have at most {limits.ASSET_BYTES:,}")
    media_type = sniff(data)
    if media_type is None:
        raise AssetError(f"{_other_type(data)}: only PNG, JPEG and SVG pictures are allowed")
    if media_type == "image/svg+xml":
        return Asset.of(media_type, sanitise_svg(data))
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > limits.IMAGE_PIXELS:
                raise AssetError(
                    f"{width}×{height} pixels; a picture may have at most "
                    f"{limits.IMAGE_PIXELS:,} pixels"
                )
            img.load()
    except AssetError:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged file
        raise AssetError(f"damaged {media_type} picture ({exc})") from None
    return Asset.of(media_type, data)


def _local(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        return ns, local
    return "", name


def _clean_attrs(elem: ET.Element) -> dict[str, str]:
    out = {}
    for name, value in elem.attrib.items():
        ns, local = _local(name)
        if _UNSAFE_VALUE.search(value):
            continue
        if local == "href" and ns in ("", XLINK_NS):
            if value.startswith("#"):
                out[f"{{{XLINK_NS}}}href" if ns else "href"] = value
        elif ns == XML_NS and local in ("space", "lang"):
            out[name] = value
        elif ns == "" and local in SVG_ATTRIBUTES:
            out[local] = value
    return out


def _copy(src: ET.Element, depth: int) -> ET.Element | None:
    ns, local = _local(src.tag)
    if ns != SVG_NS or local not in SVG_ELEMENTS or depth > limits.DEPTH:
        return None
    out = ET.Element(f"{{{SVG_NS}}}{local}", _clean_attrs(src))
    text = src.text or ""
    if local == "style" and _UNSAFE_VALUE.search(text):
        text = ""
    out.text = text
    for child in src:
        copied = _copy(child, depth + 1)
        if copied is not None:
            copied.tail = child.tail
            out.append(copied)
        elif child.tail:
            # keep the text that followed a dropped element
            last = out[-1] if len(out) else None
            if last is not None:
                last.tail = (last.tail or "") + child.tail
            else:
                out.text = (out.text or "") + child.tail
    return out


def sanitise_svg(data: bytes) -> bytes:
    """The SVG rebuilt from the allow-list, as UTF-8 XML; AssetError if not SVG."""
    try:
        root = SafeET.fromstring(data)
    except ET.ParseError as exc:
        raise AssetError(f"malformed SVG: {exc}") from None
    except Exception as exc:  # defusedxml refuses entities and DTDs
        raise AssetError(f"refused SVG: {exc}") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise AssetError("not an SVG picture (the root element must be svg in the SVG namespace)")
    clean = _copy(root, 0)
    assert clean is not None
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    return ET.tostring(clean, encoding="utf-8", xml_declaration=False)
