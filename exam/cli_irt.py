"""The psychometric commands of ``seleksi``: score, simulate, calibrate and dif
(CONTRACTS.md), with the exit codes and messages of ``exam.cli``."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import sys
import tempfile
from pathlib import Path

import click
import numpy as np
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import Exam
from exam.adapters.runtime import runtime
from exam.adapters.settings import get_settings
from exam.cat.blueprint import BlueprintError, ExposureConfig, SectionConfig
from exam.cat.feasibility import check_section
from exam.cat.plan import InfeasibleError, compile_section
from exam.cat.simulation import ExposureCapError, with_exposure_parameters
from exam.cat.simulation import simulate as run_simulation
from exam.cli_log import BadInput
from exam.usecases.data import exam_data
from itembank.calibration import CalibrationError, fixed_parameter_calibration
from itembank.calibration import calibrate as run_calibration
from itembank.synthetic import synthetic_bank
from itembank.table import make_table
from scoring.ability import METHODS, AbilityScale, estimate
from scoring.dif import mantel_haenszel, write_dif_csv
from scoring.files import (
    InputError,
    read_groups_csv,
    read_params_csv,
    read_params_file,
    read_response_matrix,
    read_responses_csv,
    write_params_csv,
)

log = logging.getLogger("seleksi")


def _analysis_data(responses: str | None, exam_code: str | None):
    """Item ids, the response matrix and per person either the id (from a file) or the
    enrollment attributes (from an exam)."""
    if (responses is None) == (exam_code is None):
        raise click.UsageError("give a RESPONSES.csv or --exam CODE (one of them)")
    if responses is not None:
        try:
            persons, items, matrix = read_response_matrix(responses)
        except InputError as exc:
            raise BadInput(str(exc)) from None
        return items, matrix, persons
    engine = database.sync_engine(get_settings())
    with database.session_factory(engine)() as session:
        try:
            data = exam_data(session, exam_code)
        except LookupError as exc:
            raise BadInput(str(exc)) from None
    if not data.persons:
        raise BadInput(f"exam {exam_code}: no answers recorded yet")
    return data.items, data.matrix, data.attributes


def _exam_operational_params(exam_code: str, items: list[str]):
    """The parameters the exam used for its operational items among ``items``."""
    engine = database.sync_engine(get_settings())
    with database.session_factory(engine)() as session:
        exam = session.scalar(select(Exam).where(Exam.code == exam_code))
        rt = runtime(exam)
    index = rt.bank.params.index()
    rows = [index[i] for i in items if i in index]
    if not rows:
        raise BadInput(f"exam {exam_code}: no operational items among the answers")
    return rt.bank.params.subset(rows)


def _echo_file(write) -> None:
    """Print what ``write(path)`` writes to a file (for writers that take a path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.csv"
        write(path)
        click.echo(path.read_text(encoding="utf-8"), nl=False)


def _out(path: str | None):
    try:
        return open(path, "w", newline="", encoding="utf-8") if path else sys.stdout
    except OSError as exc:
        raise BadInput(f"{path}: {exc.strerror or exc}") from None


def prior_hint(scale: AbilityScale) -> str:
    """What the committee enters in the exam builder for the sections on a calibration's
    items: the section's prior is committed with the exam, not stored with the items."""
    return (
        f"in the exam builder, give each adaptive section on these items prior mean "
        f"{scale.mean:.4g} and prior SD {scale.sd:.4g} (fields s<i>_prior_mean, s<i>_prior_sd)"
    )


@click.command()
@click.argument("responses", type=click.Path(dir_okay=False))
@click.option(
    "--params",
    "params_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Parameters CSV (item_id,model,a,b,c or b1..bK); its ability_mean and ability_sd "
    "columns, when present (a Rasch calibration writes them), give the prior N(mean, sd²).",
)
@click.option("--method", type=click.Choice(METHODS), default="eap", show_default=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write person_id,theta,se here instead of standard output.",
)
def score(responses: str, params_path: str, method: str, out_path: str | None) -> None:
    """Ability estimates with standard errors from a responses CSV, with the parameters
    file's ability scale as the EAP/MAP prior (N(0, 1) when it has none)."""
    try:
        params, scale = read_params_file(params_path)
        persons, matrix, used = read_responses_csv(responses, params)
    except InputError as exc:
        raise BadInput(str(exc)) from None
    scale = scale or AbilityScale()
    if method in ("eap", "map"):
        log.info("prior N(%g, %g²) from %s", scale.mean, scale.sd, params_path)
    results = estimate(used, matrix, method, scale.quadrature())
    fh = _out(out_path)
    try:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["person_id", "theta", "se"])
        for person, est in zip(persons, results, strict=True):
            if est.reason:
                log.warning("person %s: %s", person, est.reason)
            writer.writerow([person, f"{est.theta:.6f}", f"{est.se:.6f}"])
    finally:
        if out_path:
            fh.close()


