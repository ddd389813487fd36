"""The shipped Indonesian demo bank is complete, valid and usable by the engine."""

from collections import Counter
from pathlib import Path

import numpy as np

import itembank
from exam.cat.blueprint import ContentRule, ExposureConfig, SectionConfig
from exam.cat.feasibility import section_problems
from exam.cat.plan import compile_section
from itembank.repository import bank_table
from itembank.transfer import read_bank_file

DEMO = Path(itembank.__file__).parent / "demo_bank.json"


def demo_items():
    return [item for item, _, _ in read_bank_file(DEMO)]


def test_demo_bank_has_forty_items_per_section_and_reads_cleanly():
    items = demo_items()
    per_domain = Counter(i.domain for i in items)
    assert all(per_domain[d] >= 40 for d in ("TWK", "TIU", "TKP")), per_domain
    tkp = [i for i in items if i.domain == "TKP"]
    assert all(sorted(p for _, p in i.points) == [1, 2, 3, 4, 5] for i in tkp)
    assert all(i.model == "gpcm" and len(i.steps) == 4 for i in tkp)
    keyed = [i for i in items if i.domain != "TKP"]
    assert all(i.correct in "ABCDE" and i.model == "3pl" for i in keyed)
    assert all(0.5 <= i.a <= 2.5 and -3 <= i.b <= 3 and 0 <= i.c <= 0.3 for i in keyed)
    assert Counter(i.correct for i in keyed).most_common(1)[0][1] < len(keyed) / 3
    assert any(i.enemies for i in items)


def test_demo_bank_supports_a_cat_bkn_style_exam():
    table = bank_table([i for i in demo_items() if i.status == "operational"], 5)
    twk = SectionConfig(
        "TWK",
        "TWK",
        kind="fixed",
        max_items=30,
        content=tuple(
            ContentRule(t, 5, 7)
            for t in (
                "nasionalisme",
                "integritas",
                "bela_negara",
                "pilar_negara",
                "bahasa_indonesia",
            )
        ),
    )
    tiu = SectionConfig("TIU", "TIU", max_items=20, exposure=ExposureConfig("randomesque"))
    tkp = SectionConfig("TKP", "TKP", kind="fixed", max_items=30)
    for config in (twk, tiu, tkp):
        plan = compile_section(config, table)
        assert section_problems(plan) == []
    # TKP points span 1–5 per item: a 30-item form scores 30 to 150.
    plan = compile_section(tkp, table)
    assert np.nanmin(plan.points) == 1 and np.nanmax(plan.points) == 5
