"""Enrollment files: the applicants of an exam, from a CSV the committee uploads.

Columns: ``registration_number,name,formation`` (required), ``track``,
``extra_time_minutes``, ``site`` and ``room`` (optional: the test site and the room the
applicant sits in, for the proctors' room view and site outages), and any further column
is a group attribute used by
the fairness analyses (gender, region, age band …). Every problem is reported with its line
and column, and nothing is enrolled if there is one. The caps of ``scoring.limits`` apply:
file size, rows, and each field's length (no NUL characters).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field

from itembank.content import Problem
from scoring import limits

REQUIRED = ("registration_number", "name", "formation")
OPTIONAL = ("track", "extra_time_minutes", "site", "room")
_REG = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: A site or room name: letters, digits, spaces and . _ - / (as printed on a door).
_PLACE = re.compile(r"^[\w .\-/]{1,64}$")
#: Letters and digits that are not easily confused when read off a printed sheet.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class EnrollmentRow:
    line: int
    registration_number: str
    name: str
    formation: str
    track: str = ""
    extra_time_s: int = 0
    attributes: dict = field(default_factory=dict)
    site: str = ""
    room: str = ""


def read_enrollment_csv(data: bytes, source: str) -> tuple[list[EnrollmentRow], list[Problem]]:
    """Parse an enrollment file; returns the rows and every problem found."""
    too_big = limits.size_problem(len(data))
    if too_big:
        return [], [Problem(source, None, None, too_big)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [Problem(source, None, None, "not UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        return [], [Problem(source, "1", None, f"not valid CSV ({exc})")]
    except StopIteration:
        return [], [
            Problem(
                source,
                "1",
                None,
                "empty file: expected the header registration_number,name,formation",
            )
        ]
    problems = [
        Problem(source, "1", col, "missing column in the header")
        for col in REQUIRED
        if col not in header
    ]
    problems += [
        Problem(source, "1", None, f"a column name {problem}")
        for problem in {limits.field_problem(h, limits.LABEL_CHARS) for h in header} - {None}
    ]
    if len(set(header)) != len(header):
        problems.append(Problem(source, "1", None, "a column appears twice in the header"))
    if problems:
        return [], problems
    attributes = [h for h in header if h not in REQUIRED + OPTIONAL]
    rows: list[EnrollmentRow] = []
    seen: dict[str, int] = {}
    count = 0
    for line, cells, error in limits.csv_records(reader, reader.line_num + 1):
        if error:
            problems.append(Problem(source, str(line), None, error))
            break
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > limits.ROWS:
            problems.append(
                Problem(source, str(line), None, f"more than {limits.ROWS:,} applicants")
            )
            break
        if len(cells) != len(header):
            problems.append(
                Problem(
                    source, str(line), None, f"{len(cells)} fields, the header has {len(header)}"
                )
            )
            continue
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        before = len(problems)
        for col, cell in row.items():
            problem = limits.field_problem(cell, limits.LABEL_CHARS)
            if problem:
                problems.append(Problem(source, str(line), col, problem))
        if len(problems) > before:
            continue
        reg = row["registration_number"]
        if not _REG.match(reg):
            problems.append(
                Problem(
                    source,
                    str(line),
                    "registration_number",
                    f"{reg!r} must be 1–64 letters, digits, '.', '_' or '-'",
                )
            )
        elif reg in seen:
            problems.append(
                Problem(source, str(line), "registration_number", f"duplicate of line {seen[reg]}")
            )
        else:
            seen[reg] = line
        if not row["name"]:
            problems.append(Problem(source, str(line), "name", "empty name"))
        extra = row.get("extra_time_minutes", "")
        minutes = limits.whole_number(extra, digits=3)
        if extra and (minutes is None or minutes > 600):
            problems.append(
                Problem(
                    source,
                    str(line),
                    "extra_time_minutes",
                    f"{extra!r} is not a whole number of minutes (0–600)",
                )
            )
        problems += _place_problems(source, line, row)
        if len(problems) == before:
            rows.append(
                EnrollmentRow(
                    line,
                    reg,
                    row["name"],
                    row["formation"],
                    row.get("track", ""),
                    int(extra or 0) * 60,
                    {a: row[a] for a in attributes if row[a]},
                    row.get("site", ""),
                    row.get("room", ""),
                )
            )
    if not rows and not problems:
        problems.append(Problem(source, None, None, "no applicants after the header"))
    return rows, problems


def _place_problems(source: str, line: int, row: dict) -> list[Problem]:
    """The site and room cells: plain names, and no room without its site."""
    problems = [
        Problem(
            source, str(line), col, f"{row[col]!r} must be 1–64 letters, digits, spaces or . _ - /"
        )
        for col in ("site", "room")
        if row.get(col) and not _PLACE.match(row[col])
    ]
    if row.get("room") and not row.get("site"):
        problems.append(Problem(source, str(line), "site", "a room is given without its site"))
    return problems


def new_password(length: int = 10) -> str:
    """A random password for a printed login sheet."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
