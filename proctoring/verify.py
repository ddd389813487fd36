"""The offline verifier: everything ``seleksi log verify`` checks, as pure functions.

Given the log's entries (their exact texts), a signed checkpoint and the verifier key, it
checks, in order:

1. the checkpoint's signature and origin, and the cosignatures of the witnesses given,
   at least as many as required (``proctoring.cosign``);
2. that the entries hash (RFC 6962) to the checkpoint's root — nothing altered, removed,
   reordered or inserted below the checkpoint's size;
3. consistency with the checkpoint kept from the last run (``State``): the entries still
   hash to the root recorded then, so a rewritten history is caught on the next run;
4. that every entry is canonical JSON with ``type``, ``exam`` and ``t``;
5. the event rules of every attempt: an item is served before it is answered, one answer
   per step, steps in order, no answer after the deadline or after the attempt finished;
6. for every closed exam (``exam_revealed``) whose sealed entries the verifier can open
   entirely (``proctoring.seal``: the openings of an exam go to logged-in observers when it
   closes, and to everyone when its items are retired; an applicant's own openings leave
   the scored outcomes and content hashes sealed, so they replay nothing): every opening
   gives its entry's commitment, the revealed seed and definition match the commitments
   logged at opening, and every attempt replays through the engine (``exam.cat.replay``)
   to the same items, abilities and points. Attempts replay independently, so a large
   exam's are shared among worker processes, one per core (``PARALLEL_FROM``); the report
   is the same either way.

Without openings the check stops at integrity (1–5 and the published results); the report
says which level it reached (``Report.level``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import multiprocessing
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from exam.cat.blueprint import ExamConfig
from exam.cat.plan import compile_section
from exam.cat.randomness import seed_commitment
from itembank.table import BankTable
from proctoring import merkle, outages
from proctoring.attempt_replay import replay_attempt
from proctoring.cosign import WitnessKey, quorum_problems
from proctoring.note import Checkpoint, NoteError, Verifier, open_checkpoint
from proctoring.seal import OPENED, Opening, open_entries
from scoring.ranking import Score, rank, results_table, table_sha256

MAX_PROBLEMS = 200


@dataclass(frozen=True)
class State:
    """What a verifier remembers between runs: a size and the root it had."""

    size: int
    root: bytes
    key: str = ""

    def dumps(self) -> str:
        return json.dumps(
            {"size": self.size, "root": base64.b64encode(self.root).decode(), "key": self.key},
            indent=2,
        )

    @classmethod
    def loads(cls, text: str) -> State:
        data = json.loads(text)
        return cls(int(data["size"]), base64.b64decode(data["root"]), data.get("key", ""))


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    size: int = 0
    root: bytes = b""
    attempts: int = 0
    replayed: int = 0
    exams_closed: int = 0
    sealed: int = 0
    opened: int = 0
    #: Opened entries with an inner part (an answer's scored outcome, an item's content
    #: hash), and how many of those were opened too: an applicant's own openings open
    #: the outer records only, which shows what was recorded but replays no score.
    inner: int = 0
    inner_opened: int = 0
    #: Closed exams that could not be replayed: their sealed entries were not all opened.
    exams_sealed: list[str] = field(default_factory=list)
    #: The known witnesses that cosigned the checkpoint.
    cosigned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    @property
    def level(self) -> str:
        """``full replay`` when every closed exam replayed from its opened entries,
        ``integrity`` when the sealed entries could only be checked as commitments."""
        if self.exams_closed and not self.exams_sealed:
            return "full replay"
        if self.exams_closed > len(self.exams_sealed):
            return "integrity, and full replay of some exams"
        return "integrity"


def verify(
    texts: Sequence[str],
    checkpoint_note: str,
    verifier: Verifier,
    origin: str | None = None,
    state: State | None = None,
    progress: Callable[[int], None] | None = None,
    openings: Iterable[Opening] = (),
    witnesses: Sequence[WitnessKey] = (),
    min_witnesses: int = 0,
) -> Report:
    """Every check above that ``openings`` allow; ``progress`` is called with counts of
    entries processed. With ``witnesses``, also their cosignatures on the checkpoint
    (``proctoring.cosign``), at least ``min_witnesses`` of them."""
    report = Report()
    try:
        cp = open_checkpoint(checkpoint_note, verifier, origin)
    except NoteError as exc:
        report.add(f"checkpoint: {exc}")
        return report
    report.cosigned, problems = quorum_problems(checkpoint_note, witnesses, min_witnesses)
    for problem in problems:
        report.add(problem)
    report.size, report.root = cp.size, cp.root
    nodes = _check_tree(texts, cp, state, report)
    entries = _parse(texts[: cp.size], report)
    opened = open_entries(entries, openings)
    report.sealed, report.opened = opened.sealed, opened.opened
    report.inner, report.inner_opened = opened.inner, opened.inner_opened
    for problem in opened.problems:
        report.add(problem)
    if progress:
        progress(len(entries) // 2)
    _check_events(entries, report)
    _replay_closed_exams(entries, report, progress)
    _check_publications(entries, report, nodes)
    return report


# -- the tree ---------------------------------------------------------------------------------


def _check_tree(
    texts: Sequence[str], cp: Checkpoint, state: State | None, report: Report
) -> dict[tuple[int, int], bytes]:
    """The checks against the checkpoint and the state; returns the tree's nodes."""
    if len(texts) < cp.size:
        report.add(f"the checkpoint covers {cp.size} entries but only {len(texts)} were given")
        return {}
    nodes = merkle.nodes_for_leaves(merkle.leaf_hash(t.encode()) for t in texts[: cp.size])

    def node(level: int, i: int) -> bytes:
        return nodes[(level, i)]

    if merkle.root(cp.size, node) != cp.root:
        report.add(
            f"the entries do not hash to the signed root at size {cp.size}: an entry was "
            "altered, removed, reordered or inserted"
        )
    if state is not None:
        if state.size > cp.size:
            report.add(
                f"the log shrank: {state.size} entries were checkpointed before, {cp.size} now"
            )
        elif merkle.root(state.size, node) != state.root:
            report.add(
                f"history rewritten: the first {state.size} entries no longer hash to the root "
                "recorded by the previous run"
            )
    return nodes


