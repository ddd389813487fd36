"""IMS QTI 2.1 and 3.0 content packages: read and write single-choice items.

A package is a zip with ``imsmanifest.xml`` listing item resources
(``imsqti_item_xmlv2p1`` or ``imsqti_item_xmlv3p0``). Seleksi reads choice interactions
with one response: a ``correctResponse`` makes a keyed item, a ``mapping`` with per-option
points a TKP-style item. An item body with pictures (``img``, or an ``object`` of a picture
type), tables or MathML is read as markup (itembank.qti_content); the pictures are files
of the package. Anything else — other interaction types, several responses, audio, video,
other objects — is reported with its file and XML path, never dropped.

QTI has no element for IRT parameters or the exam domain, so Seleksi keeps them in the
manifest's resource ``<metadata>`` under its own namespace (allowed by IMS Content
Packaging); a package from another tool imports as draft items of domain ``UNSORTED``.
XML is parsed with defusedxml (no entity expansion, no external entities).
"""

from __future__ import annotations

import io
import math
import re
import traceback
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET  # writing only; parsing goes through defusedxml

from defusedxml import ElementTree as SafeET

from itembank import qti_content as qc
from itembank.assets import Asset
from itembank.content import OPTION_KEYS, BankInputError, ItemContent, Option, Problem
from itembank.markup import ASSET_REF
from scoring import limits

META_NS = "urn:seleksi:qti-metadata:1"
Located = tuple[ItemContent, str, str | None]


@dataclass(frozen=True)
class Dialect:
    version: str
    item_ns: str
    cp_ns: str
    resource_type: str
    names: dict[str, str]

    def q(self, name: str) -> str:
        return f"{{{self.item_ns}}}{self.names[name]}"


_NAMES_21 = {
    "item": "assessmentItem",
    "decl": "responseDeclaration",
    "correct": "correctResponse",
    "value": "value",
    "mapping": "mapping",
    "entry": "mapEntry",
    "body": "itemBody",
    "choice": "choiceInteraction",
    "prompt": "prompt",
    "simple": "simpleChoice",
    "map_key": "mapKey",
    "mapped": "mappedValue",
    "resp_id": "responseIdentifier",
    "max_choices": "maxChoices",
    "outcome": "outcomeDeclaration",
    "base_type": "baseType",
    "default_attr": "defaultValue",
    "time_dependent": "timeDependent",
}
_NAMES_30 = {
    "item": "qti-assessment-item",
    "decl": "qti-response-declaration",
    "correct": "qti-correct-response",
    "value": "qti-value",
    "mapping": "qti-mapping",
    "entry": "qti-map-entry",
    "body": "qti-item-body",
    "choice": "qti-choice-interaction",
    "prompt": "qti-prompt",
    "simple": "qti-simple-choice",
    "map_key": "map-key",
    "mapped": "mapped-value",
    "resp_id": "response-identifier",
    "max_choices": "max-choices",
    "outcome": "qti-outcome-declaration",
    "base_type": "base-type",
    "default_attr": "default-value",
    "time_dependent": "time-dependent",
}
DIALECTS = {
    "2.1": Dialect(
        "2.1",
        "http://www.imsglobal.org/xsd/imsqti_v2p1",
        "http://www.imsglobal.org/xsd/imscp_v1p1",
        "imsqti_item_xmlv2p1",
        _NAMES_21,
    ),
    "3.0": Dialect(
        "3.0",
        "http://www.imsglobal.org/xsd/imsqtiasi_v3p0",
        "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1",
        "imsqti_item_xmlv3p0",
        _NAMES_30,
    ),
}
_BY_TYPE = {d.resource_type: d for d in DIALECTS.values()}
_UNSUPPORTED_CONTENT = {"audio", "video", "iframe", "qti-media-interaction"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element) -> str:
    return re.sub(r"\s+", " ", "".join(elem.itertext())).strip()


def _path(elem: ET.Element, parents: dict, href: str) -> str:
    parts = []
    node: ET.Element | None = elem
    while node is not None:
        parts.append(_local(node.tag))
        node = parents.get(node)
    return f"{href}:/" + "/".join(reversed(parts))


