"""An open exam, compiled once: its definition, the bank snapshot it runs on, the section
plans and its secrets. Built from the exam's database row; an application keeps the
compiled exams in one ``RuntimeRegistry``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exam.cat.blueprint import ExamConfig
from exam.cat.plan import SectionPlan, compile_section
from itembank.bank_json import item_from_dict
from itembank.content import ItemContent
from itembank.repository import bank_table
from itembank.table import BankTable


@dataclass(frozen=True, eq=False)
class ExamRuntime:
    exam_id: int
    code: str
    config: ExamConfig
    bank: BankTable
    items: dict[str, ItemContent]
    versions: dict[str, int]
    plans: tuple[SectionPlan, ...]
    seed: bytes
    pseudonym_key: bytes
    _sha256: dict[str, str] = field(default_factory=dict, repr=False)

    def content(self, item_id: str) -> ItemContent:
        return self.items[item_id]

    def content_sha256(self, item_id: str) -> str:
        """The item's content hash (``ItemContent.content_hash``), computed once per process:
        every ``item_served`` event carries it."""
        digest = self._sha256.get(item_id)
        if digest is None:
            digest = self._sha256[item_id] = self.items[item_id].content_hash()
        return digest


def pseudonym(key: bytes, registration_number: str) -> str:
    """An applicant's name in the public log: HMAC-SHA256(exam key, registration number),
    shortened to 20 hex digits (80 bits)."""
    digest = hmac.digest(key, registration_number.encode(), "sha256").hex()
    return f"P{digest[:20]}"


def snapshot_items(snapshot: dict) -> tuple[dict[str, ItemContent], dict[str, int]]:
    items, versions = {}, {}
    for obj in snapshot["items"]:
        problems: list = []
        item = item_from_dict(obj, "snapshot", obj.get("id", "?"), problems)
        if problems or item is None:
            raise ValueError(f"bank snapshot item {obj.get('id')}: {problems}")
        items[item.item_id] = item
        versions[item.item_id] = int(obj["version"])
    return items, versions


def snapshot_hash(items: list[dict]) -> str:
    """SHA-256 of the canonical JSON of a bank snapshot's items."""
    blob = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def runtime(exam) -> ExamRuntime:
    """The compiled exam for an opened ``exams`` row: its definition (with the points for
    a correct answer), its bank snapshot, the section plans and its secrets. Compiles
    every time: a long-lived caller keeps the result in a ``RuntimeRegistry``."""
    if exam.snapshot_sha256 is None:
        raise ValueError(f"exam {exam.code} is not open (no bank snapshot)")
    config = ExamConfig.from_dict(exam.definition)
    items, versions = snapshot_items(exam.bank_snapshot)
    operational = [i for i in items.values() if i.status == "operational" and i.has_params]
    bank = bank_table(operational, config.points_correct)
    plans = tuple(compile_section(section, bank) for section in config.sections)
    return ExamRuntime(
        exam.id,
        exam.code,
        config,
        bank,
        items,
        versions,
        plans,
        bytes.fromhex(exam.seed_hex),
        bytes.fromhex(exam.pseudonym_key_hex),
    )


class RuntimeRegistry:
    """The compiled exams of one application (``app.state.runtimes``).

    An open exam's definition and bank snapshot never change, so a compiled exam is kept
    under the exam's id, its (random, unique) seed and the snapshot's hash; the points
    for a correct answer are inside the definition. Finding a compiled exam reads only
    those three columns: a caller may defer the definition and the snapshot, the exam's
    largest columns, which are read and decoded only to compile."""

    def __init__(self) -> None:
        self._built: dict[tuple[int, str, str], ExamRuntime] = {}

    def get(self, exam, load: Callable[[], Any] | None = None) -> ExamRuntime:
        """The compiled exam for an opened ``exams`` row, compiled on first use. ``exam``
        may be anything with the row's ``id``, ``code``, ``seed_hex`` and
        ``snapshot_sha256``; then ``load`` gives the whole row, read only to compile."""
        if exam.snapshot_sha256 is None:
            raise ValueError(f"exam {exam.code} is not open (no bank snapshot)")
        key = (exam.id, exam.seed_hex, exam.snapshot_sha256)
        built = self._built.get(key)
        if built is None:
            # Two threads may compile the same exam at once; both results are equal and
            # the last stored wins, so no lock is held while compiling.
            built = self._built[key] = runtime(load() if load is not None else exam)
        return built

    def __len__(self) -> int:
        return len(self._built)


def compiled(exam, runtimes: RuntimeRegistry | None = None) -> ExamRuntime:
    """The compiled exam from ``runtimes`` if given, else compiled afresh."""
    return runtimes.get(exam) if runtimes is not None else runtime(exam)
