"""The ``seleksi`` command line (CONTRACTS.md): exit 0 on success, 1 when the checked
thing does not hold, 2 on bad input or usage, with a message naming file, line and field.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import click
import numpy as np
from sqlalchemy import select

from exam.adapters import database, migrate
from exam.adapters.models import ROLES, Exam, User
from exam.adapters.runtime import runtime
from exam.adapters.security import end_sessions, password_hasher
from exam.adapters.settings import get_settings
from exam.cat.blueprint import BlueprintError, ExposureConfig, SectionConfig
from exam.cat.feasibility import check_section
from exam.cat.plan import InfeasibleError, compile_section
from exam.cat.simulation import simulate as run_simulation
from exam.cat.simulation import with_exposure_parameters
from exam.cli_log import BadInput
from exam.cli_log import log as log_commands
from exam.cli_results import results as results_commands
from exam.cli_rooms import proctor as proctor_commands
from exam.usecases.data import exam_data
from itembank import repository
from itembank.calibration import CalibrationError, fixed_parameter_calibration
from itembank.calibration import calibrate as run_calibration
from itembank.content import STATUSES, BankInputError
from itembank.synthetic import synthetic_bank
from itembank.table import make_table
from itembank.transfer import read_bank_file, write_bank
from scoring.ability import METHODS, estimate
from scoring.dif import mantel_haenszel, write_dif_csv
from scoring.files import (
    InputError,
    read_groups_csv,
    read_params_csv,
    read_response_matrix,
    read_responses_csv,
    write_params_csv,
)

log = logging.getLogger("seleksi")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seleksi")
def main() -> None:
    """Seleksi: online recruitment exams with adaptive testing and a public audit log."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)


main.add_command(log_commands)
main.add_command(results_commands)
main.add_command(proctor_commands)


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


@main.command()
@click.argument("responses", type=click.Path(dir_okay=False))
@click.option(
    "--params",
    "params_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Parameters CSV (item_id,model,a,b,c or b1..bK).",
)
@click.option("--method", type=click.Choice(METHODS), default="eap", show_default=True)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write person_id,theta,se here instead of standard output.",
)
def score(responses: str, params_path: str, method: str, out_path: str | None) -> None:
    """Ability estimates with standard errors from a responses CSV."""
    try:
        params = read_params_csv(params_path)
        persons, matrix, used = read_responses_csv(responses, params)
    except InputError as exc:
        raise BadInput(str(exc)) from None
    results = estimate(used, matrix, method)
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


@main.command()
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    help="Parameters CSV of the bank to simulate on.",
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
    if synthetic is not None:
        bank = synthetic_bank(synthetic, seed=seed, domain="SIM", topics=1)
    else:
        try:
            params = read_params_csv(params_path)
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
        exposure=ExposureConfig(method=exposure),
    )
    try:
        check_section(config, bank)
        config = with_exposure_parameters(config, bank, seed=seed, progress=None)
        plan = compile_section(config, bank)
    except (InfeasibleError, BlueprintError) as exc:
        raise BadInput(str(exc)) from None
    theta = np.random.default_rng(seed).standard_normal(examinees)
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


@main.group()
def db() -> None:
    """The database (SQLite in the data folder, or SELEKSI_DATABASE_URL)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic)."""
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@main.group()
def bank() -> None:
    """The item bank: import and export (.csv, .json, .zip for IMS QTI 2.1/3.0)."""


@bank.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def bank_import(path: str) -> None:
    """Import items; every problem is listed and nothing is imported if there is one."""
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session, session.begin():
        try:
            located = read_bank_file(path, repository.known_item_ids(session))
            report = repository.import_items(session, located)
        except BankInputError as exc:
            raise BadInput(
                f"{exc}\nnothing was imported ({len(exc.problems)} problem(s))"
            ) from None
    click.echo(f"{path}: {report.summary()}")


@bank.command("params")
@click.argument("path", type=click.Path(dir_okay=False))
def bank_params(path: str) -> None:
    """Give bank items the parameters in a parameters CSV (e.g. from seleksi calibrate):
    each changed item gets a new version; nothing changes if any item is unknown."""
    try:
        params = read_params_csv(path)
    except InputError as exc:
        raise BadInput(str(exc)) from None
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session, session.begin():
        try:
            report = repository.apply_parameters(session, params, path)
        except BankInputError as exc:
            raise BadInput(f"{exc}\nnothing was changed") from None
    click.echo(f"{path}: {report.summary()}")


