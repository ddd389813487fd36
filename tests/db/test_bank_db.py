"""The item bank in SQLite and PostgreSQL: all-or-nothing import, versions, round trips."""

import dataclasses

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from exam.adapters.settings import get_settings
from exam.cat import engine as cat
from exam.cat.blueprint import ExposureConfig, SectionConfig
from exam.cat.plan import compile_section
from exam.cli import main
from itembank import repository
from itembank.content import BankInputError
from itembank.models import DifFinding, Item, ItemEnemy, ItemVersion
from itembank.transfer import read_bank_file, write_bank
from tests.unit.test_bank_formats import sample_items


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def do_import(session_maker, located):
    with session_maker() as session, session.begin():
        return repository.import_items(session, located)


def located(items):
    return [(i, "test", None) for i in items]


def test_import_is_idempotent_by_content_hash(session_maker):
    first = do_import(session_maker, located(sample_items()))
    assert sorted(first.created) == ["TIU-001", "TKP-001", "TWK-001", "TWK-002"]
    assert first.enemy_pairs_added == 1
    again = do_import(session_maker, located(sample_items()))
    assert again.created == again.new_versions == [] and len(again.unchanged) == 4
    with session_maker() as session:
        assert count(session, ItemVersion) == 4 and count(session, ItemEnemy) == 1


def test_an_edit_is_a_new_version_and_the_old_one_stays(session_maker):
    do_import(session_maker, located(sample_items()))
    edited = [dataclasses.replace(sample_items()[0], stem="Sila kesatu Pancasila adalah …")]
    report = do_import(session_maker, located(edited))
    assert report.new_versions == ["TWK-001"]
    with session_maker() as session:
        item = session.get(Item, "TWK-001")
        assert item.current_version == 2
        assert [v.stem for v in item.versions] == [
            "Sila pertama Pancasila adalah …",
            "Sila kesatu Pancasila adalah …",
        ]
        assert item.versions[0].content_hash != item.versions[1].content_hash
    # A status change alone is not a new version.
    retired = [dataclasses.replace(edited[0], status="retired")]
    report = do_import(session_maker, located(retired))
    assert report.status_changed == ["TWK-001"] and report.new_versions == []


def test_a_conflict_imports_nothing(session_maker):
    do_import(session_maker, located(sample_items()[3:]))
    moved = dataclasses.replace(sample_items()[3], domain="TWK")
    fresh = dataclasses.replace(sample_items()[3], item_id="TIU-777")
    with pytest.raises(BankInputError, match="a domain cannot change"):
        do_import(session_maker, located([fresh, moved]))
    with pytest.raises(BankInputError, match="unknown item TWK-002"):
        do_import(session_maker, located([fresh, sample_items()[0]]))
    with session_maker() as session:
        assert count(session, Item) == 1  # TIU-777 was rolled back with the rest
        assert session.get(Item, "TIU-001").domain == "TIU"


@pytest.mark.parametrize("suffix", [".csv", ".json", ".zip"])
def test_export_then_import_elsewhere_round_trips(session_maker, tmp_path, suffix):
    do_import(session_maker, located(sample_items()))
    with session_maker() as session:
        exported = repository.current_items(session)
    path = tmp_path / f"bank{suffix}"
    write_bank(exported, path)
    back = [item for item, _, _ in read_bank_file(path)]
    assert {i.item_id: i for i in back} == {i.item_id: i for i in exported}
    assert {i.item_id: set(i.enemies) for i in back} == {
        i.item_id: set(i.enemies) for i in exported
    }
    # Importing the export back changes nothing.
    report = do_import(session_maker, [(i, "x", None) for i in back])
    assert len(report.unchanged) == 4


def test_bank_table_feeds_the_engine(session_maker):
    do_import(session_maker, located(sample_items()))
    with session_maker() as session:
        items = repository.current_items(session, statuses=["operational", "pilot"])
    table = repository.bank_table(items, 5)
    assert table.params.ids == ("TKP-001", "TWK-001", "TWK-002")
    assert table.points[0].tolist() == [1, 2, 3, 4, 5]
    assert table.enemy_sets == (frozenset({"TWK-001", "TWK-002"}),)
    plan = compile_section(
        SectionConfig("TWK", "TWK", max_items=1, exposure=ExposureConfig("none")), table
    )
    st = cat.start(plan, b"seed", "P")
    first = cat.decide(plan, st, b"seed", "P")
    assert first.item_id in ("TWK-001", "TWK-002")


