"""Caps on every file Seleksi reads, and the checks that enforce them.

Each parser (item bank CSV/JSON/QTI, enrollment, responses and parameters CSVs, log
exports, receipts) refuses input beyond these caps with a message that names the cap, so a
hostile or broken file costs bounded memory and time and never a traceback. The module is
in ``scoring`` because that is the one package every other package may import; it has no
dependency beyond the standard library. docs/operations.md lists the caps.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MiB = 2**20

#: Any one input file (a bank, an enrollment or responses CSV, a rules file).
FILE_BYTES = 32 * MiB
#: Files of an archive (a QTI content package).
ARCHIVE_MEMBERS = 20_000
#: One archive member once inflated, and all members read from one archive together.
MEMBER_BYTES = 16 * MiB
INFLATED_BYTES = 128 * MiB
#: Nesting of JSON arrays/objects and of XML elements.
DEPTH = 64
#: Characters of one number (sign, digits, point and exponent included).
NUMBER_CHARS = 40
#: Characters of one CSV field (Python's csv module refuses longer ones too).
FIELD_CHARS = 131_072
#: Characters of an item's stem, of one option, and of a short label (id, domain, topic,
#: tag, status, model, name, formation …).
STEM_CHARS = 20_000
OPTION_CHARS = 5_000
LABEL_CHARS = 200
#: One picture of an item (PNG, JPEG or SVG) and its size in pixels (width × height).
ASSET_BYTES = 2 * MiB
IMAGE_PIXELS = 16_000_000
#: Data rows of one CSV file, and fields of one row.
ROWS = 500_000
COLUMNS = 10_000
#: The log export and receipts: one entry (one line of entries.jsonl), a checkpoint or
#: signed note, a verifier key, a receipt file, and the hashes of one proof (a tree of
#: at most 2^64 leaves has proofs of at most 64 hashes).
LOG_ENTRY_CHARS = 4 * MiB
NOTE_BYTES = 64 * 1024
KEY_BYTES = 1024
RECEIPT_BYTES = LOG_ENTRY_CHARS * 2
PROOF_HASHES = 64
#: Digits of a log index or tree size (a 64-bit unsigned integer has 20).
INDEX_DIGITS = 20


class LimitError(ValueError):
    """An input over a cap, or not readable at all; ``where`` locates it when known
    (a line, an archive member, a JSON path)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


def text_problem(text: str) -> str | None:
    """What makes ``text`` unfit to store: a NUL character or invalid Unicode (a lone
    surrogate, which no UTF-8 file can hold but a JSON escape can)."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains invalid Unicode (a lone surrogate)"
    return None


def field_problem(text: str, cap: int = FIELD_CHARS) -> str | None:
    """``text_problem`` plus a length cap."""
    if len(text) > cap:
        return f"{len(text):,} characters; at most {cap:,} are allowed"
    return text_problem(text)


def number_problem(text: str) -> str | None:
    """A number written with more characters than NUMBER_CHARS (Python refuses to convert
    integers of more than 4,300 digits, and no parameter needs more than a few)."""
    if len(text) > NUMBER_CHARS:
        return f"a number of {len(text):,} characters; at most {NUMBER_CHARS} are allowed"
    return None


def whole_number(text: str, digits: int = INDEX_DIGITS) -> int | None:
    """``text`` as a whole number when it is 1 to ``digits`` ASCII digits, else None."""
    if 0 < len(text) <= digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def size_problem(size: int, cap: int = FILE_BYTES) -> str | None:
    if size > cap:
        return f"{size:,} bytes; at most {cap:,} are allowed"
    return None


def read_file(path: str | Path, cap: int = FILE_BYTES) -> bytes:
    """A file's bytes; LimitError when it is bigger than ``cap`` (never reads more than
    ``cap + 1`` bytes), OSError when it cannot be read."""
    with Path(path).open("rb") as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise LimitError(f"larger than {cap:,} bytes, the cap for this file")
    return data


# -- JSON --------------------------------------------------------------------------------------

# A JSON string (escapes included) or a bracket: the depth scan skips over strings.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _line_of(text: str, pos: int) -> str:
    return f"line {text.count(chr(10), 0, pos) + 1}"


def json_depth_error(text: str, cap: int = DEPTH) -> LimitError | None:
    """The refusal of a JSON text nested deeper than ``cap``, found without parsing
    (the standard parser recurses, and a deep enough document exhausts the stack)."""
    if text.count("[") + text.count("{") <= cap:
        return None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > cap:
                return LimitError(f"nested deeper than {cap} levels", _line_of(text, match.start()))
        elif char in "]}":
            depth -= 1
    return None


def _json_strings(doc: Any) -> Iterator[tuple[str, str]]:
    """(JSON path, string) of every key and string value, walked without recursion."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path or "(document)", value
        elif isinstance(value, dict):
            for key, inner in value.items():
                where = f"{path}.{key}" if path else str(key)
                yield where, key
                stack.append((where, inner))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in enumerate(value))


