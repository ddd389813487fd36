"""The JSON bank format (``seleksi-bank/1``): one object per item, as ``ItemContent``
writes it (``"markup": true`` for a stem and options written as markup; its ``assets``
list is derived from the markup and not read). Problems name the file and the JSON path
of the item (``items[3]``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from itembank.content import BankInputError, ItemContent, Option, Problem
from scoring import limits

FORMAT = "seleksi-bank/1"
Located = tuple[ItemContent, str, str | None]


def _number(value, where: str, fld: str, source: str, problems: list[Problem]) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(Problem(source, where, fld, f"{value!r} is not a finite number"))
        return None
    return float(value)


def item_from_dict(
    obj: dict, source: str, where: str, problems: list[Problem]
) -> ItemContent | None:
    """An ItemContent from one JSON item object; problems are appended, None on failure."""
    if not isinstance(obj, dict):
        problems.append(Problem(source, where, None, "an item must be a JSON object"))
        return None
    before = len(problems)
    options = []
    raw_options = obj.get("options") or []
    if not isinstance(raw_options, list):
        problems.append(Problem(source, where, "options", "options must be a list"))
        raw_options = []
    for fld in ("id", "domain", "topic", "stem", "status", "correct", "model"):
        if obj.get(fld) is not None and not isinstance(obj.get(fld), str):
            problems.append(Problem(source, where, fld, f"{fld} must be text"))
    for i, opt in enumerate(raw_options):
        if not isinstance(opt, dict) or not isinstance(opt.get("key"), str):
            problems.append(Problem(source, where, f"options[{i}]", "needs a key and a text"))
            continue
        options.append(Option(opt["key"], str(opt.get("text", ""))))
    points = obj.get("points") or {}
    if not isinstance(points, dict) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in points.values()
    ):
        problems.append(
            Problem(source, where, "points", "points must map option keys to whole numbers")
        )
        points = {}
    params = obj.get("params") or {}
    if not isinstance(params, dict):
        problems.append(Problem(source, where, "params", "params must be an object"))
        params = {}
    steps = params.get("steps") or []
    if not isinstance(steps, list):
        problems.append(Problem(source, where, "params.steps", "steps must be a list"))
        steps = []
    clean_steps = [_number(s, where, "params.steps", source, problems) for s in steps]
    if not isinstance(obj.get("markup", False), bool):
        problems.append(Problem(source, where, "markup", "markup must be true or false"))
    for fld in ("tags", "enemies"):
        if not isinstance(obj.get(fld, []), list):
            problems.append(Problem(source, where, fld, f"{fld} must be a list"))
    if len(problems) > before:
        return None
    return ItemContent(
        item_id=str(obj.get("id") or ""),
        domain=str(obj.get("domain") or ""),
        topic=str(obj.get("topic") or ""),
        stem=str(obj.get("stem") or ""),
        options=tuple(options),
        correct=obj.get("correct") or None,
        points=tuple((str(k), int(v)) for k, v in points.items()),
        model=(str(obj["model"]).lower() if obj.get("model") else None),
        a=_number(params.get("a"), where, "params.a", source, problems),
        b=_number(params.get("b"), where, "params.b", source, problems),
        c=_number(params.get("c"), where, "params.c", source, problems),
        steps=tuple(s for s in clean_steps if s is not None),
        tags=tuple(str(t) for t in obj.get("tags") or ()),
        status=str(obj.get("status") or "draft"),
        enemies=tuple(str(e) for e in obj.get("enemies") or ()),
        markup=obj.get("markup") is True,
    )


def read(data: bytes, source: str) -> tuple[list[Located], list[Problem]]:
    """Parse a JSON bank; raises BankInputError for anything unreadable."""
    try:
        doc = limits.loads_json(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BankInputError([Problem(source, None, None, "not UTF-8 text")]) from None
    except limits.LimitError as exc:
        raise BankInputError([Problem(source, exc.where, None, exc.message)]) from None
    except json.JSONDecodeError as exc:
        raise BankInputError(
            [
                Problem(
                    source, f"{exc.lineno}", None, f"not valid JSON: {exc.msg} (column {exc.colno})"
                )
            ]
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise BankInputError(
            [
                Problem(
                    source,
                    None,
                    "items",
                    'expected an object {"format": "seleksi-bank/1", "items": [...]}',
                )
            ]
        )
    problems: list[Problem] = []
    out: list[Located] = []
    for i, obj in enumerate(doc["items"]):
        where = f"items[{i}]"
        item = item_from_dict(obj, source, where, problems)
        if item is not None:
            out.append((item, source, where))
    return out, problems


def write(items: list[ItemContent], path: Path) -> None:
    path.write_text(dumps(items), encoding="utf-8")


def dumps(items: list[ItemContent]) -> str:
    doc = {"format": FORMAT, "items": [i.canonical() for i in items]}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
