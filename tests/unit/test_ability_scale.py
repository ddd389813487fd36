"""The Rasch ability scale: calibration writes N(mean, sd²) into the parameters file, and
scoring, simulation and the engine use it as the prior (committed with the definition)."""

import csv
import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from exam.cat import engine
from exam.cat.blueprint import ExposureConfig, SectionConfig, section_from_dict
from exam.cat.plan import compile_section
from exam.cat.replay import replay_section
from exam.cli import main
from itembank.calibration import calibrate
from itembank.table import make_table
from scoring.ability import AbilityScale, estimate, prior_quadrature
from scoring.files import InputError, read_params_csv, read_params_file, write_params_csv
from scoring.irt import category_probs
from scoring.params import ItemParams, ItemSpec

TRUE_SD = 1.8
N_ITEMS = 20


def rasch_items() -> ItemParams:
    b = np.linspace(-3.0, 3.0, N_ITEMS)
    return ItemParams.from_specs(ItemSpec(f"r{i:02d}", "rasch", 1.0, b[i]) for i in range(N_ITEMS))


def responses(params: ItemParams, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p1 = category_probs(params, theta)[..., 1]
    return (rng.random(p1.shape) < p1).astype(np.int64)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A Rasch calibration of 2,000 persons with θ ~ N(0, 1.8²), written to a file."""
    rng = np.random.default_rng(2024)
    x = responses(rasch_items(), rng.normal(0.0, TRUE_SD, 2000), rng)
    result = calibrate(x, list(rasch_items().ids), "rasch", progress=None)
    path = tmp_path_factory.mktemp("rasch") / "params.csv"
    result.write_params_csv(path)
    return path, result


def test_the_rasch_parameters_file_carries_the_ability_scale(calibrated):
    path, result = calibrated
    header = path.read_text().splitlines()[0].split(",")
    assert header[-2:] == ["ability_mean", "ability_sd"]
    params, scale = read_params_file(path)
    assert scale == AbilityScale(0.0, result.ability_sd)
    assert abs(scale.sd - TRUE_SD) <= 0.1
    assert params.ids == result.params.ids
    np.testing.assert_array_equal(read_params_csv(path).b, result.params.b)


def test_the_written_prior_scores_better_than_the_standard_normal(calibrated):
    """New persons from N(0, 1.8²): EAP with the file's prior has the lower RMSE and far
    less shrinkage at the top."""
    path, _ = calibrated
    params, scale = read_params_file(path)
    rng = np.random.default_rng(99)
    theta = rng.normal(0.0, TRUE_SD, 4000)
    x = responses(params, theta, rng)
    with_scale = np.array([e.theta for e in estimate(params, x, "eap", scale.quadrature())])
    standard = np.array([e.theta for e in estimate(params, x, "eap")])
    rmse = {
        k: float(np.sqrt(np.mean((v - theta) ** 2)))
        for k, v in (("scale", with_scale), ("standard", standard))
    }
    top = theta >= np.quantile(theta, 0.9)
    bias = {
        "scale": float(np.mean(with_scale[top] - theta[top])),
        "standard": float(np.mean(standard[top] - theta[top])),
    }
    assert rmse["scale"] < rmse["standard"] - 0.05
    assert bias["standard"] < -0.6 and abs(bias["scale"]) < abs(bias["standard"]) / 2


@pytest.mark.parametrize(
    "extra,row_extra,message",
    [
        (",ability_mean", ",0", "ability_sd: missing column"),
        (",ability_mean,ability_sd", ",0,", "ability_sd: empty, but the other"),
        (",ability_mean,ability_sd", ",0,0", "ability_sd: '0' is not > 0"),
        (",ability_mean,ability_sd", ",0,x", "ability_sd: 'x' is not a number"),
    ],
)
def test_bad_ability_columns_name_line_and_field(tmp_path, extra, row_extra, message):
    path = tmp_path / "p.csv"
    path.write_text(f"item_id,model,a,b,c{extra}\nq1,rasch,1,0,{row_extra}\n")
    with pytest.raises(InputError, match=message) as caught:
        read_params_file(path)
    assert caught.value.line in (1, 2)


def test_the_scale_is_one_value_for_the_whole_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "item_id,model,a,b,c,ability_mean,ability_sd\n"
        "q1,rasch,1,0,,0,1.8\nq2,rasch,1,1,,,\nq3,rasch,1,2,,0,1.7\n"
    )
    with pytest.raises(InputError) as caught:
        read_params_file(path)
    assert (caught.value.line, caught.value.field) == (4, "ability_sd")
    assert "differs from line 2" in str(caught.value)
    path.write_text(
        "item_id,model,a,b,c,ability_mean,ability_sd\nq1,rasch,1,0,,0.5,1.8\nq2,rasch,1,1,,,\n"
    )
    assert read_params_file(path)[1] == AbilityScale(0.5, 1.8)


def test_files_without_the_columns_read_as_before(tmp_path):
    params = rasch_items()
    path = tmp_path / "p.csv"
    write_params_csv(params, path)
    assert "ability" not in path.read_text()
    back, scale = read_params_file(path)
    assert scale is None and back.ids == params.ids
    write_params_csv(params, path, AbilityScale(0.25, 1.5))
    assert read_params_file(path)[1] == AbilityScale(0.25, 1.5)


def test_the_engine_prior_widens_the_grid_only_beyond_sd_one():
    default = prior_quadrature()
    assert len(default.points) == 121 and default.lo == -6.0
    np.testing.assert_array_equal(prior_quadrature(0.5, 1.0).points, default.points)
    wide = prior_quadrature(0.0, TRUE_SD)
    assert wide.lo == pytest.approx(-10.8) and wide.hi == pytest.approx(10.8)
    assert np.diff(wide.points) == pytest.approx(0.1)


def test_the_committed_prior_replays_the_attempt():
    """A section's prior is part of its definition: the definition read back from its
    committed dict form replays an attempt to the same thetas, and another prior would
    not."""
    params = rasch_items()
    bank = make_table(params, ["TIU"] * N_ITEMS, ["*"] * N_ITEMS)
    config = SectionConfig(
        "TIU", "TIU", max_items=8, exposure=ExposureConfig("none"), prior_sd=TRUE_SD
    )
    plan = compile_section(config, bank)
    seed, name = bytes(32), "peserta"
    st = engine.start(plan, seed, name)
    answers = [1, 1, 1, 0, 1, 1, 1, 1]
    for r in answers:
        st = engine.answer(plan, st, engine.decide(plan, st, seed, name).item, r)
    committed = section_from_dict(dataclasses.asdict(config))
    assert committed.prior_sd == TRUE_SD
    replayed = replay_section(compile_section(committed, bank), seed, name, answers)
    assert replayed.result.theta == pytest.approx(float(st.theta[0]), abs=0)
    standard = replay_section(
        compile_section(dataclasses.replace(committed, prior_sd=1.0), bank), seed, name, answers
    )
    assert replayed.result.theta > standard.result.theta + 0.2


def test_cli_calibrate_then_score_uses_the_written_prior(tmp_path):
    rng = np.random.default_rng(5)
    params = rasch_items()
    theta = rng.normal(0.0, TRUE_SD, 1500)
    x = responses(params, theta, rng)
    data = tmp_path / "responses.csv"
    with data.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["person_id", *params.ids])
        out.writerows([f"p{i}", *row] for i, row in enumerate(x.tolist()))
    written = tmp_path / "params.csv"
    runner = CliRunner()
    result = runner.invoke(
        main, ["calibrate", str(data), "--model", "rasch", "--out", str(written)]
    )
    assert result.exit_code == 0, result.output
    assert "ability_mean, ability_sd" in result.output
    assert "in the exam builder, give each adaptive section on these items prior mean" in (
        result.output
    )
    _, scale = read_params_file(written)
    assert abs(scale.sd - TRUE_SD) < 0.15

    def scores(params_file):
        out = tmp_path / "scores.csv"
        run = runner.invoke(
            main, ["score", str(data), "--params", str(params_file), "--out", str(out)]
        )
        assert run.exit_code == 0, run.output
        return np.array([float(r["theta"]) for r in csv.DictReader(out.open())])

    prior = scores(written)
    stripped = tmp_path / "stripped.csv"
    write_params_csv(read_params_csv(written), stripped)
    standard = scores(stripped)
    rmse_prior = np.sqrt(np.mean((prior - theta) ** 2))
    rmse_standard = np.sqrt(np.mean((standard - theta) ** 2))
    assert rmse_prior < rmse_standard - 0.03
    assert np.std(prior) > np.std(standard) + 0.15  # less shrinkage towards 0