def _no_float(text: str) -> float:
    raise ValueError(f"{text}: floats are not canonical; use decimal() strings")


def replay_exam(
    indexed: Sequence[tuple[int, str]], openings: Iterable[Opening]
) -> tuple[Report, list[dict]]:
    """The checks past the tree on one exam's entries ((log index, text) pairs, in order),
    opened with ``openings``: canonical form, the event rules and, once the exam is closed,
    the full replay. The server runs it before publishing results. Returns the report and
    the entries, parsed and opened."""
    report = Report()
    entries = _parse([text for _, text in indexed], report)
    for entry, (index, _) in zip(entries, indexed, strict=True):
        entry["_index"] = index
    opened = open_entries(entries, openings)
    report.sealed, report.opened = opened.sealed, opened.opened
    report.inner, report.inner_opened = opened.inner, opened.inner_opened
    for problem in opened.problems:
        report.add(problem)
    _check_events(entries, report)
    _replay_closed_exams(entries, report, None)
    return report, entries


def _parse(texts: Iterable[str], report: Report) -> list[dict]:
    """Each entry's JSON, checked to be canonical: parsed without floats, NaN or
    infinities (which ``canonical`` refuses), an entry is canonical exactly when
    re-encoding it canonically gives its text back — the same test as ``canonical(entry)
    == text``, without walking every value in Python (this runs on every entry)."""
    decode = json.JSONDecoder(parse_float=_no_float, parse_constant=_no_float).decode
    encode = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode
    entries = []
    for index, text in enumerate(texts):
        try:
            entry = decode(text)
            if not isinstance(entry, dict) or encode(entry) != text:
                raise ValueError("not canonical JSON")
            if not {"type", "exam", "t"} <= set(entry):
                raise ValueError("missing type, exam or t")
        except (ValueError, TypeError) as exc:
            report.add(f"entry {index}: {exc}")
            entry = {"type": "invalid", "exam": "", "t": 0}
        entry["_index"] = index
        entries.append(entry)
    return entries