def _stem_paragraphs(container: ET.Element, choice: ET.Element) -> list[str]:
    """Text of the item body outside the choice interaction, one entry per block."""
    out = [container.text.strip()] if container.text and container.text.strip() else []
    for child in container:
        if any(e is choice for e in child.iter()):
            if child is not choice:
                out += _stem_paragraphs(child, choice)
        else:
            out.append(_text(child))
        if child.tail and child.tail.strip():
            out.append(child.tail.strip())
    return out


def _is_interaction(name: str) -> bool:
    return name.endswith("Interaction") or (
        name.startswith("qti-") and name.endswith("-interaction")
    )


class _GrowingReads(io.BytesIO):
    """A member as ``iterparse`` reads it: 16 KiB at a time while the parse gives events,
    twice as much at each read after which it gave none (``parsed`` starts over). Expat
    scans a token cut by a read again from its start at the next read, so one long token
    (an attribute of 16 MiB) read 16 KiB at a time cost quadratic time, seconds for one
    member; growing reads make it linear, and a deep tree still stops within some KiB."""

    FIRST = 16 * 1024
    MOST = 4 * limits.MiB

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size = self.FIRST

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return super().read()
        size, self.size = max(size, self.size), min(2 * self.size, self.MOST)
        return super().read(size)

    def parsed(self) -> None:
        self.size = self.FIRST


def _parse_xml(data: bytes, source: str, href: str) -> ET.Element:
    """The root element, parsed by defusedxml; elements nested deeper than limits.DEPTH
    are refused while parsing, before the deep tree is walked.

    A refused member's bytes are let go at once, not when the garbage collector next
    runs, so that a package of many damaged members near the cap never holds them all:
    ElementTree's frames that raise a parse error hold it in a local (a cycle through its
    traceback, whose frames hold the member), an iterator left before its end is a cycle
    too (whose reader holds the member), and so is the parser, whose expat buffer holds a
    long token whole, until its close() after a clean end."""
    root = None
    depth = 0
    problem = None
    reader = _GrowingReads(data)
    parser = SafeET.DefusedXMLParser(target=ET.TreeBuilder())
    try:
        for event, elem in SafeET.iterparse(reader, ("start", "end"), parser):
            reader.parsed()
            if event == "end":
                depth -= 1
                continue
            root = elem if root is None else root
            depth += 1
            if depth > limits.DEPTH:
                message = f"XML elements nested deeper than {limits.DEPTH} levels"
                problem = Problem(source, href, None, message)
                break
    except ET.ParseError as exc:
        line, _col = exc.position
        problem = Problem(source, f"{href}:{line}", None, f"malformed XML: {exc}")
        traceback.clear_frames(exc.__traceback__)
    except Exception as exc:  # defusedxml refuses entities, DTDs and the like
        problem = Problem(source, href, None, f"refused XML: {exc}")
        traceback.clear_frames(exc.__traceback__)
    finally:
        reader.close()
        for name in ("parser", "_parser", "target", "_target"):  # what close() drops
            parser.__dict__.pop(name, None)
    if problem is not None:
        raise BankInputError([problem])
    return root


def _metadata(resource: ET.Element) -> dict[str, str]:
    for elem in resource.iter(f"{{{META_NS}}}item"):
        return dict(elem.attrib)
    return {}


def _floats(text: str, source: str, where: str, fld: str, problems: list[Problem]):
    out = []
    for part in [p for p in text.split() if p]:
        too_long = limits.number_problem(part)
        if too_long:
            problems.append(Problem(source, where, fld, too_long))
            continue
        try:
            out.append(float(part))
        except ValueError:
            problems.append(Problem(source, where, fld, f"{part!r} is not a number"))
    return out


