"""Reading and writing the contract's CSV files: parameters and responses.

Every problem is reported as an ``InputError`` naming the file, the line and the field,
so a committee member can fix the file without a developer. Nothing is returned from a
file with any problem in it.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring import limits
from scoring.ability import AbilityScale
from scoring.params import (
    DICHOTOMOUS_MODELS,
    MODELS,
    ItemParams,
    ItemSpec,
    ParamsError,
)

_DIGITS = re.compile(r"[0-9]+")
#: Optional columns of the parameters CSV: the calibration's ability distribution.
ABILITY_COLUMNS = ("ability_mean", "ability_sd")


@dataclass
class InputError(ValueError):
    """A problem in an input file, at a line (1-based, the header is line 1) and field."""

    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, stripped cells) of each non-empty row, within the caps of ``limits``: file
    size, rows, field length, no NUL characters."""
    name = str(path)
    start = 1
    header: list[str] = []
    try:
        size = path.stat().st_size
        too_big = limits.size_problem(size)
        if too_big:
            raise InputError(name, None, None, too_big)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            count = 0
            for row in reader:
                if len(row) > limits.COLUMNS:
                    raise InputError(
                        name, start, None, f"{len(row):,} fields; at most {limits.COLUMNS:,}"
                    )
                if any(cell.strip() for cell in row):
                    count += 1
                    if count > limits.ROWS + 1:
                        raise InputError(name, start, None, f"more than {limits.ROWS:,} rows")
                    cells = [cell.strip() for cell in row]
                    for i, cell in enumerate(cells):
                        problem = limits.field_problem(cell)
                        if problem:
                            col = header[i] if i < len(header) else f"column {i + 1}"
                            raise InputError(name, start, col, problem)
                    header = header or cells
                    yield start, cells
                start = reader.line_num + 1
    except FileNotFoundError as exc:
        raise InputError(name, None, None, "file not found") from exc
    except OSError as exc:
        raise InputError(name, None, None, exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(name, None, None, "not UTF-8 text") from exc
    except csv.Error as exc:
        raise InputError(name, start, None, f"not valid CSV ({exc})") from exc


def _number(text: str, path: str, line: int, field: str, default: float | None = None) -> float:
    if text == "" and default is not None:
        return default
    too_long = limits.number_problem(text)
    if too_long:
        raise InputError(path, line, field, too_long)
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, line, field, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(path, line, field, f"{text!r} is not a finite number")
    return value


def _step_column(header: str) -> bool:
    """``b1`` … ``b999``: a step or threshold column of the parameters CSV."""
    return header.startswith("b") and limits.whole_number(header[1:], digits=3) is not None


def read_params_csv(path: str | Path) -> ItemParams:
    """Parameters CSV: ``item_id,model,a,b,c`` and/or ``…,b1,…,bK`` (CONTRACTS.md)."""
    return read_params_file(path)[0]


def _ability_scale(
    name: str, header_line: int, col: dict[str, int], rows: list[tuple[int, list[str]]]
) -> AbilityScale | None:
    """The ``ability_mean``/``ability_sd`` columns: both or neither; a row gives both or
    leaves both empty, and every row that gives them gives the same values."""
    present = [c for c in ABILITY_COLUMNS if c in col]
    if not present:
        return None
    if len(present) == 1:
        other = next(c for c in ABILITY_COLUMNS if c not in col)
        raise InputError(name, header_line, other, f"missing column (goes with {present[0]})")
    scale: tuple[float, float] | None = None
    first = 0
    for line, row in rows:
        mean_text, sd_text = row[col["ability_mean"]], row[col["ability_sd"]]
        if not mean_text and not sd_text:
            continue
        if not mean_text or not sd_text:
            empty = "ability_mean" if not mean_text else "ability_sd"
            raise InputError(name, line, empty, "empty, but the other ability column is not")
        value = (
            _number(mean_text, name, line, "ability_mean"),
            _number(sd_text, name, line, "ability_sd"),
        )
        if not value[1] > 0:
            raise InputError(name, line, "ability_sd", f"{sd_text!r} is not > 0")
        if scale is None:
            scale, first = value, line
        elif value != scale:
            field = "ability_mean" if value[0] != scale[0] else "ability_sd"
            raise InputError(name, line, field, f"differs from line {first}")
    return AbilityScale(*scale) if scale else None


def read_params_file(path: str | Path) -> tuple[ItemParams, AbilityScale | None]:
    """A parameters CSV and, when it has the optional ``ability_mean,ability_sd`` columns
    (``seleksi calibrate --model rasch`` writes them), the ability scale N(mean, sd²) its
    parameters are on — the prior to score with. Files without them read as before."""
    path = Path(path)
    name = str(path)
    rows = list(_rows(path))
    if not rows:
        raise InputError(name, 1, None, "empty file: expected the header item_id,model,a,…")
    line, header = rows[0]
    for required in ("item_id", "model", "a"):
        if required not in header:
            raise InputError(name, line, required, "missing column in the header")
    known = ("item_id", "model", "a", "b", "c", *ABILITY_COLUMNS)
    unknown = [h for h in header if h not in known and not _step_column(h)]
    if unknown:
        raise InputError(name, line, unknown[0], "unknown column in the header")
    if len(set(header)) != len(header):
        raise InputError(name, line, None, "a column appears twice in the header")
    col = {h: i for i, h in enumerate(header)}
    step_cols = sorted((h for h in header if _step_column(h)), key=lambda h: int(h[1:]))
    specs: list[ItemSpec] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(name, line, None, f"{len(row)} fields, the header has {len(header)}")
        item_id = row[col["item_id"]]
        if not item_id:
            raise InputError(name, line, "item_id", "empty item id")
        if item_id in seen:
            raise InputError(name, line, "item_id", f"duplicate of line {seen[item_id]}")
        seen[item_id] = line
        model = row[col["model"]].lower()
        if model not in MODELS:
            raise InputError(name, line, "model", f"{model!r} is not one of {', '.join(MODELS)}")
        a = _number(row[col["a"]], name, line, "a", 1.0 if model == "rasch" else None)
        if model in DICHOTOMOUS_MODELS:
            if "b" not in col:
                raise InputError(name, line, "b", f"a {model} item needs a b column")
            b = _number(row[col["b"]], name, line, "b")
            c = _number(row[col["c"]], name, line, "c", 0.0) if "c" in col else 0.0
            spec = ItemSpec(item_id, model, a, b, c)
        else:
            cells = [row[col[h]] for h in step_cols]
            used = len(cells) - next((i for i, c in enumerate(reversed(cells)) if c), len(cells))
            gap = next((h for h, c in zip(step_cols[:used], cells, strict=False) if c == ""), None)
            if gap:
                raise InputError(name, line, gap, "empty step parameter before a later one")
            steps = [
                _number(c, name, line, h) for h, c in zip(step_cols, cells[:used], strict=False)
            ]
            if not steps:
                raise InputError(name, line, "b1", f"a {model} item needs step parameters b1…bK")
            spec = ItemSpec(item_id, model, a, steps=tuple(steps))
        try:
            spec.validate()
        except ParamsError as exc:
            raise InputError(name, line, None, str(exc)) from None
        specs.append(spec)
    if not specs:
        raise InputError(name, line, None, "no items after the header")
    scale = _ability_scale(name, rows[0][0], col, rows[1:])
    return ItemParams.from_specs(specs), scale


def write_params_csv(
    params: ItemParams, path: str | Path, ability: AbilityScale | None = None
) -> None:
    """Write a table in the contract's format (dichotomous, polytomous or both); with
    ``ability``, the columns ``ability_mean,ability_sd`` carry it on every row."""
    dich = [params.models[i] in DICHOTOMOUS_MODELS for i in range(len(params))]
    width = max((len(params.spec(i).steps) for i in range(len(params))), default=0)
    header = ["item_id", "model", "a"]
    if any(dich):
        header += ["b", "c"]
    header += [f"b{k + 1}" for k in range(width)]
    if ability is not None:
        header += list(ABILITY_COLUMNS)
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for i in range(len(params)):
            spec = params.spec(i)
            row = [spec.item_id, spec.model, _fmt(spec.a)]
            if any(dich):
                row += [_fmt(spec.b), _fmt(spec.c)] if dich[i] else ["", ""]
            row += [_fmt(s) for s in spec.steps] + [""] * (width - len(spec.steps))
            if ability is not None:
                row += [_fmt(ability.mean), _fmt(ability.sd)]
            out.writerow(row)


def _fmt(x: float) -> str:
    return repr(float(x))


def _read_matrix(
    path: Path, check_cell: Callable[[int, str], str | None]
) -> tuple[list[str], list[str], np.ndarray, int]:
    """Person ids, item ids and categories of a responses CSV (−1 = not presented), and the
    header's line. ``check_cell(column, text)`` names what is wrong with a cell, or None."""
    name = str(path)
    rows = list(_rows(path))
    if not rows:
        raise InputError(name, 1, None, "empty file: expected the header person_id,<item_id>,…")
    header_line, header = rows[0]
    if header[0] != "person_id":
        raise InputError(name, header_line, header[0], "the header must start with person_id")
    items = header[1:]
    if not items:
        raise InputError(name, header_line, None, "no item columns in the header")
    dup = next((i for i in items if items.count(i) > 1), None)
    if dup is not None:
        raise InputError(name, header_line, dup, "item column appears twice")
    persons: list[str] = []
    seen: dict[str, int] = {}
    # Every row's width is checked before the matrix is allocated, so its size follows
    # from the file's, whatever the header claims.
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(name, line, None, f"{len(row)} fields, the header has {len(header)}")
    matrix = np.full((len(rows) - 1, len(items)), -1, dtype=np.int64)
    line = header_line
    for r, (line, row) in enumerate(rows[1:]):
        person = row[0]
        if not person:
            raise InputError(name, line, "person_id", "empty person id")
        if person in seen:
            raise InputError(name, line, "person_id", f"duplicate of line {seen[person]}")
        seen[person] = line
        persons.append(person)
        for j, cell in enumerate(row[1:]):
            if cell == "":
                continue
            problem = check_cell(j, cell)
            if problem:
                raise InputError(name, line, items[j], problem)
            matrix[r, j] = int(cell)
    if not persons:
        raise InputError(name, line, None, "no persons after the header")
    return persons, items, matrix, header_line


def read_responses_csv(
    path: str | Path, params: ItemParams
) -> tuple[list[str], np.ndarray, ItemParams]:
    """Responses CSV: ``person_id,<item_id>,…``; cells 0/1 or 0..K, empty = not presented.

    Returns the person ids, the response matrix (−1 = not presented) and the parameter
    table restricted to the file's item columns, in the file's order.
    """
    path = Path(path)
    index = params.index()
    tops: dict[int, int] = {}

    def check(j: int, cell: str) -> str | None:
        top = tops[j]
        if not _DIGITS.fullmatch(cell) or len(cell) > 3 or int(cell) > top:
            return f"{cell!r} is not " + ("0 or 1" if top == 1 else f"0..{top}")
        return None

    # Unknown items are reported before any cell: read the header first.
    header = next(_rows(path), (1, []))
    for j, item in enumerate(header[1][1:]):
        if item not in index and header[1][0] == "person_id":
            raise InputError(
                str(path), header[0], item, "unknown item (not in the parameters file)"
            )
        if item in index:
            tops[j] = int(params.n_categories[index[item]]) - 1
    persons, items, matrix, _ = _read_matrix(path, check)
    return persons, matrix, params.subset(np.array([index[i] for i in items], dtype=np.int64))


def read_response_matrix(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """A responses CSV read without parameters (for calibration): person ids, item ids
    and the matrix of categories 0..9 (−1 = not presented)."""

    def check(_j: int, cell: str) -> str | None:
        return (
            None
            if _DIGITS.fullmatch(cell) and len(cell) == 1
            else (f"{cell!r} is not a category 0..9")
        )

    persons, items, matrix, _ = _read_matrix(Path(path), check)
    return persons, items, matrix


def read_groups_csv(
    path: str | Path, persons: list[str], attribute: str | None = None
) -> tuple[str, list[str | None]]:
    """Group membership for DIF: ``person_id,<attribute>[,<attribute>…]``. Returns the
    attribute used and each person's value (None when the person has none)."""
    path = Path(path)
    name = str(path)
    rows = list(_rows(path))
    if not rows:
        raise InputError(name, 1, None, "empty file: expected the header person_id,<attribute>")
    line, header = rows[0]
    if header[0] != "person_id" or len(header) < 2:
        raise InputError(name, line, header[0], "the header must be person_id,<attribute>,…")
    if attribute is None:
        if len(header) > 2:
            raise InputError(
                name, line, None, f"several attributes ({', '.join(header[1:])}): choose one"
            )
        attribute = header[1]
    if attribute not in header[1:]:
        raise InputError(name, line, attribute, "no such attribute column")
    col = header.index(attribute)
    values: dict[str, str] = {}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(name, line, None, f"{len(row)} fields, the header has {len(header)}")
        if row[0] in values:
            raise InputError(name, line, "person_id", f"{row[0]} appears twice")
        values[row[0]] = row[col]
    return attribute, [values.get(p) or None for p in persons]
