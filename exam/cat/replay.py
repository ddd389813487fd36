"""Replay: re-derive an attempt from its inputs alone.

An observer holds the exam definition, the committed bank parameters, the revealed seed,
an applicant's pseudonym and the responses in the log. ``replay_section`` runs the same
engine steps and returns the items that must have been served, the ability after each
answer and the score, so that every logged attempt can be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exam.cat import engine
from exam.cat.blueprint import ExamConfig
from exam.cat.outcome import SectionResult, section_result
from exam.cat.plan import SectionPlan, compile_section
from itembank.table import BankTable


@dataclass(frozen=True)
class ReplayedSection:
    result: SectionResult
    next_item: str | None
    stop_reason: str | None


def replay_section(
    plan: SectionPlan,
    seed: bytes,
    pseudonym: str,
    responses: Sequence[int],
    excluded: Sequence[str] = (),
    pilot_responses: Sequence[int] = (),
) -> ReplayedSection:
    """Replay one section: serve, answer with the next logged response, repeat.

    ``responses`` are the operational answers in order, ``pilot_responses`` the answers
    to pilot items. ``next_item`` is the item the engine serves after the last response
    (None when the section stops there), which a log may show as served but unanswered.
    """
    st = engine.start(plan, seed, pseudonym, tuple(excluded))
    operational, pilots = list(responses), list(pilot_responses)
    while True:
        decision = engine.decide(plan, st, seed, pseudonym)
        if decision.item is None:
            if operational or pilots:
                raise ValueError(
                    f"section {plan.config.name}: the engine stopped after {int(st.n[0])} "
                    f"answers ({decision.stop_reason}) but the log has more"
                )
            break
        queue = pilots if decision.pilot else operational
        if not queue:
            break
        if decision.pilot:
            st = engine.answer_pilot(st, int(queue.pop(0)))
        else:
            st = engine.answer(plan, st, decision.item, int(queue.pop(0)))
    return ReplayedSection(section_result(plan, st), decision.item_id, decision.stop_reason)


def replay_exam(
    config: ExamConfig,
    bank: BankTable,
    seed: bytes,
    pseudonym: str,
    responses: dict[str, Sequence[int]],
    excluded: Sequence[str] = (),
    pilot_responses: dict[str, Sequence[int]] | None = None,
) -> dict[str, ReplayedSection]:
    """Replay every section of an exam for one applicant."""
    out = {}
    for section in config.sections:
        plan = compile_section(section, bank)
        out[section.name] = replay_section(
            plan,
            seed,
            pseudonym,
            responses.get(section.name, ()),
            excluded,
            (pilot_responses or {}).get(section.name, ()),
        )
    return out


def rescore_section(
    plan: SectionPlan, seed: bytes, pseudonym: str, items: Sequence[str], responses: Sequence[int]
):
    """Score a section's *served* items with (corrected) responses, without selecting
    again: after an item is re-keyed, the items an applicant saw are history; only what
    the answers earn changes. Returns the SectionResult."""
    st = engine.start(plan, seed, pseudonym)
    for item, response in zip(items, responses, strict=True):
        st = engine.answer(plan, st, plan.ids.index(item), int(response))
    return section_result(plan, st)
