"""Sympson–Hetter derivation: the cap r_max (+ the tolerance setting) or a clear refusal."""

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from exam.adapters.settings import Settings
from exam.cat import simulation
from exam.cat.blueprint import ExamConfig, SectionConfig
from exam.cat.plan import compile_section
from exam.cat.simulation import ExposureCapError, derive_sympson_hetter, with_exposure_parameters
from exam.cli import main
from exam.usecases.precheck import precheck
from itembank.synthetic import synthetic_bank


@pytest.fixture(scope="module")
def small_bank():
    return synthetic_bank(120, seed=3, domain="TIU", topics=1)


def test_a_cap_no_control_can_hold_is_refused_with_the_shortfall(small_bank):
    # 30 items per test from a pool of 120: the exposure rates add up to 30, a mean of 0.25.
    config = SectionConfig("TIU", "TIU", min_items=30, max_items=30)
    with pytest.raises(ExposureCapError) as caught:
        with_exposure_parameters(config, small_bank, seed=1, tolerance=0.0)
    message = str(caught.value)
    assert "cannot hold item exposure at r_max 0.2" in message
    assert "at least 30 items from a pool of 120" in message and "0.250" in message
    assert not caught.value.derivation.converged
    # The section with the best parameters found comes with the refusal, for a study.
    assert caught.value.config.exposure.derived
    # A tolerance that makes the cap reachable by counting lets the simulation try.
    plan = compile_section(config, small_bank)
    tried = derive_sympson_hetter(plan, examinees=200, iterations=1, seed=1, tolerance=0.1)
    assert tried.reason is None and tried.rounds == 1


def test_a_derivation_that_runs_out_of_rounds_says_by_how_much(small_bank):
    plan = compile_section(SectionConfig("TIU", "TIU", max_items=10), small_bank)
    result = derive_sympson_hetter(plan, examinees=400, iterations=2, seed=1)
    assert not result.converged and result.reason is None
    assert result.max_exposure > 0.2 and result.excess == pytest.approx(result.max_exposure - 0.2)
    assert result.items_over > 0
    text = result.describe("TIU")
    assert f"{result.excess:.3f} above" in text and f"{result.items_over} item(s) over" in text


def test_the_tolerance_setting_reaches_the_derivation(small_bank, monkeypatch):
    config = SectionConfig("TIU", "TIU", max_items=10)
    plan = compile_section(config, small_bank)
    strict = derive_sympson_hetter(plan, examinees=400, seed=1, tolerance=0.0)
    loose = derive_sympson_hetter(plan, examinees=400, seed=1, tolerance=0.15)
    assert strict.converged and loose.converged
    assert strict.max_exposure <= 0.2
    assert loose.cap == pytest.approx(0.35)
    assert loose.k.sum() > strict.k.sum()  # a higher cap restricts less
    assert loose.rounds < strict.rounds

    seen = []

    def spy(plan, **kwargs):
        seen.append(kwargs["tolerance"])
        return loose

    monkeypatch.setattr(simulation, "derive_sympson_hetter", spy)
    assert with_exposure_parameters(config, small_bank, tolerance=0.15).exposure.derived
    assert seen == [0.15]

    monkeypatch.setenv("SELEKSI_EXPOSURE_TOLERANCE", "0.15")
    assert Settings().exposure_tolerance == 0.15
    with pytest.raises(ValidationError):
        Settings(exposure_tolerance=-0.01)


def test_the_committees_check_lists_a_cap_it_cannot_hold(small_bank):
    exam = ExamConfig("UJI", "Uji", (SectionConfig("TIU", "TIU", min_items=30, max_items=30),), 600)
    check = precheck(exam, small_bank, examinees=50)
    assert not check.feasible
    assert any("cannot hold item exposure at r_max 0.2" in p for p in check.problems)
    assert check.sections and check.sections[0].summary["examinees"] == 50


def test_cli_simulate_says_the_cap_cannot_hold_and_studies_the_best_parameters():
    args = ["simulate", "--synthetic", "40", "--max-items", "15", "--min-items", "15"]
    result = CliRunner().invoke(main, [*args, "--examinees", "20", "--timed", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert "cannot hold item exposure at r_max 0.2" in result.stderr
    assert "the study uses the best parameters found" in result.stderr
    assert '"examinees": 20' in result.stdout