# -- event rules ------------------------------------------------------------------------------


@dataclass
class _Attempt:
    deadline: int | None = None
    next_step: int = 0
    served: dict[int, str] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)
    finished: bool = False
    answer_times: list[int] = field(default_factory=list)
    #: The last step served and when: a fixed section serves its steps in one append.
    last_served: int | None = None
    last_t: int | None = None
    #: A section ended since the last serve: the next may follow the last served step.
    section_ended: bool = False
    ended: set[str] = field(default_factory=set)


def _check_events(entries: list[dict], report: Report) -> None:
    attempts: dict[tuple[str, str], _Attempt] = defaultdict(_Attempt)
    started: set[tuple[str, str]] = set()
    flags: dict[tuple[str, int], str] = {}
    for e in entries:
        try:
            _check_event(e, attempts, started, report)
            _check_flag(e, flags, report)
        except (KeyError, TypeError, ValueError) as exc:
            report.add(f"entry {e['_index']} ({e['type']}): malformed ({exc!r})")
    report.attempts = len(started)


def _check_flag(e: dict, flags: dict[tuple[str, int], str], report: Report) -> None:
    """A forensic flag is raised once, with a commitment; notes and decisions refer to a
    flag raised before them, and only the committee decides."""
    kind = e["type"]
    if kind == "flag_raised":
        key = (e["exam"], int(e["flag"]))
        if key in flags:
            report.add(f"entry {e['_index']} (flag_raised): flag {key[1]} raised twice")
        if len(str(e["commitment"])) != 64:
            report.add(f"entry {e['_index']} (flag_raised): the commitment is not a SHA-256")
        flags[key] = e["commitment"]
    elif kind in ("flag_note", "flag_decision"):
        key = (e["exam"], int(e["flag"]))
        if key not in flags:
            report.add(f"entry {e['_index']} ({kind}): flag {key[1]} was never raised")
        if kind == "flag_decision" and e.get("role") != "committee":
            report.add(f"entry {e['_index']} (flag_decision): decided by {e.get('role')}")


def _check_event(e: dict, attempts: dict, started: set, report: Report) -> None:
    kind, i = e["type"], e["_index"]
    key = (e["exam"], e.get("pseudonym", ""))
    a = attempts[key]
    where = f"entry {i} ({kind}, {key[1]})"
    if kind == "attempt_started":
        if key in started:
            report.add(f"{where}: a second start of the same attempt")
        started.add(key)
        a.deadline = e.get("deadline")
    elif kind == "extra_time_set" and e.get("deadline") is not None:
        a.deadline = e["deadline"]
    elif kind == "downtime_credited":
        # The service was down from ``from``: every attempt running then got the gap back.
        for (exam, _), other in attempts.items():
            running = not other.finished and other.deadline is not None
            if exam == e["exam"] and running and other.deadline > int(e["from"]):
                other.deadline += int(e["credit_ms"])
    elif kind in ("site_outage", "room_resumed"):  # recomputed from the entry's evidence
        outages.apply(e, attempts, report.add)
    elif kind == "item_served":
        step = e.get("step")
        if a.finished:
            report.add(f"{where}: an item served after the attempt finished")
        follows = a.last_served is not None and step == a.last_served + 1
        if step != a.next_step and not (follows and (e["t"] == a.last_t or a.section_ended)):
            report.add(f"{where}: step {step} served, step {a.next_step} expected")
        a.served[step] = e.get("item")
        a.last_served, a.last_t, a.section_ended = step, e["t"], False
    elif kind == "answer":
        step = int(e["step"])
        if a.finished:
            report.add(f"{where}: an answer after the attempt finished")
        if e.get("section") in a.ended:
            report.add(f"{where}: an answer after section {e.get('section')} ended")
        if step in a.answered and e.get("changed") is not True:
            report.add(f"{where}: a second answer to step {step}")
        elif step not in a.answered and "changed" in e:
            report.add(f"{where}: a changed answer to step {step}, which had none")
        elif step not in a.served or a.served[step] != e.get("item"):
            report.add(
                f"{where}: item {e.get('item')} answered at step {step} was not served there"
            )
        if a.deadline is not None and int(e["t"]) > a.deadline:
            report.add(f"{where}: answered {e['t'] - a.deadline} ms after the deadline")
        a.answered.add(step)
        a.answer_times.append(int(e["t"]))
        a.next_step = max(a.next_step, step + 1)
    elif kind == "item_marked":
        step = int(e["step"])
        if a.finished or e.get("section") in a.ended or step not in a.served:
            report.add(f"{where}: step {step} marked, which is not an item of a running section")
    elif kind == "section_finished":
        a.section_ended = True
        a.ended.add(e.get("section"))
    elif kind == "attempt_finished":
        a.finished = True


