"""Simulated exam sections with planted irregularities, to validate the screening: how
often it flags the planted applicants (power) and how often an honest one (false positives).

The honest response process:

- Answers follow the 3PL model (Birnbaum 1968) at θ ~ N(0, 1); a wrong answer picks a
  distractor with the item's own distractor popularity.
- Response times follow van der Linden's (2006) lognormal model,
  ln t = β_i − τ_j + ε / α_i, with τ ~ N(0, 0.3²).
- Each applicant is served ``length`` of the pool's items, drawn with weights
  exp(−(b_i − θ)²/2): an adaptive test's tendency to serve items near one's ability,
  in a random order.
- Applicants sit in rooms of ``room_size``.

Planted (each ``planted`` applicants or pairs):

- **preknowledge**: low-ability applicants (θ ~ N(−1, 0.5²)) who know the answers to the
  compromised items (a share of the pool) — correct with probability 0.95, in half the
  usual time.
- **copying**: a copier is served the neighbour's items and copies the neighbour's option
  on half of them (``copy_share``).
- **rapid guessing**: on half of the items, a random option within 1–3 s.
- **stand-in**: from the middle of the test on, someone of θ = 2.5 answers (a joki taking
  over).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proctoring.screening import SectionAnswers
from proctoring.similarity import key_categories
from scoring.irt import category_probs_at
from scoring.params import ItemParams

N_OPTIONS = 5
PLANTS = ("preknowledge", "copying", "rapid_guessing", "stand_in")


@dataclass(frozen=True, eq=False)
class Simulated:
    """A simulated section, the pseudonyms planted with each irregularity (copiers only
    for copying), and the compromised items."""

    data: SectionAnswers
    planted: dict[str, tuple[str, ...]]
    compromised: frozenset[str]


def simulate_section(
    rng: np.random.Generator,
    persons: int = 400,
    pool: int = 90,
    length: int = 30,
    room_size: int = 40,
    planted: int = 0,
    compromised_share: float = 0.2,
    copy_share: float = 0.5,
) -> Simulated:
    """One section of ``persons`` applicants; ``planted`` of each kind (0: all honest)."""
    a = rng.uniform(0.8, 2.0, pool)
    b = rng.normal(0.0, 1.0, pool)
    c = rng.uniform(0.1, 0.25, pool)
    params = ItemParams.three_pl(a, b, c)
    keys = rng.integers(0, N_OPTIONS, pool)
    popularity = rng.dirichlet(np.full(N_OPTIONS - 1, 2.0), pool)
    beta = rng.normal(4.0, 0.3, pool)
    alpha = rng.uniform(1.5, 2.5, pool)
    theta = rng.normal(0.0, 1.0, persons)
    tau = rng.normal(0.0, 0.3, persons)
    ids = params.ids
    compromised = np.zeros(pool, dtype=bool)
    compromised[rng.choice(pool, round(compromised_share * pool), replace=False)] = True

    kinds = np.full(persons, "", dtype=object)
    order = rng.permutation(persons)
    for k, kind in enumerate(PLANTS):
        kinds[order[k * planted : (k + 1) * planted]] = kind
    theta[kinds == "preknowledge"] = rng.normal(-1.0, 0.5, (kinds == "preknowledge").sum())

    served = np.zeros((persons, length), dtype=np.int64)
    for j in range(persons):
        w = np.exp(-0.5 * (b - theta[j]) ** 2)
        served[j] = rng.choice(pool, length, replace=False, p=w / w.sum())
    rooms = np.arange(persons) // room_size
    sources = {}
    for j in np.flatnonzero(kinds == "copying"):
        mates = np.flatnonzero((rooms == rooms[j]) & (kinds == ""))
        sources[j] = int(rng.choice(mates))
        served[j] = served[sources[j]]

    responses = np.full((persons, pool), -1, dtype=np.int64)
    choices = np.full((persons, pool), -1, dtype=np.int64)
    seconds = np.full((persons, pool), np.nan)
    positions = np.full((persons, pool), -1, dtype=np.int64)
    honest_first = sorted(range(persons), key=lambda j: kinds[j] == "copying")
    for j in honest_first:
        items = served[j]
        ability = np.full(length, theta[j])
        if kinds[j] == "stand_in":
            ability[length // 2 :] = 2.5
        p = category_probs_at(params, ability, items)[:, 1]
        right = rng.random(length) < p
        log_t = beta[items] - tau[j] + rng.normal(0.0, 1.0, length) / alpha[items]
        if kinds[j] == "preknowledge":
            known = compromised[items]
            right[known] = rng.random(known.sum()) < 0.95
            log_t[known] -= np.log(2.0)
        choice = np.where(right, keys[items], _distractor(rng, keys[items], popularity[items]))
        t = np.exp(log_t)
        if kinds[j] == "rapid_guessing":
            quick = rng.random(length) < 0.5
            choice[quick] = rng.integers(0, N_OPTIONS, quick.sum())
            t[quick] = rng.uniform(1.0, 3.0, quick.sum())
        if kinds[j] == "copying":
            copied = rng.random(length) < copy_share
            choice[copied] = choices[sources[j], items[copied]]
        responses[j, items] = (choice == keys[items]).astype(np.int64)
        choices[j, items] = choice
        seconds[j, items] = t
        positions[j, items] = rng.permutation(length)

    names = tuple(f"S{j:05d}" for j in range(persons))
    data = SectionAnswers(
        section="SIM",
        persons=names,
        items=ids,
        params=params,
        responses=responses,
        choices=choices,
        option_category=key_categories(keys, N_OPTIONS),
        seconds=seconds,
        positions=positions,
        rooms=tuple(f"R{r}" for r in rooms),
    )
    plants = {kind: tuple(names[j] for j in np.flatnonzero(kinds == kind)) for kind in PLANTS}
    return Simulated(data, plants, frozenset(ids[i] for i in np.flatnonzero(compromised)))


def _distractor(rng: np.random.Generator, keys: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """A wrong option per item, by the item's distractor popularity."""
    picks = np.array([rng.choice(N_OPTIONS - 1, p=w) for w in popularity])
    return picks + (picks >= keys)