def _read_item(
    root: ET.Element,
    d: Dialect,
    meta: dict[str, str],
    source: str,
    href: str,
    problems: list[Problem],
) -> ItemContent | None:
    before = len(problems)
    parents = {child: parent for parent in root.iter() for child in parent}
    where = _path(root, parents, href)
    if root.tag != d.q("item"):
        problems.append(
            Problem(source, where, None, f"expected a QTI {d.version} {d.names['item']} element")
        )
        return None
    body = root.find(d.q("body"))
    if body is None:
        problems.append(Problem(source, where, None, f"no {d.names['body']}"))
        return None
    interactions = [e for e in body.iter() if _is_interaction(_local(e.tag))]
    for e in interactions:
        if e.tag != d.q("choice"):
            problems.append(
                Problem(
                    source,
                    _path(e, parents, href),
                    None,
                    f"unsupported interaction type {_local(e.tag)}: only "
                    f"{d.names['choice']} with one answer is supported",
                )
            )
    for e in body.iter():
        name = _local(e.tag)
        message = (
            f"unsupported content {name}: items hold text, tables, MathML and pictures"
            if name in _UNSUPPORTED_CONTENT
            else qc.object_problem(e)
            if name == "object"
            else None
        )
        if message:
            problems.append(Problem(source, _path(e, parents, href), None, message))
    choices = [e for e in interactions if e.tag == d.q("choice")]
    if len(problems) > before:
        return None
    if len(choices) != 1:
        problems.append(
            Problem(source, where, None, f"expected one {d.names['choice']}, found {len(choices)}")
        )
        return None
    choice = choices[0]
    cpath = _path(choice, parents, href)
    if choice.get(d.names["max_choices"], "1") != "1":
        problems.append(
            Problem(source, cpath, d.names["max_choices"], "only single-answer items are supported")
        )
    simple = choice.findall(d.q("simple"))
    if len(simple) > len(OPTION_KEYS):
        problems.append(
            Problem(
                source,
                cpath,
                None,
                f"{len(simple)} options; at most {len(OPTION_KEYS)} are supported",
            )
        )
        return None
    idents = [s.get("identifier", "") for s in simple]
    keys = list(OPTION_KEYS[: len(simple)])
    to_key = dict(zip(idents, keys, strict=True))
    prompt = choice.find(d.q("prompt"))
    rich = qc.is_rich(body)
    if rich:
        options = tuple(Option(k, qc.inner_html(s)) for k, s in zip(keys, simple, strict=True))
        stem = qc.unwrap(" ".join(qc.stem_html(body, choice).split()))
        if prompt is not None:
            stem += f"<p>{qc.inner_html(prompt)}</p>"
    else:
        options = tuple(Option(k, _text(s)) for k, s in zip(keys, simple, strict=True))
        stem_parts = _stem_paragraphs(body, choice)
        if prompt is not None:
            stem_parts.append(_text(prompt))
        stem = "\n".join(p for p in stem_parts if p)
    resp_id = choice.get(d.names["resp_id"], "RESPONSE")
    decl = next((e for e in root.findall(d.q("decl")) if e.get("identifier") == resp_id), None)
    correct, points = None, []
    if decl is None:
        problems.append(
            Problem(source, where, None, f"no {d.names['decl']} for response {resp_id!r}")
        )
        return None
    dpath = _path(decl, parents, href)
    corr = decl.find(d.q("correct"))
    if corr is not None:
        values = [v.text.strip() for v in corr.findall(d.q("value")) if v.text]
        if len(values) != 1 or values[0] not in to_key:
            problems.append(
                Problem(
                    source,
                    dpath,
                    d.names["correct"],
                    f"expected one option identifier, got {values}",
                )
            )
        else:
            correct = to_key[values[0]]
    mapping = decl.find(d.q("mapping"))
    if mapping is not None:
        for entry in mapping.findall(d.q("entry")):
            key, value = entry.get(d.names["map_key"]), entry.get(d.names["mapped"], "")
            if key not in to_key:
                problems.append(
                    Problem(
                        source, dpath, d.names["map_key"], f"{key!r} is not an option identifier"
                    )
                )
                continue
            try:
                pts = float(value)
            except ValueError:
                pts = -1.0
            if not math.isfinite(pts) or pts < 0 or pts != int(pts):
                problems.append(
                    Problem(source, dpath, d.names["mapped"], f"{value!r} is not whole points >= 0")
                )
                continue
            points.append((to_key[key], int(pts)))
    keyed_mapping = points and sorted(p for _, p in points) == [0] * (len(points) - 1) + [1]
    if keyed_mapping and correct is None:
        correct = next(k for k, p in points if p == 1)
    if keyed_mapping or (points and correct is not None and len(points) < len(options)):
        points = []
    if points:
        correct = None
    if correct is None and not points and len(problems) == before:
        problems.append(
            Problem(source, dpath, None, "no correct response and no per-option points")
        )
    if len(problems) > before:
        return None
    steps = _floats(meta.get("steps", ""), source, where, "steps", problems)

    def num(name: str) -> float | None:
        text = meta.get(name, "")
        if text == "":
            return None
        too_long = limits.number_problem(text)
        if too_long:
            problems.append(Problem(source, where, name, too_long))
            return None
        try:
            return float(text)
        except ValueError:
            problems.append(Problem(source, where, name, f"{text!r} is not a number"))
            return None

    return ItemContent(
        item_id=meta.get("id") or root.get("identifier", ""),
        domain=meta.get("domain", "UNSORTED"),
        topic=meta.get("topic", "unsorted"),
        stem=stem,
        options=options,
        correct=correct,
        points=tuple(points),
        model=meta.get("model") or None,
        a=num("a"),
        b=num("b"),
        c=num("c"),
        steps=tuple(steps),
        tags=tuple(t for t in meta.get("tags", "").split(";") if t),
        status=meta.get("status", "draft"),
        enemies=tuple(e for e in meta.get("enemies", "").split(";") if e),
        markup=rich,
    )


