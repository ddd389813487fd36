"""Analyses on an exam's recorded answers: the response matrix, DIF and calibration from the
database, and new parameters for bank items."""

from datetime import timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from exam import delivery
from exam.cli import main
from exam.data import exam_data
from exam.models import User
from exam.settings import get_settings
from itembank import repository
from itembank.content import BankInputError
from scoring.params import ItemParams, ItemSpec
from tests.db.test_delivery import T0, answer_all, opened  # noqa: F401


@pytest.fixture
def taken(session_maker, opened):  # noqa: F811
    """Twelve applicants take the test exam, answering at random."""
    exam_id, first_enrollment, _ = opened
    rng = np.random.default_rng(4)
    with session_maker() as session, session.begin():
        exam = session.get(delivery.Exam, exam_id)
        ids = []
        for k in range(11):
            user = User(username=f"p{k}", password_hash="x", role="applicant")
            session.add(user)
            session.flush()
            ids.append(
                delivery.enroll(
                    session,
                    exam,
                    user.id,
                    f"R{k}",
                    f"N{k}",
                    attributes={"gender": "P" if k % 2 else "L"},
                ).id
            )
    for enrollment in [first_enrollment, *ids]:
        answer_all(
            session_maker,
            exam_id,
            enrollment,
            choose=lambda v: "ABCDE"[int(rng.integers(len(v.item.options)))],
            start=T0 + timedelta(minutes=1),
        )
    return exam_id


def test_exam_data_matrix(session_maker, taken):
    with session_maker() as session:
        data = exam_data(session, "UJI")
    assert len(data.persons) == 12 and all(p.startswith("P") for p in data.persons)
    assert data.matrix.shape == (12, len(data.items))
    assert ((data.matrix >= 0).sum(1) == 26).all()  # every applicant answered 26 items
    assert data.pilots and data.pilots <= set(data.items)
    assert {a.get("gender") for a in data.attributes} == {"P", "L"}


def test_cli_dif_and_calibrate_from_an_exam(settings, session_maker, taken, monkeypatch):
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    dif = runner.invoke(main, ["dif", "--exam", "UJI", "--attribute", "gender", "--focal", "P"])
    assert dif.exit_code == 0, dif.output
    assert dif.output.startswith("item_id,mh_odds_ratio,mh_d_dif,p_value,ets_class")
    missing = runner.invoke(main, ["dif", "--exam", "UJI", "--focal", "P"])
    assert missing.exit_code == 2 and "--attribute" in missing.output
    nope = runner.invoke(main, ["calibrate", "--exam", "NOPE", "--model", "2pl"])
    assert nope.exit_code == 2 and "no exam NOPE" in nope.output
    get_settings.cache_clear()


def test_calibrated_parameters_become_new_versions(session_maker, opened):  # noqa: F811
    new = ItemParams.from_specs([ItemSpec("TWK-001", "3pl", 1.5, 0.25, 0.2)])
    with session_maker() as session, session.begin():
        report = repository.apply_parameters(session, new, "pilots.csv")
        assert report.new_versions == ["TWK-001"]
    with session_maker() as session, session.begin():
        [item] = [i for i in repository.current_items(session) if i.item_id == "TWK-001"]
        assert (item.a, item.b) == (1.5, 0.25)
        with pytest.raises(BankInputError, match="not in the bank: XX"):
            repository.apply_parameters(
                session, ItemParams.from_specs([ItemSpec("XX", "2pl", 1.0, 0.0)]), "x.csv"
            )
        with pytest.raises(BankInputError, match="keyed item needs"):
            repository.apply_parameters(
                session,
                ItemParams.from_specs([ItemSpec("TWK-001", "gpcm", 1.0, steps=(0.0,))]),
                "x.csv",
            )


def test_item_statistics_from_the_answers(session_maker, taken):
    from exam.data import item_usage_statistics

    with session_maker() as session:
        data = exam_data(session, "UJI")
        operational = [i for i in data.items if i not in data.pilots]
        seen = max(operational, key=lambda i: (data.matrix[:, data.items.index(i)] >= 0).sum())
        stats = item_usage_statistics(session, seen)
        column = data.matrix[:, data.items.index(seen)]
        given = column[column >= 0]
        assert stats.n == given.size and stats.exposure == pytest.approx(given.size / 12)
        top = 4 if seen.startswith("TKP") else 1
        assert stats.p_value == pytest.approx(given.mean() / top)
        assert item_usage_statistics(session, "NEVER-SEEN") is None
