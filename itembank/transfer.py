"""Reading and writing a bank file, the format chosen by the extension:
``.csv``, ``.json`` or ``.zip`` (an IMS QTI 2.1 or 3.0 content package)."""

from __future__ import annotations

from pathlib import Path

from itembank import bank_csv, bank_json, qti
from itembank.content import BankInputError, ItemContent, Problem, check_bank, normalised
from scoring import limits

READERS = {".csv": bank_csv.read, ".json": bank_json.read, ".zip": qti.read}
Located = tuple[ItemContent, str, str | None]


def read_bank(data: bytes, filename: str, known_ids: set[str] = frozenset()) -> list[Located]:
    """Parse and validate a whole bank file; raises BankInputError listing every problem
    (parsing, each item, duplicates, unknown enemies), so nothing half-valid gets through."""
    suffix = Path(filename).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise BankInputError(
            [Problem(filename, None, None, "unknown format: use a .csv, .json or .zip (QTI) file")]
        )
    too_big = limits.size_problem(len(data))
    if too_big:
        raise BankInputError([Problem(filename, None, None, too_big)])
    located, problems = reader(data, filename)
    if len(located) > limits.ROWS:
        raise BankInputError(
            [Problem(filename, None, None, f"{len(located):,} items; at most {limits.ROWS:,}")]
        )
    located = [(normalised(item), src, where) for item, src, where in located]
    problems += check_bank(located, known_ids)
    if problems:
        raise BankInputError(problems)
    return located


def read_bank_file(path: str | Path, known_ids: set[str] = frozenset()) -> list[Located]:
    path = Path(path)
    try:
        data = limits.read_file(path)
    except OSError as exc:
        raise BankInputError([Problem(str(path), None, None, exc.strerror or str(exc))]) from None
    except limits.LimitError as exc:
        raise BankInputError([Problem(str(path), None, None, exc.message)]) from None
    return read_bank(data, str(path), known_ids)


def write_bank(items: list[ItemContent], path: str | Path, qti_version: str = "3.0") -> None:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        bank_csv.write(items, path)
    elif suffix == ".json":
        bank_json.write(items, path)
    elif suffix == ".zip":
        qti.write(items, path, qti_version)
    else:
        raise ValueError(f"{path}: unknown format: use .csv, .json or .zip")