def read(data: bytes, source: str) -> tuple[list[Located], list[Problem]]:
    """Read a QTI 2.1 or 3.0 content package; raises BankInputError with every problem."""
    try:
        archive = limits.BoundedZip(data)
        names = set(archive.names)
        if "imsmanifest.xml" not in names:
            raise limits.LimitError("no imsmanifest.xml at the top of the package")
        raw_manifest = archive.read("imsmanifest.xml")
    except limits.LimitError as exc:
        raise BankInputError([Problem(source, exc.where, None, exc.message)]) from None
    manifest = _parse_xml(raw_manifest, source, "imsmanifest.xml")
    problems: list[Problem] = []
    out: list[Located] = []
    resources = [e for e in manifest.iter() if _local(e.tag) == "resource"]
    item_resources = [r for r in resources if r.get("type", "").startswith("imsqti_item_")]
    for res in item_resources:
        rtype = res.get("type", "")
        dialect = _BY_TYPE.get(rtype)
        ident = res.get("identifier", "?")
        if dialect is None:
            problems.append(
                Problem(
                    source,
                    f"imsmanifest.xml:resource[{ident}]",
                    "type",
                    f"unsupported resource type {rtype} (QTI 2.1 or 3.0 items)",
                )
            )
            continue
        href = res.get("href", "")
        if href not in names:
            problems.append(
                Problem(
                    source,
                    f"imsmanifest.xml:resource[{ident}]",
                    "href",
                    f"{href!r} is not in the package",
                )
            )
            continue
        try:
            root = _parse_xml(archive.read(href), source, href)
        except BankInputError as exc:
            problems += exc.problems
            continue
        except limits.LimitError as exc:
            if archive.inflated > limits.INFLATED_BYTES:
                # the archive as a whole is over the cap: stop reading it
                problems.append(Problem(source, exc.where, None, exc.message))
                raise BankInputError(problems) from None
            problems.append(Problem(source, exc.where, None, exc.message))
            continue
        item = _read_item(root, dialect, _metadata(res), source, href, problems)
        if item is not None:
            out.append((item, source, href))
    if not item_resources and not problems:
        problems.append(Problem(source, "imsmanifest.xml", None, "the package lists no items"))
    return out, problems


# -- writing ----------------------------------------------------------------------------