# -- replay -----------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _replay_closed_exams(
    entries: list[dict], report: Report, progress: Callable[[int], None] | None
) -> None:
    by_exam: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_exam[e["exam"]].append(e)
    for code, events in by_exam.items():
        reveal = next((e for e in events if e["type"] == "exam_revealed"), None)
        commit = next((e for e in events if e["type"] == "exam_committed"), None)
        if reveal is None:
            continue
        report.exams_closed += 1
        if commit is None:
            report.add(f"exam {code}: revealed but never committed")
            continue
        # (An entry opened without its inner part is not OPENED: no score replays from it.)
        if any("sealed" in e and not e.get(OPENED) for e in events):
            report.exams_sealed.append(code)  # integrity only: the openings are not at hand
            continue
        try:
            seed = bytes.fromhex(reveal["seed"])
        except (KeyError, TypeError, ValueError):
            report.add(f"exam {code}: the revealed seed is malformed")
            continue
        # (The parameter table is in the opened commitment, so it is checked by opening.)
        checks = [
            ("seed", seed_commitment(seed), commit.get("seed_sha256")),
            ("definition", _sha(str(reveal.get("definition"))), commit.get("definition_sha256")),
        ]
        bad = [name for name, got, want in checks if got != want]
        if bad:
            report.add(f"exam {code}: the revealed {', '.join(bad)} do not match the commitment")
            continue
        try:
            config = ExamConfig.from_dict(json.loads(reveal["definition"]))
            bank = BankTable.from_parameter_table(commit["parameter_table"])
            plans = {s.name: compile_section(s, bank) for s in config.sections}
        except (KeyError, TypeError, ValueError) as exc:
            report.add(f"exam {code}: the revealed definition cannot be compiled ({exc})")
            continue
        per_person: dict[str, list[dict]] = defaultdict(list)
        for e in events:
            if "pseudonym" in e:
                per_person[e["pseudonym"]].append(e)
        # A re-keyed item (an upheld appeal) changes what its answers earn: every attempt
        # replays with the re-keying in view (see _check_rescoring).
        rekeys = [e for e in events if e["type"] == "item_rekeyed"]
        attempts = [
            (pseudonym, mine + rekeys)
            for pseudonym, mine in per_person.items()
            if any(e["type"] == "attempt_started" for e in mine)
        ]
        if progress and len(per_person) > len(attempts):
            progress(len(per_person) - len(attempts))
        for problems, done in _replay_all(code, config, plans, seed, attempts):
            for problem in problems:
                report.add(problem)
            report.replayed += done
            if progress:
                progress(done)


