"""One attempt replayed from its opened log entries: every section through the engine
(``exam.cat.replay``; a fixed section from its last answers, ``exam.cat.fixed``) to the
logged items, abilities and points, and any re-scoring after a re-keyed item.

``report`` is anything with ``add(problem)`` (``proctoring.verify.Report``).
"""

from __future__ import annotations

from collections import defaultdict

from exam.cat.fixed import replay_fixed_section
from exam.cat.replay import replay_section, rescore_section
from proctoring.canonical import decimal


def _last_answers(events: list[dict]) -> dict[str, dict[int, dict]]:
    """Each section's answers by step: the last one logged at each step (a fixed
    section's changes replace earlier answers), in step order."""
    out: dict[str, dict[int, dict]] = defaultdict(dict)
    for e in events:
        if e["type"] == "answer":
            out[e["section"]][int(e["step"])] = e
    return {name: dict(sorted(by_step.items())) for name, by_step in out.items()}


def replay_attempt(code, config, plans, seed, pseudonym, events, report) -> None:
    where = f"exam {code}, {pseudonym}"
    answers: dict[str, list[tuple[str, int, bool]]] = defaultdict(list)
    choices: dict[str, list[str]] = defaultdict(list)
    last = _last_answers(events)
    for name, by_step in last.items():
        for e in by_step.values():
            category = e["category"]
            if not isinstance(category, int) or isinstance(category, bool):
                report.add(f"{where}: the answer at step {e['step']} has no scored category")
                return
            answers[name].append((e["item"], category, bool(e.get("pilot"))))
            choices[name].append(e.get("choice"))
    _check_rescoring(where, config, plans, seed, pseudonym, events, answers, choices, report)
    finished = {e["section"]: e for e in events if e["type"] == "section_finished"}
    served: dict[str, dict[int, str]] = defaultdict(dict)
    for e in events:
        if e["type"] == "item_served":
            served[e["section"]][int(e["step"])] = e.get("item")
    changed = {e["section"] for e in events if e["type"] == "answer" and e.get("changed")}
    total = 0
    for section in config.sections:
        given = answers.get(section.name, [])
        if section.kind == "fixed":
            result = _replay_fixed(
                where, plans[section.name], seed, pseudonym, last.get(section.name, {}),
                served.get(section.name, {}), report,
            )  # fmt: skip
            if result is None:
                continue
        else:
            if section.name in changed:
                report.add(f"{where}, {section.name}: an answer changed in an adaptive section")
            try:
                replayed = replay_section(
                    plans[section.name],
                    seed,
                    pseudonym,
                    [c for _, c, pilot in given if not pilot],
                    (),
                    [c for _, c, pilot in given if pilot],
                )
            except (ValueError, IndexError) as exc:
                report.add(f"{where}, {section.name}: the engine cannot replay the answers ({exc})")
                return
            result = replayed.result
            logged_items = [item for item, _, pilot in given if not pilot]
            if list(result.items) != logged_items:
                report.add(
                    f"{where}, {section.name}: the replay serves {list(result.items)}, "
                    f"the log shows {logged_items}"
                )
                continue
            pilots = [item for item, _, pilot in given if pilot]  # the answered ones
            if pilots != list(result.pilot_items[: len(pilots)]):
                report.add(f"{where}, {section.name}: the pilot items differ from the replay")
        logged = finished.get(section.name)
        if logged is None:
            continue
        points = result.points if result.n_items else 0
        got = (points, decimal(result.theta), decimal(result.se))
        want = (logged.get("points"), logged.get("theta"), logged.get("se"))
        if got != want:
            report.add(f"{where}, {section.name}: replay gives points, θ, SE {got}, the log {want}")
        total += points
    done = next((e for e in events if e["type"] == "attempt_finished"), None)
    if done is not None and done.get("total") != total:
        report.add(f"{where}: total {done.get('total')} logged, {total} replayed")


def _replay_fixed(where, plan, seed, pseudonym, last: dict[int, dict], served: dict, report):
    """A fixed section: the form the seed draws is the items the log serves, step by step
    from the section's first, and its last answers give the logged score."""
    name = plan.config.name
    first = min(served, default=0)
    try:
        replayed = replay_fixed_section(
            plan, seed, pseudonym, {step - first: e["category"] for step, e in last.items()}
        )
    except (ValueError, IndexError) as exc:
        report.add(f"{where}, {name}: the engine cannot replay the answers ({exc})")
        return None
    form = [slot.item_id for slot in replayed.slots]
    if served and [served.get(first + k) for k in range(len(form))] != form:
        report.add(f"{where}, {name}: the replay serves {form}, the log shows {served}")
        return None
    return replayed.result


def _check_rescoring(where, config, plans, seed, pseudonym, events, answers, choices, report):
    """Re-scored sections (after an item was re-keyed): the served items scored with the
    corrected categories give the points, θ and SE the last ``attempt_rescored`` states."""
    rescored = {e["section"]: e for e in events if e["type"] == "attempt_rescored"}
    if not rescored:
        return
    rekey = {e["item"]: e["scoring"] for e in events if e["type"] == "item_rekeyed"}
    for name, logged in rescored.items():
        given = answers.get(name, [])
        picked = choices.get(name, [])
        items, cats = [], []
        for (item, category, pilot), choice in zip(given, picked, strict=True):
            if pilot:
                continue
            items.append(item)
            cats.append(rekey[item][choice] if item in rekey else category)
        result = rescore_section(plans[name], seed, pseudonym, items, cats)
        got = (result.points, decimal(result.theta), decimal(result.se))
        want = (logged.get("points"), logged.get("theta"), logged.get("se"))
        if got != want:
            report.add(f"{where}, {name}: re-scoring gives points, θ, SE {got}, the log {want}")
