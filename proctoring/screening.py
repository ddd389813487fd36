"""Screening an exam's answers for irregularities: every forensic statistic, per section,
with the false discovery rate controlled across applicants. Pure: plain arrays in, flags
out, so an observer can rerun it on the same data.

The statistics (each module cites its sources):

- ``person_fit``: lz* (Snijders 2001, Psychometrika 66) at the MLE θ̂, lower tail:
  answers that fit no single ability, as when a stand-in (joki) or a remote helper answers
  part of the test.
- ``cusum``: the CUSUM of van Krimpen-Stoop & Meijer (2001, J. Educ. Behav. Stat. 26), for
  adaptive tests, with parametric-bootstrap p-values: a run of unexpected answers, as when
  someone else takes over midway.
- ``response_time``: L_T under van der Linden's (2006) lognormal model (van der Linden &
  Guo 2008; Sinharay 2018, df n − 1), upper tail: a pattern of times the model does not
  expect (fast on hard items, slow on easy ones).
- ``rapid_guessing``: answers faster than the item's NT10 threshold (Wise & Ma 2012);
  flagged when response-time effort RTE < 0.90 (Wise & Kong 2005, Appl. Meas. Educ. 18).
  A descriptive rule, not a test, so it takes no part in the false-discovery control.
- ``preknowledge`` and ``preknowledge_time``: Sinharay's signed likelihood-ratio statistic
  on the items the committee marked as possibly compromised against the rest, from the
  answers (Sinharay 2017, bootstrap p-values) and from the response times (Sinharay 2020).
- ``similarity``: the generalized binomial test on matching options (van der Linden &
  Sotaridona 2006) for every pair in the same room or session, with option probabilities
  from the IRT model and the empirical option frequencies (``proctoring.similarity``).

False discoveries: within each statistic and section, the p-values of all applicants (or
pairs) are adjusted by Benjamini & Hochberg (1995, J. R. Stat. Soc. B 57); a flag is raised
where the adjusted value is at most the committee's level. A flag is a reason for a human
to look, with the evidence behind it, and never a sanction.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from proctoring import fdr, personfit, preknowledge, response_times, similarity
from proctoring.canonical import canonical, decimal
from scoring.ability import estimate
from scoring.irt import category_probs_at
from scoring.params import ItemParams

KINDS = (
    "person_fit",
    "cusum",
    "response_time",
    "rapid_guessing",
    "preknowledge",
    "preknowledge_time",
    "similarity",
)
#: Response-time effort below this flags rapid guessing (Wise & Kong 2005).
RTE_CRITERION = 0.90
#: Pairs compared at most per section; beyond it the similarity analysis needs rooms.
MAX_PAIRS = 200_000
OPTION_KEYS = "ABCDE"


@dataclass(frozen=True, eq=False)
class SectionAnswers:
    """One section's recorded answers, one row per applicant (pseudonym) and one column per
    item the section served. ``responses``: score category (−1 = not served); ``choices``:
    option number 0–4 (−1 = not served); ``option_category``: items × options, the score of
    each option (−1 = no such option); ``seconds``: response time (NaN = not served);
    ``positions``: the step the item was served at (−1 = not served); ``rooms``: the room
    or session of each applicant ("" = unknown)."""

    section: str
    persons: tuple[str, ...]
    items: tuple[str, ...]
    params: ItemParams
    responses: np.ndarray
    choices: np.ndarray
    option_category: np.ndarray
    seconds: np.ndarray
    positions: np.ndarray
    rooms: tuple[str, ...]


@dataclass(frozen=True)
class ScreeningRules:
    """The committee's choices: the false discovery rate ``level``, the items marked as
    possibly compromised, and the analysis settings."""

    level: float = 0.05
    compromised: frozenset[str] = frozenset()
    min_items: int = 10
    min_common: int = 5
    n_boot: int = 200
    seed: int = 0


@dataclass(frozen=True)
class Flag:
    """One raised flag: which statistic, section and applicant(s), the statistic, its
    p-value and BH-adjusted value (NaN for the rapid-guessing rule), and the evidence, as
    canonical JSON values (decimals as strings)."""

    kind: str
    section: str
    pseudonyms: tuple[str, ...]
    statistic: float
    p_value: float
    q_value: float
    evidence: dict

    def document(self, exam: str) -> dict:
        """The flag as the canonical document its commitment hashes."""
        return {
            "exam": exam,
            "kind": self.kind,
            "section": self.section,
            "pseudonyms": list(self.pseudonyms),
            "statistic": _dec(self.statistic),
            "p_value": _dec(self.p_value),
            "q_value": _dec(self.q_value),
            "evidence": self.evidence,
        }

    def commitment(self, exam: str) -> str:
        """SHA-256 of the canonical JSON of ``document``: what the audit log records."""
        return hashlib.sha256(canonical(self.document(exam)).encode()).hexdigest()


@dataclass(frozen=True)
class Tested:
    """How many applicants (or pairs) one statistic was computed for in one section, and
    how many were flagged; ``note`` says why an analysis did not run."""

    kind: str
    section: str
    tested: int
    flagged: int
    note: str = ""


@dataclass(frozen=True)
class Screening:
    flags: list[Flag] = field(default_factory=list)
    tested: list[Tested] = field(default_factory=list)


def _dec(x: float, places: int = 4) -> str:
    return "NaN" if x is None or not math.isfinite(float(x)) else decimal(float(x), places)


def screen(sections: list[SectionAnswers], rules: ScreeningRules) -> Screening:
    """Every statistic on every section; flags where the BH-adjusted p-value ≤ level."""
    out = Screening()
    rng = np.random.default_rng(rules.seed)
    for data in sections:
        _screen_section(data, rules, rng, out)
    return out


def _family(
    out: Screening,
    kind: str,
    data: SectionAnswers,
    subjects: list[tuple[int, ...]],
    stat: np.ndarray,
    p: np.ndarray,
    level: float,
    evidence,
    note: str = "",
) -> None:
    """BH over one statistic's p-values; a flag per discovery."""
    p = np.asarray(p, dtype=float)
    tested = int(np.isfinite(p).sum())
    if tested == 0:
        out.tested.append(Tested(kind, data.section, 0, 0, note or "too few answers"))
        return
    found = fdr.benjamini_hochberg(p, level)
    q = fdr.bh_adjusted(p)
    for k in np.flatnonzero(found):
        who = tuple(data.persons[i] for i in subjects[k])
        out.flags.append(
            Flag(kind, data.section, who, float(stat[k]), float(p[k]), float(q[k]), evidence(k))
        )
    out.tested.append(Tested(kind, data.section, tested, int(found.sum()), note))