@bank.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--domain", "domains", multiple=True, help="Only these domains (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only items with these statuses (repeatable).",
)
@click.option(
    "--qti-version",
    type=click.Choice(["2.1", "3.0"]),
    default="3.0",
    show_default=True,
    help="QTI version of a .zip export.",
)
def bank_export(
    path: str, domains: tuple[str, ...], statuses: tuple[str, ...], qti_version: str
) -> None:
    """Export the current version of every item."""
    if Path(path).suffix.lower() not in (".csv", ".json", ".zip"):
        raise click.UsageError("PATH must end in .csv, .json or .zip")
    engine = database.sync_engine(get_settings())
    migrate.upgrade(engine)
    with database.session_factory(engine)() as session:
        items = repository.current_items(session, domains or None, statuses or None)
    write_bank(items, path, qti_version)
    click.echo(f"{path}: {len(items)} items")


@main.command()
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
    try:
        if anchor_params is not None:
            params = fixed_parameter_calibration(matrix, items, anchor_params, model=model)
            fit = []
        else:
            result = run_calibration(matrix, items, model, progress=None)
            params, fit = result.params, result.fit
    except CalibrationError as exc:
        raise BadInput(f"{responses or 'exam ' + str(exam_code)}: {exc}") from None
    if out_path:
        try:
            write_params_csv(params, out_path)
        except OSError as exc:
            raise BadInput(f"{out_path}: {exc.strerror or exc}") from None
    else:
        _echo_file(lambda path: write_params_csv(params, path))
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


@main.command()
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (usually the reverse proxy does).",
)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the web application on the configured database."""
    import uvicorn  # noqa: PLC0415 (the server loads only when serving)

    # The workers read their settings from the environment (see Settings.gc_tuning). With
    # one worker the app runs in this process and reuses its cached settings, so the
    # default goes in before they are first read.
    os.environ.setdefault("SELEKSI_GC_TUNING", "true")
    get_settings.cache_clear()
    click.echo(f"audit log verifier key: {get_settings().log_signer().verifier}")
    uvicorn.run(
        "exam.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        access_log=access_log,
        # Longer than a client's idle gap between two answers: a connection the server
        # closes just as the client reuses it is an error the applicant would see.
        timeout_keep_alive=75,
    )


@main.group()
def user() -> None:
    """Accounts: committee members, observers and applicants."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", "display_name", default="", help="The name shown on pages.")
@click.password_option(help="Asked for when not given.")
def user_add(username: str, role: str, display_name: str, password: str) -> None:
    """Create an account (or set the password and role of an existing one)."""
    settings = get_settings()
    engine = database.sync_engine(settings)
    migrate.upgrade(engine)
    hashed = password_hasher(settings).hash(password)
    with database.session_factory(engine)() as session, session.begin():
        account = session.scalar(select(User).where(User.username == username))
        if account is None:
            session.add(
                User(username=username, password_hash=hashed, role=role, display_name=display_name)
            )
            click.echo(f"account {username} ({role}) created")
        else:
            account.password_hash, account.role = hashed, role
            account.display_name = display_name or account.display_name
            [ended] = end_sessions(session, [account])
            click.echo(f"account {username} ({role}) updated; {ended} live session(s) ended")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="seleksi-data",
    show_default=True,
    help="Where the SQLite database and keys live.",
)
@click.option("--applicants", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--no-serve", is_flag=True, help="Prepare the demo and exit.")
def demo(host: str, port: int, data_dir: str, applicants: int, no_serve: bool) -> None:
    """A complete demo: bank, exam DEMO, accounts; prints the logins, then serves."""
    import os  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415 (the server loads only when serving)

    from exam.usecases.demo import prepare_demo  # noqa: PLC0415

    os.environ["SELEKSI_DATA_DIR"] = data_dir
    os.environ.pop("SELEKSI_DATABASE_URL", None)
    get_settings.cache_clear()
    settings = get_settings()
    click.echo(f"preparing the demo in {Path(data_dir).resolve()} …")
    from proctoring.checkpoints import SignerRefusedError  # noqa: PLC0415

    try:
        info = prepare_demo(settings, applicants)
    except SignerRefusedError as exc:
        click.echo(f"the log signer refuses to sign: {exc.reason}", err=True)
        sys.exit(1)
    url = f"http://{host}:{port}"
    click.echo(f"""
Seleksi demo: {url}
  exam code   {info.exam_code}
  committee   {info.committee} / {info.password}
  observer    {info.observer} / {info.password}
  applicants  {info.applicants[0]} … {info.applicants[-1]} / {info.password}
  log key     {info.log_key}
""")
    if not no_serve:
        uvicorn.run("exam.app:create_app", factory=True, host=host, port=port, log_level="info")