def test_cli_import_of_a_broken_file_exits_2_and_imports_nothing(
    settings, tmp_path, monkeypatch, session_maker
):
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    good = tmp_path / "good.json"
    write_bank(sample_items(), good)
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text().replace('"correct": "C"', '"correct": "Z"'))
    runner = CliRunner()
    result = runner.invoke(main, ["bank", "import", str(bad)])
    assert result.exit_code == 2
    assert "bad.json:items[3]: correct: 'Z' is not one of the options" in result.output
    assert "nothing was imported" in result.output
    with session_maker() as session:
        assert count(session, Item) == 0
    result = runner.invoke(main, ["bank", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "4 new" in result.output
    out = tmp_path / "out.zip"
    assert runner.invoke(main, ["bank", "export", str(out), "--domain", "TWK"]).exit_code == 0
    assert len(read_bank_file(out)) == 2
    get_settings.cache_clear()


def test_a_class_c_item_needs_a_committee_decision(session_maker):
    from scoring.dif import DifResult

    do_import(session_maker, located(sample_items()))
    results = [
        DifResult("TWK-001", 4.9, -3.7, 1e-9, "C"),
        DifResult("TWK-002", 1.1, -0.2, 0.4, "A"),
        DifResult("NOT-IN-BANK", 1.0, 0.0, 1.0, "A"),
    ]
    with session_maker() as session, session.begin():
        stored = repository.record_dif(session, results, "gender", "P", "test.csv")
        assert [f.item_id for f in stored] == ["TWK-001", "TWK-002"]
    with session_maker() as session, session.begin():
        blockers = repository.unresolved_dif(session, ["TWK-001", "TWK-002"])
        assert [f.item_id for f in blockers] == ["TWK-001"]
        with pytest.raises(ValueError, match="needs a note"):
            repository.decide_dif(session, blockers[0].id, "keep", "  ", "komite")
        repository.decide_dif(
            session, blockers[0].id, "keep", "Reviewed: the content is fair; keep it.", "komite"
        )
    with session_maker() as session, session.begin():
        assert repository.unresolved_dif(session) == []
        finding = session.scalars(select(DifFinding).where(DifFinding.item_id == "TWK-001")).one()
        assert finding.decided_by == "komite" and finding.decision == "keep"
    # A new version of the item makes the old decision moot (and the old finding too).
    edited = [dataclasses.replace(sample_items()[0], stem="Teks baru")]
    do_import(session_maker, located(edited))
    with session_maker() as session:
        assert repository.unresolved_dif(session) == []


def test_retiring_on_dif_retires_the_item(session_maker):
    from scoring.dif import DifResult

    do_import(session_maker, located(sample_items()))
    with session_maker() as session, session.begin():
        [finding] = repository.record_dif(
            session, [DifResult("TWK-002", 5, -3.8, 1e-9, "C")], "region", "Papua", "x"
        )
        repository.decide_dif(session, finding.id, "retire", "Unfair wording.", "komite")
    with session_maker() as session:
        assert session.get(Item, "TWK-002").status == "retired"


@pytest.mark.parametrize(
    "change,expected",
    [
        (("Sila", "Si\\u0000la"), "bank.json:items[0].stem: contains a NUL character"),
        (("Sila", "Si\\ud800la"), "bank.json:items[0].stem: contains invalid Unicode"),
        (("Sila", "x" * 20_000_000), "bank.json:items[0]: stem: 20,000,0"),
    ],
    ids=["nul", "surrogate", "20 MB stem"],
)
def test_cli_import_refuses_unfit_text_and_imports_nothing(
    settings, tmp_path, monkeypatch, session_maker, change, expected
):
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    path = tmp_path / "bank.json"
    write_bank(sample_items(), path)
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    result = CliRunner().invoke(main, ["bank", "import", str(path)])
    get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert expected in result.output and "nothing was imported" in result.output
    with session_maker() as session:
        assert count(session, Item) == 0


def test_cli_bank_params_names_the_files_ability_scale(
    settings, tmp_path, monkeypatch, session_maker
):
    """Items take the parameters; the Rasch scale they are on is named, with the prior
    the adaptive sections on them should commit."""
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("SELEKSI_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    do_import(session_maker, located(sample_items()))
    path = tmp_path / "params.csv"
    path.write_text("item_id,model,a,b,c,ability_mean,ability_sd\nTIU-001,rasch,1,0.4,,0,1.8\n")
    result = CliRunner().invoke(main, ["bank", "params", str(path)])
    assert result.exit_code == 0, result.output
    assert "ability scale N(0, 1.8²)" in result.output
    assert "prior mean 0 and prior SD 1.8" in result.output
    with session_maker() as session:
        version = session.scalar(
            select(ItemVersion)
            .where(ItemVersion.item_id == "TIU-001")
            .order_by(ItemVersion.version.desc())
        )
        assert (version.model, version.b) == ("rasch", 0.4)