def _item_xml(item: ItemContent, d: Dialect, src: Callable[[str], str]) -> bytes:
    n = d.names
    ET.register_namespace("", d.item_ns)
    root = ET.Element(
        d.q("item"),
        {
            "identifier": item.item_id,
            "title": item.item_id,
            "adaptive": "false",
            n["time_dependent"]: "false",
        },
    )
    decl = ET.SubElement(
        root,
        d.q("decl"),
        {"identifier": "RESPONSE", "cardinality": "single", n["base_type"]: "identifier"},
    )
    if item.polytomous:
        mapping = ET.SubElement(decl, d.q("mapping"), {n["default_attr"]: "0"})
        for key, pts in item.points:
            ET.SubElement(mapping, d.q("entry"), {n["map_key"]: key, n["mapped"]: str(pts)})
    else:
        corr = ET.SubElement(decl, d.q("correct"))
        ET.SubElement(corr, d.q("value")).text = item.correct
    ET.SubElement(
        root,
        d.q("outcome"),
        {"identifier": "SCORE", "cardinality": "single", n["base_type"]: "float"},
    )
    body = ET.SubElement(root, d.q("body"))
    if item.markup:
        # one div, so that the stem's inline content sits in a block, as QTI requires
        qc.append_html(ET.SubElement(body, f"{{{d.item_ns}}}div"), item.stem, d.item_ns, src)
    else:
        for para in item.stem.split("\n"):
            ET.SubElement(body, f"{{{d.item_ns}}}p").text = para
    choice = ET.SubElement(
        body, d.q("choice"), {n["resp_id"]: "RESPONSE", "shuffle": "false", n["max_choices"]: "1"}
    )
    for opt in item.options:
        simple = ET.SubElement(choice, d.q("simple"), {"identifier": opt.key})
        if item.markup:
            qc.append_html(simple, opt.text, d.item_ns, src)
        else:
            simple.text = opt.text
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _meta_attrs(item: ItemContent) -> dict[str, str]:
    def fmt(x: float | None) -> str:
        return "" if x is None else repr(float(x))

    return {
        "id": item.item_id,
        "domain": item.domain,
        "topic": item.topic,
        "status": item.status,
        "model": item.model or "",
        "a": fmt(item.a),
        "b": fmt(item.b),
        "c": fmt(item.c),
        "steps": " ".join(repr(float(s)) for s in item.steps),
        "tags": ";".join(item.tags),
        "enemies": ";".join(sorted(item.enemies)),
    }


def asset_path(asset: Asset) -> str:
    """Where a package keeps a picture."""
    return f"assets/{asset.sha256}.{asset.extension}"


def write(
    items: list[ItemContent],
    path: Path,
    version: str = "3.0",
    assets: Mapping[str, Asset] | None = None,
) -> None:
    """Write a content package with one item resource per item, and the pictures the
    items show (``assets``, by SHA-256) as files of the package."""
    assets = assets or {}

    def src(value: str) -> str:
        m = ASSET_REF.fullmatch(value)
        return "../" + asset_path(assets[m.group(1)]) if m else value

    d = DIALECTS[version]
    ET.register_namespace("", d.cp_ns)
    ET.register_namespace("sk", META_NS)
    manifest = ET.Element(f"{{{d.cp_ns}}}manifest", {"identifier": "seleksi-bank"})
    ET.SubElement(manifest, f"{{{d.cp_ns}}}organizations")
    resources = ET.SubElement(manifest, f"{{{d.cp_ns}}}resources")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in items:
            href = f"items/{item.item_id}.xml"
            res = ET.SubElement(
                resources,
                f"{{{d.cp_ns}}}resource",
                {"identifier": item.item_id, "type": d.resource_type, "href": href},
            )
            meta = ET.SubElement(res, f"{{{d.cp_ns}}}metadata")
            ET.SubElement(meta, f"{{{META_NS}}}item", _meta_attrs(item))
            ET.SubElement(res, f"{{{d.cp_ns}}}file", {"href": href})
            for digest in item.asset_refs():
                ET.SubElement(res, f"{{{d.cp_ns}}}file", {"href": asset_path(assets[digest])})
            archive.writestr(href, _item_xml(item, d, src))
        for digest in sorted({h for item in items for h in item.asset_refs()}):
            archive.writestr(asset_path(assets[digest]), assets[digest].data)
        ET.register_namespace("", d.cp_ns)
        archive.writestr(
            "imsmanifest.xml", ET.tostring(manifest, encoding="utf-8", xml_declaration=True)
        )
