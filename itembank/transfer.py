"""Reading and writing a bank file, the format chosen by the extension: ``.csv``,
``.json``, or ``.zip``. A zip is an IMS QTI 2.1 or 3.0 content package when it has an
``imsmanifest.xml``; otherwise it holds one ``.csv`` or ``.json`` bank at its top level
(``bank.csv.zip``, ``bank.json.zip`` when written) with the pictures its items show,
referred to by their path in the zip.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from itembank import bank_csv, bank_json, qti
from itembank import markup as rich
from itembank.assets import Asset, AssetError, check
from itembank.content import (
    BankInputError,
    ItemContent,
    Option,
    Problem,
    check_bank,
    normalised,
)
from scoring import limits

READERS = {".csv": bank_csv.read, ".json": bank_json.read, ".zip": qti.read}
Located = tuple[ItemContent, str, str | None]


class ReadBank(list):
    """The items of a bank file (``(item, source, where)`` each, as a list) and the
    pictures they show, by SHA-256 (``assets``)."""

    def __init__(self, located: list[Located], assets: dict[str, Asset]) -> None:
        super().__init__(located)
        self.assets = assets


class _Package:
    """The pictures of a zip, read on first use and checked once."""

    def __init__(self, archive: limits.BoundedZip | None) -> None:
        self.archive = archive
        self.names = set(archive.names) if archive else set()
        self.assets: dict[str, Asset] = {}
        self._by_path: dict[str, Asset | str] = {}

    def load(self, path: str) -> Asset | str:
        """The asset at ``path`` in the zip, or the message saying why not."""
        if path not in self._by_path:
            self._by_path[path] = self._load(path)
        return self._by_path[path]

    def _load(self, path: str) -> Asset | str:
        if path not in self.names or self.archive is None:
            return f"picture {path} is not in the package"
        try:
            asset = check(self.archive.read(path))
        except limits.LimitError as exc:
            return f"picture {path}: {exc.message}"
        except AssetError as exc:
            return f"picture {path}: {exc}"
        self.assets[asset.sha256] = asset
        return asset


def _resolve(
    item: ItemContent, base: str, package: _Package, source: str, where: str | None
) -> tuple[ItemContent, list[Problem]]:
    """The item with each picture path replaced by ``asset:<sha256>`` of the checked
    picture; a problem for each picture that is missing, external or refused."""
    problems: list[Problem] = []

    def fix(fld: str, text: str) -> str:
        def src(value: str) -> str | None:
            if rich.ASSET_REF.fullmatch(value):
                return value
            path = posixpath.normpath(posixpath.join(base, unquote(value)))
            if ":" in value.split("/", 1)[0] or value.startswith("/") or path.startswith(".."):
                problems.append(
                    Problem(source, where, fld, f"picture {value}: not a file of the package")
                )
                return value
            loaded = package.load(path)
            if isinstance(loaded, str):
                problems.append(Problem(source, where, fld, loaded))
                return value
            return rich.ASSET_SCHEME + loaded.sha256

        return rich.clean(text, src)

    stem = fix("stem", item.stem)
    options = tuple(Option(o.key, fix(f"option {o.key}", o.text)) for o in item.options)
    return replace(item, stem=stem, options=options), problems


def _open_zip(data: bytes, filename: str) -> tuple[limits.BoundedZip, str | None]:
    """The archive and, unless it is a QTI package, the one bank file at its top."""
    try:
        archive = limits.BoundedZip(data)
    except limits.LimitError as exc:
        raise BankInputError([Problem(filename, exc.where, None, exc.message)]) from None
    if "imsmanifest.xml" in archive.names:
        return archive, None
    banks = [
        n for n in archive.names if "/" not in n and Path(n).suffix.lower() in (".csv", ".json")
    ]
    if len(banks) != 1:
        raise BankInputError(
            [
                Problem(
                    filename,
                    None,
                    None,
                    "no imsmanifest.xml (a QTI package) and not one .csv or .json bank at "
                    f"the top level of the zip (found {len(banks)})",
                )
            ]
        )
    return archive, banks[0]


def read_bank(data: bytes, filename: str, known_ids: set[str] = frozenset()) -> ReadBank:
    """Parse and validate a whole bank file and its pictures; raises BankInputError
    listing every problem (parsing, each item, each picture, duplicates, unknown
    enemies), so nothing half-valid gets through."""
    suffix = Path(filename).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise BankInputError(
            [Problem(filename, None, None, "unknown format: use a .csv, .json or .zip (QTI) file")]
        )
    too_big = limits.size_problem(len(data))
    if too_big:
        raise BankInputError([Problem(filename, None, None, too_big)])
    archive, inner = _open_zip(data, filename) if suffix == ".zip" else (None, None)
    if inner is not None:
        try:
            inner_data = archive.read(inner)
        except limits.LimitError as exc:
            raise BankInputError([Problem(filename, exc.where, None, exc.message)]) from None
        reader = READERS[Path(inner).suffix.lower()]
        located, problems = reader(inner_data, f"{filename}:{inner}")
    else:
        located, problems = reader(data, filename)
    if len(located) > limits.ROWS:
        raise BankInputError(
            [Problem(filename, None, None, f"{len(located):,} items; at most {limits.ROWS:,}")]
        )
    package = _Package(archive)
    resolved = []
    for read, src, where in located:
        item = read
        if item.markup:
            # a QTI item's pictures are relative to its own file, a CSV's or JSON's to it
            base = posixpath.dirname(where or "") if inner is None else posixpath.dirname(inner)
            item, found = _resolve(read, base, package, src, where)
            problems += found
        resolved.append((normalised(item), src, where))
    problems += check_bank(resolved, known_ids)
    if problems:
        raise BankInputError(problems)
    return ReadBank(resolved, package.assets)


def read_bank_file(path: str | Path, known_ids: set[str] = frozenset()) -> ReadBank:
    path = Path(path)
    try:
        data = limits.read_file(path)
    except OSError as exc:
        raise BankInputError([Problem(str(path), None, None, exc.strerror or str(exc))]) from None
    except limits.LimitError as exc:
        raise BankInputError([Problem(str(path), None, None, exc.message)]) from None
    return read_bank(data, str(path), known_ids)


def _with_paths(items: list[ItemContent], assets: Mapping[str, Asset]) -> list[ItemContent]:
    """The items with each ``asset:<sha256>`` source replaced by the picture's path."""

    def src(value: str) -> str:
        m = rich.ASSET_REF.fullmatch(value)
        return qti.asset_path(assets[m.group(1)]) if m else value

    return [
        replace(
            i,
            stem=rich.clean(i.stem, src),
            options=tuple(Option(o.key, rich.clean(o.text, src)) for o in i.options),
        )
        if i.markup
        else i
        for i in items
    ]