#: Replay runs in worker processes from this many attempts of an exam on: attempts replay
#: independently of one another, and on a large exam the replay is nearly all of verify's
#: time (10,000 attempts of 30 items: about a minute on one core).
PARALLEL_FROM = 400
_CHUNK = 100
_WORKER: dict[str, tuple] = {}  # a worker process's exam: (code, config, plans, seed)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _start_method() -> str:
    """fork where it is safe (a process without other threads, e.g. a progress bar's
    monitor): workers start at once; otherwise forkserver (or spawn), which import the
    engine first."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _replay_all(code: str, config: ExamConfig, plans: dict, seed: bytes, attempts: list):
    """(problems, attempts replayed) per chunk of attempts, in the attempts' order, so the
    report is the same however many processes replay. One worker per core; the exam is
    handed to each worker once, then chunks of attempts (their parsed entries)."""
    chunks = [attempts[lo : lo + _CHUNK] for lo in range(0, len(attempts), _CHUNK)]
    workers = min(_workers(), len(chunks))
    exam = (code, config, plans, seed)
    if workers < 2 or len(attempts) < PARALLEL_FROM:
        for chunk in chunks:
            yield _replay_chunk(chunk, exam)
        return
    context = multiprocessing.get_context(_start_method())
    with context.Pool(workers, _init_worker, exam) as pool:
        yield from pool.imap(_replay_chunk, chunks)


def _init_worker(*exam) -> None:
    _WORKER["exam"] = exam


def _replay_chunk(chunk: list, exam: tuple | None = None) -> tuple[list[str], int]:
    code, config, plans, seed = exam or _WORKER["exam"]
    report = Report()
    for pseudonym, mine in chunk:
        try:
            replay_attempt(code, config, plans, seed, pseudonym, mine, report)
        except (KeyError, TypeError, ValueError) as exc:
            report.add(f"exam {code}, {pseudonym}: malformed entries ({exc!r})")
    return report.problems, len(chunk)


# -- published results ------------------------------------------------------------------------


def _check_publications(
    entries: list[dict], report: Report, nodes: dict[tuple[int, int], bytes]
) -> None:
    """Every ``results_published`` entry: its table hashes to the SHA-256 it states, the
    checkpoint it names is the log's root at that size, every row's points are the points
    the log finished the attempt with, and — the exam's rules being revealed — the pure
    ranking of those scores gives exactly the published table."""
    published = [e for e in entries if e["type"] == "results_published"]
    if not published or not nodes:
        return

    def node(level: int, i: int) -> bytes:
        return nodes[(level, i)]

    for e in published:
        where = f"entry {e['_index']} (results of {e['exam']}, version {e.get('version')})"
        try:
            table = e["table"]
            if table_sha256(table) != e["table_sha256"]:
                report.add(f"{where}: the table does not hash to the published SHA-256")
                continue
            size = int(e["checkpoint_size"])
            if size > e["_index"]:
                report.add(f"{where}: computed from a log larger than the one before it")
                continue
            root = merkle.root(size, node)
            if base64.b64encode(root).decode() != e["checkpoint_root"]:
                report.add(f"{where}: the checkpoint it names is not the log's root at {size}")
            finished = {
                x["pseudonym"]: dict(x.get("points", {}))
                for x in entries[:size]
                if x["type"] == "attempt_finished" and x["exam"] == e["exam"]
            }
            for x in entries[:size]:  # re-scored after an upheld appeal
                if x["type"] == "attempt_rescored" and x["exam"] == e["exam"]:
                    finished.setdefault(x["pseudonym"], {})[x["section"]] = x["points"]
            reveal = next(
                (
                    x
                    for x in entries[: e["_index"]]
                    if x["type"] == "exam_revealed" and x["exam"] == e["exam"]
                ),
                None,
            )
            rows = list(csv.DictReader(io.StringIO(table, newline="")))
            if reveal is None:
                report.add(f"{where}: published before the exam's rules were revealed")
                continue
            config = ExamConfig.from_dict(json.loads(reveal["definition"]))
            rules = config.ranking_rules()
            scores = [
                Score(
                    r["person_id"],
                    r["formation"],
                    r["track"],
                    {s: int(r[s]) for s in rules.sections},
                )
                for r in rows
            ]
            for sc in scores:
                if finished.get(sc.person_id) != dict(sc.points):
                    report.add(f"{where}: {sc.person_id}'s points differ from the log's")
            missing = sorted(set(finished) - {sc.person_id for sc in scores})
            if missing:
                report.add(
                    f"{where}: finished attempts missing from the table: {', '.join(missing[:5])}"
                )
            if results_table(rank(scores, rules), rules.sections) != table:
                report.add(f"{where}: the ranking recomputed from the scores and rules differs")
        except (KeyError, TypeError, ValueError, csv.Error) as exc:
            report.add(f"{where}: malformed ({exc!r})")
