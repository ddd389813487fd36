"""The CSV bank format: one item per row.

Columns (header required, order free): ``id, domain, topic, tags, status, stem,
option_a … option_e, correct, points_a … points_e, model, a, b, c, steps, enemies``.
``tags``, ``steps`` and ``enemies`` separate their values with ``;``. ``markup`` (``1`` or
empty) marks a stem and options written as markup (itembank.markup); inside a zip, such a
file's images refer to pictures by their path in the zip. A keyed item fills
``correct``; a TKP-style item fills ``points_*`` instead. Options may stop before E.
Problems name the file, the line (of the row's start) and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from itembank.content import OPTION_KEYS, BankInputError, ItemContent, Option, Problem
from scoring import limits

OPTION_COLS = tuple(f"option_{k.lower()}" for k in OPTION_KEYS)
POINT_COLS = tuple(f"points_{k.lower()}" for k in OPTION_KEYS)
COLUMNS = (
    "id",
    "domain",
    "topic",
    "tags",
    "status",
    "stem",
    *OPTION_COLS,
    "correct",
    *POINT_COLS,
    "model",
    "a",
    "b",
    "c",
    "steps",
    "enemies",
    "markup",
)
_FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}
REQUIRED = ("id", "domain", "topic", "stem", "option_a", "option_b")
Located = tuple[ItemContent, str, str | None]


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


def _float(cell: str, line: str, col: str, source: str, problems: list[Problem]) -> float | None:
    if cell == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        problems.append(Problem(source, line, col, f"{cell!r} is not a number"))
        return None
    if not math.isfinite(value):
        problems.append(Problem(source, line, col, f"{cell!r} is not a finite number"))
        return None
    return value


def _row_item(row: dict[str, str], line: str, source: str, problems: list[Problem]):
    before = len(problems)
    options = []
    for key, col in zip(OPTION_KEYS, OPTION_COLS, strict=True):
        text = row.get(col, "")
        if text:
            options.append(Option(key, text))
    points = []
    for key, col in zip(OPTION_KEYS, POINT_COLS, strict=True):
        cell = row.get(col, "")
        if cell:
            if not (cell.isascii() and cell.isdigit()):
                problems.append(Problem(source, line, col, f"{cell!r} is not a whole number"))
            else:
                points.append((key, int(cell)))
    steps = []
    for part in _split(row.get("steps", "")):
        value = _float(part, line, "steps", source, problems)
        if value is not None:
            steps.append(value)
    a = _float(row.get("a", ""), line, "a", source, problems)
    b = _float(row.get("b", ""), line, "b", source, problems)
    c = _float(row.get("c", ""), line, "c", source, problems)
    markup = _FLAGS.get(row.get("markup", "").lower())
    if markup is None:
        problems.append(Problem(source, line, "markup", "use 1 (markup) or leave it empty"))
    if len(problems) > before:
        return None
    return ItemContent(
        item_id=row.get("id", ""),
        domain=row.get("domain", ""),
        topic=row.get("topic", ""),
        stem=row.get("stem", ""),
        options=tuple(options),
        correct=row.get("correct") or None,
        points=tuple(points),
        model=(row.get("model") or "").lower() or None,
        a=a,
        b=b,
        c=c,
        steps=tuple(steps),
        tags=_split(row.get("tags", "")),
        status=row.get("status") or "draft",
        enemies=_split(row.get("enemies", "")),
        markup=bool(markup),
    )


def read(data: bytes, source: str) -> tuple[list[Located], list[Problem]]:
    """Parse a CSV bank; raises BankInputError listing every problem found."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BankInputError([Problem(source, None, None, "not UTF-8 text")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    out: list[Located] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise BankInputError(
            [Problem(source, "1", None, f"empty file: expected a header row ({','.join(COLUMNS)})")]
        ) from None
    except csv.Error as exc:
        raise BankInputError([Problem(source, "1", None, f"not valid CSV ({exc})")]) from None
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    for col in missing:
        problems.append(Problem(source, "1", col, "missing column in the header"))
    for col in unknown:
        problems.append(Problem(source, "1", col or "(empty)", "unknown column in the header"))
    if len(set(header)) != len(header):
        problems.append(Problem(source, "1", None, "a column appears twice in the header"))
    if problems:
        raise BankInputError(problems)
    for number, cells, error in limits.csv_records(reader, reader.line_num + 1):
        line = str(number)
        if error:
            problems.append(Problem(source, line, None, error))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                Problem(source, line, None, f"{len(cells)} fields, the header has {len(header)}")
            )
            continue
        row = {h: cell.strip() for h, cell in zip(header, cells, strict=True)}
        item = _row_item(row, line, source, problems)
        if item is not None:
            out.append((item, source, line))
    if not out and not problems:
        raise BankInputError([Problem(source, None, None, "no items after the header")])
    return out, problems


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def write(items: list[ItemContent], path: Path) -> None:
    path.write_text(dumps(items), encoding="utf-8", newline="")


def dumps(items: list[ItemContent]) -> str:
    with io.StringIO(newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        for item in items:
            opts = {o.key: o.text for o in item.options}
            pts = item.points_by_key()
            out.writerow(
                [
                    item.item_id,
                    item.domain,
                    item.topic,
                    ";".join(item.tags),
                    item.status,
                    item.stem,
                    *(opts.get(k, "") for k in OPTION_KEYS),
                    item.correct or "",
                    *(str(pts[k]) if k in pts else "" for k in OPTION_KEYS),
                    item.model or "",
                    _fmt(item.a),
                    _fmt(item.b),
                    _fmt(item.c),
                    ";".join(repr(float(s)) for s in item.steps),
                    ";".join(sorted(item.enemies)),
                    "1" if item.markup else "",
                ]
            )
        return fh.getvalue()
