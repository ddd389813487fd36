"""One item as the committee writes it: content, scoring key, IRT parameters, metadata.

``ItemContent`` is the common form of every import and export format (CSV, JSON, QTI) and
of the database's item versions. Its content hash covers everything that affects what an
applicant sees or how an answer is scored, so re-importing the same content is a no-op and
any edit is a new version.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace

from itembank import markup as rich
from scoring import limits
from scoring.params import DICHOTOMOUS_MODELS, MODELS, ItemSpec, ParamsError

STATUSES = ("draft", "pilot", "operational", "retired")
OPTION_KEYS = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, line or XML path, field) and what."""

    source: str
    where: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        loc = self.source + (f":{self.where}" if self.where else "")
        return f"{loc}: {self.field + ': ' if self.field else ''}{self.message}"


class BankInputError(ValueError):
    """An input with problems; nothing of it was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Option:
    key: str
    text: str


@dataclass(frozen=True)
class ItemContent:
    """An item: stem, options, key (``correct``) or per-option ``points``, IRT model."""

    item_id: str
    domain: str
    topic: str
    stem: str
    options: tuple[Option, ...]
    correct: str | None = None
    points: tuple[tuple[str, int], ...] = ()
    model: str | None = None
    a: float | None = None
    b: float | None = None
    c: float | None = None
    steps: tuple[float, ...] = ()
    tags: tuple[str, ...] = ()
    status: str = "draft"
    enemies: tuple[str, ...] = field(default=(), compare=False)
    #: Stem and options are sanitised markup (itembank.markup), not plain text.
    markup: bool = False

    @property
    def polytomous(self) -> bool:
        return bool(self.points)

    @property
    def has_params(self) -> bool:
        return self.model is not None

    def points_by_key(self) -> dict[str, int]:
        return dict(self.points)

    def spec(self) -> ItemSpec:
        """The IRT parameters as a scoring ItemSpec (the item must have a model)."""
        if self.model is None:
            raise ParamsError(f"item {self.item_id}: no IRT parameters")
        a = 1.0 if self.a is None else self.a
        if self.model in DICHOTOMOUS_MODELS:
            b = math.nan if self.b is None else self.b
            return ItemSpec(self.item_id, self.model, a, b, self.c or 0.0)
        return ItemSpec(self.item_id, self.model, a, steps=self.steps)

    def category_of(self, key: str) -> int:
        """The response category an option earns: 0/1 for a keyed item; the rank of its
        points (0 = fewest) for a TKP-style item."""
        if self.polytomous:
            ranked = sorted({p for _, p in self.points})
            return ranked.index(self.points_by_key()[key])
        return int(key == self.correct)

    def category_points(self, points_correct: float) -> list[float]:
        """Points earned by each response category, lowest category first."""
        if self.polytomous:
            return [float(p) for p in sorted({p for _, p in self.points})]
        return [0.0, float(points_correct)]

    def asset_refs(self) -> list[str]:
        """SHA-256 of every picture the item shows (stem first, then options A to E)."""
        if not self.markup:
            return []
        out: list[str] = []
        for text in (self.stem, *(o.text for o in self.options)):
            out += [h for h in rich.asset_refs(text) if h not in out]
        return out

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of everything but the enemy list and status."""
        body = self.canonical()
        body.pop("enemies")
        body.pop("status")
        blob = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def canonical(self) -> dict:
        """The item as a plain dict (the JSON bank format's item object)."""
        out: dict = {
            "id": self.item_id,
            "domain": self.domain,
            "topic": self.topic,
            "tags": list(self.tags),
            "status": self.status,
            "stem": self.stem,
            "options": [{"key": o.key, "text": o.text} for o in self.options],
        }
        if self.markup:
            # Plain-text items keep the form (and hashes) they had before markup existed.
            out["markup"] = True
            out["assets"] = self.asset_refs()
        if self.polytomous:
            out["points"] = dict(self.points)
        else:
            out["correct"] = self.correct
        if self.model is not None:
            out["model"] = self.model
            params: dict = {"a": self.a}
            if self.model in DICHOTOMOUS_MODELS:
                params["b"] = self.b
                params["c"] = self.c or 0.0
            else:
                params["steps"] = list(self.steps)
            out["params"] = params
        out["enemies"] = sorted(self.enemies)
        return out

    def with_params(self, spec: ItemSpec) -> ItemContent:
        """The same item with new IRT parameters (e.g. after calibration)."""
        dich = spec.model in DICHOTOMOUS_MODELS
        return replace(
            self,
            model=spec.model,
            a=spec.a,
            b=spec.b if dich else None,
            c=spec.c if dich else None,
            steps=() if dich else tuple(spec.steps),
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def normalised(item: ItemContent) -> ItemContent:
    """The item with its text in the one form every file format keeps: stem lines with
    single spaces and no blank lines, options and tags on one line. Applied on reading, so
    a round trip through any format (QTI flattens white space) gives the same content
    hash. Markup is sanitised and its white space collapsed."""
    if item.markup:
        return replace(
            item,
            stem=rich.clean(item.stem),
            options=tuple(Option(o.key, rich.clean(o.text)) for o in item.options),
            tags=tuple(_one_line(t) for t in item.tags),
            topic=_one_line(item.topic),
        )
    stem = "\n".join(line for line in (_one_line(x) for x in item.stem.splitlines()) if line)
    return replace(
        item,
        stem=stem,
        options=tuple(Option(o.key, _one_line(o.text)) for o in item.options),
        tags=tuple(_one_line(t) for t in item.tags),
        topic=_one_line(item.topic),
    )


def check_item(item: ItemContent, source: str, where: str | None) -> list[Problem]:
    """Every problem with one item's own fields (cross-item checks are the caller's)."""
    out: list[Problem] = []

    def bad(fld: str | None, message: str) -> None:
        out.append(Problem(source, where, fld, message))

    unfit = _text_problems(item)
    for fld, message in unfit:
        bad(fld, message)
    if unfit:
        return out  # the checks below would quote the unfit text back
    if not item.item_id or not item.item_id.strip():
        bad("id", "empty item id")
    elif len(item.item_id) > 64 or any(ch.isspace() for ch in item.item_id):
        bad("id", f"{item.item_id!r} must be at most 64 characters without spaces")
    if not item.domain:
        bad("domain", "empty domain (e.g. TWK, TIU, TKP)")
    if not item.topic:
        bad("topic", "empty topic")
    if not item.stem.strip():
        bad("stem", "empty stem")
    if item.status not in STATUSES:
        bad("status", f"{item.status!r} is not one of {', '.join(STATUSES)}")
    keys = [o.key for o in item.options]
    if len(keys) < 2:
        bad("options", "an item needs at least two options")
    if len(keys) > len(OPTION_KEYS):
        bad("options", f"at most {len(OPTION_KEYS)} options (A to E)")
    elif keys != list(OPTION_KEYS[: len(keys)]):
        bad("options", f"option keys must be {', '.join(OPTION_KEYS[: len(keys)])} in order")
    for o in item.options:
        if not o.text.strip():
            bad(f"option {o.key}", "empty option text")
    if item.markup:
        for fld, text in (
            ("stem", item.stem),
            *((f"option {o.key}", o.text) for o in item.options),
        ):
            for message in rich.image_problems(text):
                bad(fld, message)
    if item.polytomous:
        if item.correct:
            bad("correct", "an item with per-option points has no single correct option")
        pts = item.points_by_key()
        if set(pts) != set(keys):
            bad("points", f"points must be given for exactly the options {', '.join(keys)}")
        if any(not isinstance(p, int) or p < 0 for p in pts.values()):
            bad("points", "points must be whole numbers >= 0")
    elif item.correct is None or item.correct == "":
        bad("correct", "missing correct option (or per-option points)")
    elif item.correct not in keys:
        bad("correct", f"{item.correct!r} is not one of the options {', '.join(keys)}")
    if item.model is not None:
        if item.model not in MODELS:
            bad("model", f"{item.model!r} is not one of {', '.join(MODELS)}")
        else:
            try:
                item.spec().validate()
            except ParamsError as exc:
                bad("params", str(exc).split(": ", 1)[-1])
            if item.polytomous and item.model in DICHOTOMOUS_MODELS:
                bad("model", f"an item with per-option points needs gpcm or grm, not {item.model}")
            if not item.polytomous and item.model not in DICHOTOMOUS_MODELS:
                bad("model", f"a keyed item needs rasch, 1pl, 2pl or 3pl, not {item.model}")
            if item.polytomous and item.model not in DICHOTOMOUS_MODELS:
                categories = len({p for _, p in item.points})
                if len(item.steps) != categories - 1:
                    bad(
                        "params",
                        f"{categories} distinct point values need "
                        f"{categories - 1} step parameters, not {len(item.steps)}",
                    )
    elif item.status == "operational":
        bad("model", "an operational item needs IRT parameters")
    if item.item_id in item.enemies:
        bad("enemies", "an item cannot be its own enemy")
    if any(";" in t for t in item.tags):
        bad("tags", "a tag cannot contain ';' (the files separate tags with it)")
    return out


def _text_problems(item: ItemContent) -> list[tuple[str, str]]:
    """(field, message) for each text of the item over its cap or holding a NUL character
    or invalid Unicode (limits.py), checked before anything else touches the text."""
    texts: list[tuple[str, str, int]] = [
        ("stem", item.stem, limits.STEM_CHARS),
        *((f"option {o.key}", o.text, limits.OPTION_CHARS) for o in item.options),
        *((f"options {o.key!r}", o.key, limits.LABEL_CHARS) for o in item.options),
        ("correct", item.correct or "", limits.LABEL_CHARS),
        *(("points", key, limits.LABEL_CHARS) for key, _ in item.points),
        *(("tags", t, limits.LABEL_CHARS) for t in item.tags),
        *(("enemies", e, limits.LABEL_CHARS) for e in item.enemies),
    ]
    for fld in ("item_id", "domain", "topic", "status", "model"):
        name = "id" if fld == "item_id" else fld
        texts.append((name, getattr(item, fld) or "", limits.LABEL_CHARS))
    out = []
    for fld, text, cap in texts:
        problem = limits.field_problem(text, cap)
        if problem:
            out.append((fld, problem))
    return out


def check_bank(
    items: list[tuple[ItemContent, str, str | None]], known_ids: set[str] = frozenset()
) -> list[Problem]:
    """Problems of a whole input: each item's, duplicate ids, unknown enemies."""
    out: list[Problem] = []
    seen: dict[str, str | None] = {}
    for item, source, where in items:
        out += check_item(item, source, where)
        if item.item_id in seen:
            first = seen[item.item_id]
            out.append(
                Problem(
                    source,
                    where,
                    "id",
                    f"duplicate id {item.item_id}" + (f" (first at {first})" if first else ""),
                )
            )
        else:
            seen[item.item_id] = where
    ids = set(seen) | set(known_ids)
    for item, source, where in items:
        for enemy in item.enemies:
            if enemy not in ids:
                out.append(Problem(source, where, "enemies", f"unknown item {enemy}"))
    return out