def loads_json(text: str) -> Any:
    """``json.loads`` within the caps: nesting, number length, and NUL or invalid Unicode
    in any string. Raises LimitError over a cap, json.JSONDecodeError when malformed."""
    refused = json_depth_error(text)
    if refused is not None:
        raise refused

    def number(kind: type):
        def parse(literal: str):
            problem = number_problem(literal)
            if problem:
                raise LimitError(problem, _line_of(text, text.find(literal)))
            return kind(literal)

        return parse

    doc = json.loads(text, parse_int=number(int), parse_float=number(float))
    for path, string in _json_strings(doc):
        problem = text_problem(string)
        if problem:
            raise LimitError(problem, path)
    return doc


# -- archives ----------------------------------------------------------------------------------

#: What a damaged or unsupported zip raises while it is opened or read.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # an unsupported compression method
    RuntimeError,  # an encrypted member
)


class BoundedZip:
    """A zip archive read within the caps: at most ARCHIVE_MEMBERS members, each inflated
    to at most MEMBER_BYTES and all of them to at most INFLATED_BYTES. Members are inflated
    in chunks and the reading stops at a cap, whatever size the archive declares."""

    CHUNK = 64 * 1024

    def __init__(self, data: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except ZIP_ERRORS as exc:
            raise LimitError(f"not a zip file ({exc})") from None
        self.names = self._zip.namelist()
        if len(self.names) > ARCHIVE_MEMBERS:
            raise LimitError(
                f"{len(self.names):,} files in the archive; at most {ARCHIVE_MEMBERS:,} allowed"
            )
        self.inflated = 0

    def read(self, name: str) -> bytes:
        """One member's bytes; LimitError (``where`` = the member) over a cap or when
        the member is damaged."""
        try:
            info = self._zip.getinfo(name)
            if info.file_size > MEMBER_BYTES:
                raise LimitError(self._too_big(MEMBER_BYTES, "one file"), name)
            chunks: list[bytes] = []
            size = 0
            with self._zip.open(info) as member:
                while chunk := member.read(self.CHUNK):
                    size += len(chunk)
                    self.inflated += len(chunk)
                    if size > MEMBER_BYTES:
                        raise LimitError(self._too_big(MEMBER_BYTES, "one file"), name)
                    if self.inflated > INFLATED_BYTES:
                        raise LimitError(self._too_big(INFLATED_BYTES, "all files"), name)
                    chunks.append(chunk)
        except ZIP_ERRORS as exc:
            if isinstance(exc, LimitError):
                raise
            raise LimitError(f"cannot read from the package ({exc})", name) from None
        return b"".join(chunks)

    @staticmethod
    def _too_big(cap: int, what: str) -> str:
        return f"inflates to more than {cap:,} bytes, the cap for {what} of an archive"


def upload_name(filename: str | None, default: str) -> str:
    """An uploaded file's name as messages quote it: its last path part, or ``default``
    when it has none or is unfit (too long, NUL, invalid Unicode)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not name or name in (".", "..") or field_problem(name, LABEL_CHARS):
        return default
    return name


def csv_records(reader, start: int):
    """(line, cells, error) of each record of a ``csv.reader``, numbering lines from
    ``start``; a record the csv module cannot read yields its error and ends the file."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, f"not valid CSV ({exc})"
            return
        line, start = start, reader.line_num + 1
        yield line, cells, None