def _screen_section(
    data: SectionAnswers, rules: ScreeningRules, rng: np.random.Generator, out: Screening
) -> None:
    x = np.asarray(data.responses, dtype=np.int64)
    n_answered = (x >= 0).sum(1)
    enough = n_answered >= rules.min_items
    xs = np.where(enough[:, None], x, -1)
    persons = [(i,) for i in range(len(data.persons))]
    estimates = estimate(data.params, xs, "mle")
    theta = np.array([e.theta for e in estimates])
    methods = [e.method for e in estimates]
    theta = np.where(enough, theta, np.nan)
    probs = _expected(data.params, x, theta)

    def item_rows(i: int, extra=None) -> list[dict]:
        cols = np.flatnonzero(x[i] >= 0)
        cols = cols[np.argsort(data.positions[i, cols])]
        rows = []
        for j in cols:
            row = {
                "item": data.items[j],
                "step": int(data.positions[i, j]),
                "choice": _option(int(data.choices[i, j])),
                "score": int(x[i, j]),
                "expected": _dec(probs[i, j], 3),
                "seconds": _dec(data.seconds[i, j], 1),
            }
            if extra is not None:
                row.update(extra(i, j))
            rows.append(row)
        return rows

    def person_evidence(extra_fields=None, extra_rows=None):
        def build(k: int) -> dict:
            i = k
            doc = {
                "theta": _dec(theta[i], 3),
                "items": int(n_answered[i]),
                "answers": item_rows(i, extra_rows),
            }
            if extra_fields is not None:
                doc.update(extra_fields(i))
            return doc

        return build

    # Person fit: lz* (Snijders 2001) and the CUSUM (van Krimpen-Stoop & Meijer 2001).
    fit = personfit.lz_star(data.params, xs, np.nan_to_num(theta), methods)
    lz_p = np.where(enough, fit.p_value, np.nan)
    _family(
        out,
        "person_fit",
        data,
        persons,
        fit.statistic,
        lz_p,
        rules.level,
        person_evidence(lambda i: {"lz_star": _dec(fit.statistic[i])}),
    )
    positions = np.where(x >= 0, data.positions, -1)
    cus = personfit.cusum_test(
        data.params, xs, None, positions, method="mle", n_boot=rules.n_boot, rng=rng
    )
    cus_p = _refine(
        np.where(enough, cus.p_value, np.nan),
        rules,
        lambda rows, n_boot: (
            personfit.cusum_test(
                data.params, xs[rows], None, positions[rows], method="mle", n_boot=n_boot, rng=rng
            ).p_value
        ),
    )
    _family(
        out,
        "cusum",
        data,
        persons,
        np.maximum(cus.c_plus, -cus.c_minus),
        cus_p,
        rules.level,
        person_evidence(lambda i: {"c_plus": _dec(cus.c_plus[i]), "c_minus": _dec(cus.c_minus[i])}),
    )

    # Response times under the lognormal model (van der Linden 2006), fitted on this
    # section's own answers.
    seconds = np.where(x >= 0, data.seconds, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_t = np.log(np.where(seconds > 0, seconds, np.nan))
    model = response_times.fit_lognormal(log_t)
    timing = response_times.time_person_fit(log_t, model.beta, model.alpha)
    fitted = np.isfinite(model.beta).any()
    _family(
        out,
        "response_time",
        data,
        persons,
        timing.lt,
        np.where(enough, timing.p_value, np.nan),
        rules.level,
        person_evidence(
            lambda i: {
                "l_t": _dec(timing.lt[i], 2),
                "df": int(timing.df[i]) if np.isfinite(timing.df[i]) else 0,
                "speed": _dec(timing.tau[i], 3),
            },
            lambda i, j: {"z_time": _dec(timing.z[i, j], 2)},
        ),
        "" if fitted else "too few answers per item to fit the response-time model",
    )
    rapid = response_times.flag_rapid_guessing(seconds)
    _rapid_flags(out, data, rapid, enough, item_rows)

    # Preknowledge of the items the committee marked (Sinharay 2017, 2020).
    marked = np.array([item in rules.compromised for item in data.items], dtype=bool)
    if marked.any():
        pre = preknowledge.signed_lr(data.params, xs, marked, n_boot=rules.n_boot, rng=rng)
        pre_p = _refine(
            pre.p_value,
            rules,
            lambda rows, n_boot: (
                preknowledge.signed_lr(
                    data.params, xs[rows], marked, n_boot=n_boot, rng=rng
                ).p_value
            ),
        )
        mark_rows = lambda i, j: {"compromised": bool(marked[j])}  # noqa: E731
        _family(
            out,
            "preknowledge",
            data,
            persons,
            pre.statistic,
            pre_p,
            rules.level,
            person_evidence(
                lambda i: {
                    "l_s": _dec(pre.statistic[i]),
                    "theta_compromised": _dec(pre.estimate_ci[i], 3),
                    "theta_rest": _dec(pre.estimate_nci[i], 3),
                },
                mark_rows,
            ),
        )
        # Items without fitted time parameters (too few answers) take no part.
        timed = np.isfinite(model.beta) & np.isfinite(model.alpha)
        pre_t = preknowledge.signed_lr_times(
            np.where(timed, log_t, np.nan),
            np.where(timed, model.beta, 0.0),
            np.where(timed, model.alpha, 1.0),
            marked,
        )
        _family(
            out,
            "preknowledge_time",
            data,
            persons,
            pre_t.statistic,
            pre_t.p_value,
            rules.level,
            person_evidence(
                lambda i: {
                    "l_s": _dec(pre_t.statistic[i]),
                    "speed_compromised": _dec(pre_t.estimate_ci[i], 3),
                    "speed_rest": _dec(pre_t.estimate_nci[i], 3),
                },
                mark_rows,
            ),
        )

    _similarity(out, data, rules, theta, item_rows)


def _refine(p: np.ndarray, rules: ScreeningRules, bootstrap) -> np.ndarray:
    """Bootstrap p-values fine enough for the false-discovery control.

    With B replicates a p-value is at least 1/(B + 1), while a discovery among m tests at
    level q needs p ≤ q·k/m, down to q/m. The first pass (``rules.n_boot``) runs for
    everyone; the applicants it leaves below 2/(B + 1) are run again with about 2m/q
    replicates (at most 20,000), a cost paid only for the few that could be flagged."""
    p = np.array(p, dtype=float)
    m = int(np.isfinite(p).sum())
    rows = np.flatnonzero(np.isfinite(p) & (p <= 2.0 / (rules.n_boot + 1)))
    n_boot = min(int(np.ceil(2 * m / rules.level)), 20_000)
    if rows.size and n_boot > rules.n_boot:
        p[rows] = bootstrap(rows, n_boot)
    return p


def _expected(params: ItemParams, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The expected score share E[X]/K of each served item at the person's θ̂ (for a
    dichotomous item: the probability of a correct answer)."""
    out = np.full(x.shape, np.nan)
    rows, cols = np.nonzero((x >= 0) & np.isfinite(theta)[:, None])
    if rows.size:
        probs = category_probs_at(params, theta[rows], cols)
        top = params.n_categories[cols] - 1
        scores = np.arange(probs.shape[1])
        out[rows, cols] = (probs * scores).sum(1) / top
    return out


def _option(k: int) -> str:
    return OPTION_KEYS[k] if 0 <= k < len(OPTION_KEYS) else ""


def _rapid_flags(out: Screening, data: SectionAnswers, rapid, enough, item_rows) -> None:
    """Rapid guessing is a rule (RTE < 0.90), not a test: no false-discovery control."""
    flagged = 0
    for i in np.flatnonzero(enough & (rapid.rte < RTE_CRITERION)):
        evidence = {
            "rte": _dec(rapid.rte[i], 3),
            "rapid": int(rapid.n_rapid[i]),
            "classified": int(rapid.n_classified[i]),
            "answers": item_rows(i, lambda i, j: {"rapid": bool(rapid.rapid[i, j])}),
        }
        out.flags.append(
            Flag(
                "rapid_guessing",
                data.section,
                (data.persons[i],),
                float(rapid.rte[i]),
                float("nan"),
                float("nan"),
                evidence,
            )
        )
        flagged += 1
    tested = int((enough & (rapid.n_classified > 0)).sum())
    out.tested.append(Tested("rapid_guessing", data.section, tested, flagged))


def _similarity(out, data: SectionAnswers, rules: ScreeningRules, theta, item_rows) -> None:
    rooms = np.array([r if r else None for r in data.rooms], dtype=object)
    note = ""
    if all(r is None for r in rooms):
        # Without rooms the whole sitting is one session, while that stays tractable.
        rooms = np.array(["*"] * len(rooms), dtype=object)
        note = "no room or session recorded: every pair of the exam compared"
    usable = np.isfinite(theta)
    rooms = np.where(usable, rooms, None)
    pairs = similarity.pairs_within(rooms)
    if len(pairs) > MAX_PAIRS:
        out.tested.append(
            Tested(
                "similarity",
                data.section,
                0,
                0,
                f"{len(pairs)} pairs: record a room or session per applicant to compare pairs",
            )
        )
        return
    choices = np.asarray(data.choices, dtype=np.int64)
    probs = similarity.option_probabilities(
        data.params, np.nan_to_num(theta), choices, data.option_category
    )
    stats = similarity.pair_statistics(choices, probs, pairs, min_common=rules.min_common)

    def evidence(k: int) -> dict:
        a, b = (int(v) for v in pairs[k])
        common = np.flatnonzero((choices[a] >= 0) & (choices[b] >= 0))
        same = [int(j) for j in common if choices[a, j] == choices[b, j]]
        return {
            "room": str(data.rooms[a]),
            "common_items": int(stats.n_common[k]),
            "matches": int(stats.matches[k]),
            "expected_matches": _dec(stats.expected[k], 2),
            "omega": _dec(stats.omega[k], 3),
            "matching": [
                {
                    "item": data.items[j],
                    "choice": _option(int(choices[a, j])),
                    "correct": bool(data.option_category[j, choices[a, j]] > 0),
                }
                for j in same
            ],
        }

    _family(
        out,
        "similarity",
        data,
        [tuple(int(v) for v in p) for p in pairs],
        stats.matches.astype(float),
        stats.gbt_p,
        rules.level,
        evidence,
        note,
    )