def write_bank(
    items: list[ItemContent],
    path: str | Path,
    qti_version: str = "3.0",
    assets: Mapping[str, Asset] | None = None,
) -> None:
    """Write items to ``path``: ``.csv``, ``.json``, ``.csv.zip`` or ``.json.zip`` (the
    bank and the pictures its items show) or ``.zip`` (QTI). A plain ``.csv`` or ``.json``
    refers to pictures by SHA-256 only, for a bank that has them already."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    assets = assets or {}
    missing = {h for i in items for h in i.asset_refs()} - set(assets)
    if missing and suffixes[-1:] == [".zip"]:
        raise ValueError(f"{path}: pictures not given: {', '.join(sorted(missing))}")
    if suffixes[-1:] == [".csv"]:
        bank_csv.write(items, path)
    elif suffixes[-1:] == [".json"]:
        bank_json.write(items, path)
    elif suffixes in ([".csv", ".zip"], [".json", ".zip"]):
        text = (bank_csv if suffixes[0] == ".csv" else bank_json).dumps(_with_paths(items, assets))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"bank{suffixes[0]}", text)
            for digest in sorted({h for i in items for h in i.asset_refs()}):
                archive.writestr(qti.asset_path(assets[digest]), assets[digest].data)
    elif suffixes[-1:] == [".zip"]:
        qti.write(items, path, qti_version, assets)
    else:
        raise ValueError(f"{path}: unknown format: use .csv, .json or .zip")
