"""Unscored pilot items embedded in an operational section.

New items collect responses from real applicants before they count: a section carries a
pool of pilot items and a rate; each attempt gets round(rate × max_items) of them at
positions drawn from the exam seed. A pilot answer is recorded but never enters the
ability estimate, the stopping rule or the score, so it cannot harm an applicant; and
because the operational steps draw their own random numbers, pilots change nothing of
the operational part of an attempt. Applicants cannot tell pilots apart (Wainer &
Mislevy 2000, in Wainer et al., *Computerized Adaptive Testing: A Primer*, ch. 4).
"""

from __future__ import annotations

import numpy as np

from exam.cat import randomness
from exam.cat.blueprint import SectionConfig


def pilot_count(config: SectionConfig) -> int:
    """Pilot items per attempt."""
    return min(round(config.pilot_rate * config.max_items), len(config.pilot_items))


def pilot_schedule(
    config: SectionConfig, seed: bytes, pseudonym: str, excluded: set[str] = frozenset()
) -> tuple[list[int], list[int]]:
    """Which pilots an attempt gets (indices into ``config.pilot_items``) and before which
    operational step each is served (1 … max_items − 1), in serving order."""
    pool = [i for i, item in enumerate(config.pilot_items) if item not in excluded]
    count = min(pilot_count(config), len(pool), max(config.max_items - 1, 0))
    if count == 0:
        return [], []
    u_item = randomness.uniforms(seed, pseudonym, config.name, 0, "pilot-item", len(pool))
    chosen = [pool[j] for j in np.lexsort((np.arange(len(pool)), u_item))[:count]]
    slots = np.arange(1, config.max_items)
    u_slot = randomness.uniforms(seed, pseudonym, config.name, 0, "pilot-slot", slots.size)
    where = sorted(int(s) for s in slots[np.lexsort((slots, u_slot))[:count]])
    return chosen, where