@click.command()
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    help="Parameters CSV of the bank to simulate on; its ability scale, when it has one, "
    "is the simulees' distribution and the engine's prior.",
)
@click.option(
    "--synthetic",
    type=click.IntRange(min=1),
    help="Simulate on a synthetic 3PL bank of N items instead.",
)
@click.option("--examinees", required=True, type=click.IntRange(min=1))
@click.option("--max-items", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--min-items", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--se-target",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop once the SE reaches this (after --min-items).",
)
@click.option(
    "--exposure",
    type=click.Choice(["none", "randomesque", "sympson-hetter"]),
    default="sympson-hetter",
    show_default=True,
)
@click.option(
    "--r-max",
    default=0.2,
    show_default=True,
    type=click.FloatRange(min=0, max=1, min_open=True),
    help="Sympson-Hetter: the highest exposure rate an item may have.",
)
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Draw conditional bias/RMSE/SE and item exposure to a .png or .svg file.",
)
@click.option(
    "--timed",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Simulees also run one by one to time an engine step.",
)
def simulate(
    params_path: str | None,
    synthetic: int | None,
    examinees: int,
    max_items: int,
    min_items: int,
    se_target: float | None,
    exposure: str,
    r_max: float,
    seed: int,
    as_json: bool,
    plot: str | None,
    timed: int,
) -> None:
    """A CAT simulation study on a bank: precision, test length and item exposure."""
    if (params_path is None) == (synthetic is None):
        raise click.UsageError("give exactly one of --params or --synthetic")
    if min_items > max_items:
        raise click.UsageError("--min-items is larger than --max-items")
    if synthetic is not None and synthetic < max_items:
        raise click.UsageError(f"--max-items {max_items} is larger than the bank ({synthetic})")
    if plot and Path(plot).suffix.lower() not in (".png", ".svg"):
        raise click.UsageError("--plot must name a .png or .svg file")
    scale = AbilityScale()
    if synthetic is not None:
        bank = synthetic_bank(synthetic, seed=seed, domain="SIM", topics=1)
    else:
        try:
            params, file_scale = read_params_file(params_path)
            scale = file_scale or scale
        except InputError as exc:
            raise BadInput(str(exc)) from None
        bank = make_table(params, ["SIM"] * len(params), ["*"] * len(params))
        if len(params) < max_items:
            raise BadInput(
                f"{params_path}: {len(params)} items, fewer than --max-items {max_items}"
            )
    config = SectionConfig(
        name="SIM",
        domain="SIM",
        min_items=min_items,
        max_items=max_items,
        se_target=se_target,
        exposure=ExposureConfig(method=exposure, r_max=r_max),
        prior_mean=scale.mean,
        prior_sd=scale.sd,
    )
    try:
        check_section(config, bank)
        try:
            config = with_exposure_parameters(
                config,
                bank,
                seed=seed,
                progress=None,
                tolerance=get_settings().exposure_tolerance,
            )
        except ExposureCapError as exc:
            click.echo(f"{exc}; the study uses the best parameters found", err=True)
            config = exc.config
        plan = compile_section(config, bank)
    except (InfeasibleError, BlueprintError) as exc:
        raise BadInput(str(exc)) from None
    theta = scale.mean + scale.sd * np.random.default_rng(seed).standard_normal(examinees)
    exam_seed = hashlib.sha256(f"seleksi-simulate-{seed}".encode()).digest()
    result = run_simulation(
        plan, theta, exam_seed, answer_seed=seed, timed=min(timed, examinees), progress=None
    )
    summary = result.summary()
    if plot:
        from exam.plots import simulation_figure  # noqa: PLC0415 (matplotlib loads only when asked)

        simulation_figure(result, plot)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"examinees      {summary['examinees']}")
    click.echo(f"bank size      {summary['bank_size']}")
    click.echo(f"mean length    {summary['mean_length']:.2f}")
    click.echo(f"bias           {summary['bias']:+.4f}")
    click.echo(f"RMSE           {summary['rmse']:.4f}")
    click.echo(f"max exposure   {summary['max_exposure']:.3f}")
    click.echo(f"overlap rate   {summary['overlap_rate']:.3f}")
    if summary["step_us_median"] is not None:
        click.echo(
            f"engine step    median {summary['step_us_median']:.0f} µs, "
            f"p99 {summary['step_us_p99']:.0f} µs"
        )
    click.echo("θ bin           n     RMSE   mean SE")
    for b in summary["csem"]:
        click.echo(
            f"[{b['theta_low']:+.1f}, {b['theta_high']:+.1f})  {b['n']:6d}  "
            f"{b['rmse']:.3f}   {b['mean_se']:.3f}"
        )


