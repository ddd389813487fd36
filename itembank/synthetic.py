"""Synthetic banks for simulation studies, tests and benchmarks.

3PL parameters follow the distributions Barrada et al. (2010) used for simulated CAT
banks, as catsim's generator does: a ~ N(1.2, 0.25), b ~ N(0, 1), c ~ N(0.25, 0.02);
a is kept ≥ 0.3 and c in [0, 0.5). GPCM items for TKP-style sections have a ~ U(0.6, 1.4)
and four increasing steps around a N(0, 1) location.
"""

from __future__ import annotations

import numpy as np

from itembank.content import ItemContent, Option
from itembank.table import BankTable, make_table
from scoring.params import ItemParams, ItemSpec


def synthetic_3pl(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays a, b, c of ``n`` random 3PL items."""
    a = np.maximum(rng.normal(1.2, 0.25, n), 0.3)
    b = rng.normal(0.0, 1.0, n)
    c = np.clip(rng.normal(0.25, 0.02, n), 0.0, 0.49)
    return a, b, c


def synthetic_bank(
    n: int,
    seed: int = 0,
    domain: str = "TIU",
    topics: int = 4,
    enemy_pairs: int = 0,
    polytomous: bool = False,
    prefix: str | None = None,
) -> BankTable:
    """A bank of ``n`` items in one domain, topics assigned round-robin, with
    ``enemy_pairs`` random enemy pairs. ``polytomous`` makes GPCM (TKP-style) items."""
    rng = np.random.default_rng(seed)
    prefix = prefix or domain.lower()
    ids = [f"{prefix}{i:05d}" for i in range(n)]
    if polytomous:
        loc = rng.normal(0.0, 1.0, n)
        spread = np.sort(rng.normal(0.0, 0.8, (n, 4)), axis=1)
        a = rng.uniform(0.6, 1.4, n)
        specs = [
            ItemSpec(ids[i], "gpcm", float(a[i]), steps=tuple(float(s) for s in loc[i] + spread[i]))
            for i in range(n)
        ]
    else:
        a, b, c = synthetic_3pl(n, rng)
        specs = [ItemSpec(ids[i], "3pl", float(a[i]), float(b[i]), float(c[i])) for i in range(n)]
    params = ItemParams.from_specs(specs)
    topic_names = [f"T{t + 1}" for t in range(max(topics, 1))]
    item_topics = [topic_names[i % len(topic_names)] for i in range(n)]
    pairs: list[tuple[str, str]] = []
    if enemy_pairs:
        picks = rng.choice(n, size=(enemy_pairs, 2), replace=True)
        pairs = [(ids[i], ids[j]) for i, j in picks if i != j]
    return make_table(params, [domain] * n, item_topics, pairs)


def synthetic_items(
    n: int, seed: int = 0, domain: str = "TIU", topics: int = 4, polytomous: bool = False
) -> list[ItemContent]:
    """``n`` complete items (text, options, key or points, parameters) for import tests
    and benchmarks, with the parameters of ``synthetic_bank``."""
    table = synthetic_bank(n, seed, domain, topics, polytomous=polytomous)
    rng = np.random.default_rng(seed + 1)
    keys = "ABCDE"
    out = []
    for i in range(n):
        spec = table.params.spec(i)
        options = tuple(Option(k, f"Pilihan {k} untuk soal {spec.item_id}") for k in keys)
        stem = f"Soal sintetis {domain} nomor {i + 1}: pilih jawaban yang paling tepat."
        common = dict(
            item_id=spec.item_id,
            domain=domain,
            topic=table.topics[i],
            stem=stem,
            options=options,
            status="operational",
            model=spec.model,
            a=spec.a,
        )
        if polytomous:
            points = tuple(zip(keys, (int(p) for p in rng.permutation(5) + 1), strict=True))
            out.append(ItemContent(**common, points=points, steps=spec.steps))
        else:
            out.append(
                ItemContent(**common, correct=keys[int(rng.integers(5))], b=spec.b, c=spec.c)
            )
    return out
