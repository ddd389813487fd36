"""Analyses on an exam's recorded answers: the response matrix, DIF and calibration from the
database, and new parameters for bank items."""

from datetime import timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from exam.adapters.models import User
from exam.adapters.runtime import runtime
from exam.adapters.settings import get_settings
from exam.cli import main
from exam.usecases import delivery
from exam.usecases.data import exam_data
from itembank import repository
from itembank.content import BankInputError
from scoring.params import ItemParams, ItemSpec
from tests.db.test_delivery import T0, answer_all, opened  # noqa: F401


@pytest.fixture
def taken(session_maker, opened):  # noqa: F811
    """Thirty applicants take the test exam; each answers right with probability 0.6."""
    exam_id, first_enrollment, _ = opened
    rng = np.random.default_rng(4)
    with session_maker() as session, session.begin():
        exam = session.get(delivery.Exam, exam_id)
        items = runtime(exam).items
        ids = []
        for k in range(29):
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

    def choose(view):
        item = items[view.item.item_id]
        if item.correct and rng.random() < 0.6:
            return item.correct
        return "ABCDE"[int(rng.integers(len(view.item.options)))]

    for enrollment in [first_enrollment, *ids]:
        answer_all(
            session_maker, exam_id, enrollment, choose=choose, start=T0 + timedelta(minutes=1)
        )
    return exam_id


def test_exam_data_matrix(session_maker, taken):
    with session_maker() as session:
        data = exam_data(session, "UJI")
    assert len(data.persons) == 30 and all(p.startswith("P") for p in data.persons)
    assert data.matrix.shape == (30, len(data.items))
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
    from exam.usecases.data import item_usage_statistics

    with session_maker() as session:
        data = exam_data(session, "UJI")
        operational = [i for i in data.items if i not in data.pilots]
        seen = max(operational, key=lambda i: (data.matrix[:, data.items.index(i)] >= 0).sum())
        stats = item_usage_statistics(session, seen)
        column = data.matrix[:, data.items.index(seen)]
        given = column[column >= 0]
        assert stats.n == given.size and stats.exposure == pytest.approx(given.size / 30)
        top = 4 if seen.startswith("TKP") else 1
        assert stats.p_value == pytest.approx(given.mean() / top)
        assert item_usage_statistics(session, "NEVER-SEEN") is None


def test_pilots_calibrate_from_an_exam_onto_its_scale(
    settings, session_maker, taken, monkeypatch, tmp_path
):
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    out = tmp_path / "pilots.csv"
    res = CliRunner().invoke(
        main, ["calibrate", "--exam", "UJI", "--model", "rasch", "--pilots", "--out", str(out)]
    )
    get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    from scoring.files import read_params_csv

    params = read_params_csv(out)
    with session_maker() as session:
        data = exam_data(session, "UJI")
    assert set(params.ids) == data.pilots and all(m == "rasch" for m in params.models)
    assert np.all(np.abs(params.b) < 6)


def test_opening_is_refused_while_a_class_c_item_awaits_a_decision(session_maker):
    from pathlib import Path

    import itembank
    from itembank.transfer import read_bank_file
    from scoring.dif import DifResult
    from tests.db.test_delivery import demo_config

    with session_maker() as session, session.begin():
        repository.import_items(
            session, read_bank_file(Path(itembank.__file__).parent / "demo_bank.json")
        )
        repository.record_dif(
            session, [DifResult("TWK-005", 5.0, -3.8, 1e-9, "C")], "gender", "P", "test"
        )
        exam = delivery.new_exam(session, demo_config())
        with pytest.raises(delivery.DeliveryError, match="TWK-005: DIF class C"):
            delivery.open_exam(session, exam, T0)
        [finding] = repository.unresolved_dif(session)
        repository.decide_dif(session, finding.id, "keep", "Reviewed; wording is neutral.", "k")
        committed = delivery.open_exam(session, exam, T0)
    assert committed.index >= 0