@click.command()
@click.argument("responses", type=click.Path(dir_okay=False), required=False)
@click.option("--exam", "exam_code", help="Use the answers recorded for this exam instead.")
@click.option("--model", required=True, type=click.Choice(["rasch", "2pl", "3pl", "gpcm", "grm"]))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write the parameters CSV here instead of standard output.",
)
@click.option(
    "--pilots",
    is_flag=True,
    help="With --exam: calibrate the exam's pilot items onto the scale of its operational "
    "items (their parameters as the exam used them).",
)
@click.option(
    "--anchors",
    type=click.Path(dir_okay=False),
    help="Parameters CSV of operational items: keep them fixed and calibrate the "
    "other columns (pilot items) onto their scale.",
)
def calibrate(
    responses: str | None,
    exam_code: str | None,
    model: str,
    out_path: str | None,
    anchors: str | None,
    pilots: bool,
) -> None:
    """IRT calibration (girth, marginal maximum likelihood) with item fit, from a responses
    CSV or from an exam's recorded answers."""
    items, matrix, _ = _analysis_data(responses, exam_code)
    try:
        anchor_params = read_params_csv(anchors) if anchors else None
    except InputError as exc:
        raise BadInput(str(exc)) from None
    if pilots:
        if exam_code is None:
            raise click.UsageError("--pilots goes with --exam")
        anchor_params = _exam_operational_params(exam_code, items)
    scale = None
    try:
        if anchor_params is not None:
            params = fixed_parameter_calibration(matrix, items, anchor_params, model=model)
            fit = []
        else:
            result = run_calibration(matrix, items, model, progress=None)
            params, fit, scale = result.params, result.fit, result.ability_scale
    except CalibrationError as exc:
        raise BadInput(f"{responses or 'exam ' + str(exam_code)}: {exc}") from None
    if out_path:
        try:
            write_params_csv(params, out_path, scale)
        except OSError as exc:
            raise BadInput(f"{out_path}: {exc.strerror or exc}") from None
    else:
        _echo_file(lambda path: write_params_csv(params, path, scale))
    if scale is not None:
        click.echo(
            f"ability scale N({scale.mean:g}, {scale.sd:.3f}²): written as ability_mean, "
            f"ability_sd; seleksi score and simulate use it as the prior; {prior_hint(scale)}",
            err=True,
        )
    if fit:
        flagged = [f for f in fit if f.flagged]
        click.echo(
            f"{len(params)} items calibrated ({model}); {len(flagged)} misfitting "
            "(infit or outfit outside 0.7 to 1.3)",
            err=True,
        )
        for f in flagged:
            click.echo(
                f"  {f.item_id}: infit {f.infit:.2f}, outfit {f.outfit:.2f}, n {f.n}", err=True
            )


@click.command()
@click.argument("responses", type=click.Path(dir_okay=False), required=False)
@click.option(
    "--exam",
    "exam_code",
    help="Use the answers and enrollment attributes "
    "recorded for this exam instead (then --attribute names the group).",
)
@click.option(
    "--groups",
    "groups_path",
    type=click.Path(dir_okay=False),
    help="person_id,<attribute>: the group of each person.",
)
@click.option("--focal", required=True, help="The attribute value of the focal group.")
@click.option("--attribute", help="The column to use when GROUPS.csv has several.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False))
def dif(
    responses: str | None,
    exam_code: str | None,
    groups_path: str | None,
    focal: str,
    attribute: str | None,
    out_path: str | None,
) -> None:
    """Mantel–Haenszel DIF with the ETS A/B/C classes, from files or an exam's records."""
    items, matrix, persons = _analysis_data(responses, exam_code)
    if exam_code is not None:
        if not attribute:
            raise click.UsageError("--exam needs --attribute (e.g. gender)")
        groups = [a.get(attribute) for a in persons]
        groups_path = f"exam {exam_code}"
    else:
        if groups_path is None:
            raise click.UsageError("give --groups GROUPS.csv (or --exam CODE)")
        try:
            attribute, groups = read_groups_csv(groups_path, persons, attribute)
        except InputError as exc:
            raise BadInput(str(exc)) from None
    values = np.array([g if g is not None else "" for g in groups], dtype=object)
    is_focal = values == focal
    if not is_focal.any():
        raise BadInput(f"{groups_path}: no person has {attribute} = {focal!r}")
    reference = (values != focal) & (values != "")
    if not reference.any():
        raise BadInput(f"{groups_path}: no reference group (everyone is {focal!r})")
    results = mantel_haenszel(matrix, items, is_focal, reference)
    if out_path is None:
        _echo_file(lambda path: write_dif_csv(results, path))
    else:
        try:
            write_dif_csv(results, out_path)
        except OSError as exc:
            raise BadInput(f"{out_path}: {exc.strerror or exc}") from None
    flagged = [r for r in results if r.ets_class in ("C", "CC")]
    click.echo(
        f"{len(results)} items; {len(flagged)} in ETS class C ({attribute}: {focal} vs the rest)",
        err=True,
    )
