"""The score and simulate commands, including their bad-input messages (exit 2)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import uvicorn
from click.testing import CliRunner

from exam.adapters.settings import get_settings
from exam.cli import main
from scoring.files import read_params_csv, write_params_csv
from scoring.params import ItemParams, ItemSpec


@pytest.fixture
def files(tmp_path):
    params = ItemParams.from_specs(
        [
            ItemSpec("q1", "2pl", 1.2, -0.5),
            ItemSpec("q2", "3pl", 0.9, 0.4, 0.2),
            ItemSpec("q3", "rasch", 1.0, 0.0),
            ItemSpec("t1", "gpcm", 1.0, steps=(-1.0, 0.0, 0.5, 1.5)),
        ]
    )
    p = tmp_path / "params.csv"
    write_params_csv(params, p)
    r = tmp_path / "responses.csv"
    r.write_text("person_id,q1,q2,q3,t1\nA,1,0,1,3\nB,0,0,0,0\nC,1,,1,4\n")
    return tmp_path, p, r


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_score_writes_person_theta_se(files):
    tmp, params, responses = files
    out = tmp / "out.csv"
    result = run("score", str(responses), "--params", str(params), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["person_id"] for r in rows] == ["A", "B", "C"]
    assert float(rows[1]["theta"]) < float(rows[0]["theta"])
    assert all(float(r["se"]) > 0 for r in rows)


def test_score_mle_logs_the_fallback_reason(files, caplog):
    _, params, responses = files
    result = run("score", str(responses), "--params", str(params), "--method", "mle")
    assert result.exit_code == 0
    assert "person B: all responses in the bottom category" in caplog.text
    assert "person A" not in caplog.text


@pytest.mark.parametrize(
    "content,expected",
    [
        ("person_id,q1,q9\nA,1,0\n", "responses.csv:1: q9: unknown item"),
        ("person_id,q1,q2\nA,1,2\n", "responses.csv:2: q2: '2' is not 0 or 1"),
        ("person_id,q1,t1\nA,1,x\n", "responses.csv:2: t1: 'x' is not 0..4"),
        ("q1,q2\n1,0\n", "responses.csv:1: q1: the header must start with person_id"),
        ("", "responses.csv:1: empty file"),
        ("person_id,q1,q2\nA,1\n", "responses.csv:2: 2 fields, the header has 3"),
        ("person_id,q1\nA,1\nA,0\n", "responses.csv:3: person_id: duplicate of line 2"),
        ("person_id,q1\nA,\u00b2\n", "responses.csv:2: q1: '\u00b2' is not 0 or 1"),
        ("person_id,q1\nA,\u0661\n", "responses.csv:2: q1: '\u0661' is not 0 or 1"),
        ('person_id,q1\n"A\nB",1\nC,7\n', "responses.csv:4: q1: '7' is not 0 or 1"),
    ],
)
def test_bad_responses_exit_2_naming_file_line_field(files, content, expected):
    _tmp, params, responses = files
    responses.write_text(content)
    result = run("score", str(responses), "--params", str(params))
    assert result.exit_code == 2
    assert expected in result.output


@pytest.mark.parametrize(
    "content,expected",
    [
        ("item_id,model,a,b,c\nq1,2pl,1.2,abc,\n", "params.csv:2: b: 'abc' is not a number"),
        ("item_id,model,a,b,c\nq1,2pl,x,0,\n", "params.csv:2: a: 'x' is not a number"),
        ("item_id,model,b\nq1,2pl,0\n", "params.csv:1: a: missing column"),
        ("item_id,model,a,b,c\nq1,4pl,1,0,\n", "params.csv:2: model: '4pl' is not one of"),
        ("item_id,model,a,b,c\nq1,2pl,1,0,\nq1,2pl,1,0,\n", "params.csv:3: item_id: duplicate"),
        ("item_id,model,a,b,c\nq1,2pl,-1,0,\n", "params.csv:2: item q1: discrimination a must"),
        ("item_id,model,a,b,c\nq1,3pl,1,0,nan\n", "params.csv:2: c: 'nan' is not a finite"),
        ("item_id,model,a,b1,b2\nq1,gpcm,1,,0.5\n", "params.csv:2: b1: empty step parameter"),
    ],
)
def test_bad_params_exit_2(files, content, expected):
    _, params, responses = files
    params.write_text(content)
    result = run("score", str(responses), "--params", str(params))
    assert result.exit_code == 2
    assert expected in result.output


def test_params_csv_round_trip(files):
    _, params, _ = files
    table = read_params_csv(params)
    again = params.parent / "again.csv"
    write_params_csv(table, again)
    assert again.read_text() == params.read_text()
    assert table.ids == ("q1", "q2", "q3", "t1")
    assert table.spec(3).steps == (-1.0, 0.0, 0.5, 1.5)


def test_simulate_json_keys(tmp_path):
    plot = tmp_path / "sim.svg"
    result = run(
        "simulate",
        "--synthetic",
        "200",
        "--examinees",
        "300",
        "--max-items",
        "10",
        "--exposure",
        "randomesque",
        "--json",
        "--plot",
        str(plot),
        "--timed",
        "5",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert set(data) == {
        "examinees",
        "bank_size",
        "mean_length",
        "bias",
        "rmse",
        "max_exposure",
        "overlap_rate",
        "step_us_median",
        "step_us_p99",
        "csem",
    }
    assert data["examinees"] == 300 and data["bank_size"] == 200
    assert data["mean_length"] == 10
    assert 0 < data["rmse"] < 1
    assert sum(b["n"] for b in data["csem"]) == 300
    assert set(data["csem"][0]) == {"theta_low", "theta_high", "n", "rmse", "mean_se"}
    assert plot.read_text().lstrip().startswith("<?xml")


def test_simulate_on_a_params_file_with_se_stop(files):
    _, params, _ = files
    rng = np.random.default_rng(0)
    big = params.parent / "bank.csv"
    write_params_csv(ItemParams.three_pl(rng.uniform(0.8, 2, 150), rng.normal(0, 1, 150)), big)
    result = run(
        "simulate",
        "--params",
        str(big),
        "--examinees",
        "200",
        "--max-items",
        "30",
        "--min-items",
        "5",
        "--se-target",
        "0.4",
        "--exposure",
        "none",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert 5 <= data["mean_length"] < 30


@pytest.mark.parametrize(
    "args,code",
    [
        (["simulate", "--examinees", "10"], 2),
        (["simulate", "--synthetic", "10", "--params", "x.csv", "--examinees", "10"], 2),
        (["simulate", "--synthetic", "10", "--examinees", "10", "--plot", "x.pdf"], 2),
        (
            [
                "simulate",
                "--synthetic",
                "50",
                "--examinees",
                "10",
                "--min-items",
                "9",
                "--max-items",
                "5",
            ],
            2,
        ),
        (["simulate", "--params", "/nonexistent.csv", "--examinees", "10"], 2),
        (
            [
                "simulate",
                "--synthetic",
                "3",
                "--examinees",
                "10",
                "--min-items",
                "5",
                "--max-items",
                "5",
            ],
            2,
        ),
        (["simulate", "--synthetic", "30", "--examinees", "10", "--seed", "-1"], 2),
    ],
)
def test_simulate_usage_errors_exit_2(args, code):
    assert run(*args).exit_code == code


def test_score_out_in_a_missing_folder_exits_2(files):
    _, params, responses = files
    result = run("score", str(responses), "--params", str(params), "--out", "/no/such/dir/x.csv")
    assert result.exit_code == 2 and "No such file or directory" in result.output


def test_console_script_help_works_without_a_server():
    out = subprocess.run(
        [sys.executable, "-m", "exam", "--help"], capture_output=True, text=True, check=True
    )
    assert "simulate" in out.stdout and "score" in out.stdout


def test_serve_tunes_the_collector_for_an_app_in_its_own_process(tmp_path, monkeypatch):
    """With one worker uvicorn builds the app in this process from the cached settings,
    so the serving default must be in them (it once came too late, after the first read)."""
    seen = {}
    monkeypatch.setenv("SELEKSI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SELEKSI_GC_TUNING", "unset")
    monkeypatch.delenv("SELEKSI_GC_TUNING")
    monkeypatch.setattr(
        uvicorn, "run", lambda *a, **kw: seen.update(kw, tuning=get_settings().gc_tuning)
    )
    get_settings.cache_clear()
    get_settings()  # read before serving, as a command run earlier in the process would
    try:
        result = run("serve", "--port", "8123")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "audit log verifier key" in result.output
    assert seen["workers"] == 1 and seen["tuning"] is True


@pytest.fixture
def simulated(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.7, 1.8, 15), rng.normal(0, 1, 15)
    theta = rng.standard_normal(1500)
    focal = rng.random(1500) < 0.5
    shift = np.zeros((1500, 15))
    shift[focal, 0] = 1.2  # item q0 is harder for the focal group
    p = 1 / (1 + np.exp(-a * (theta[:, None] - b - shift)))
    x = (rng.random(p.shape) < p).astype(int)
    resp = tmp_path / "resp.csv"
    with resp.open("w") as fh:
        fh.write("person_id," + ",".join(f"q{i}" for i in range(15)) + "\n")
        for i in range(1500):
            fh.write(f"p{i}," + ",".join(map(str, x[i])) + "\n")
    groups = tmp_path / "groups.csv"
    groups.write_text(
        "person_id,gender\n" + "".join(f"p{i},{'P' if focal[i] else 'L'}\n" for i in range(1500))
    )
    return tmp_path, resp, groups, a, b


def test_calibrate_writes_contract_params_on_the_d1_metric(simulated):
    tmp, resp, _, a, b = simulated
    out = tmp / "params.csv"
    result = run("calibrate", str(resp), "--model", "2pl", "--out", str(out))
    assert result.exit_code == 0, result.output
    params = read_params_csv(out)
    assert params.ids[0] == "q0" and params.models[0] == "2pl"
    # Items 1..14 have no DIF: their parameters come back close to the generating ones.
    assert np.sqrt(np.mean((params.b[1:] - b[1:]) ** 2)) < 0.2
    assert np.sqrt(np.mean((params.a[1:] - a[1:]) ** 2)) < 0.2


def test_dif_flags_the_planted_item(simulated):
    tmp, resp, groups, _, _ = simulated
    out = tmp / "dif.csv"
    result = run("dif", str(resp), "--groups", str(groups), "--focal", "P", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["item_id", "mh_odds_ratio", "mh_d_dif", "p_value", "ets_class"]
    classes = {r["item_id"]: r["ets_class"] for r in rows}
    assert classes["q0"] == "C"
    assert sum(c == "C" for c in classes.values()) == 1


@pytest.mark.parametrize(
    "groups,args,expected",
    [
        ("person_id,gender\np0,L\n", ["--focal", "X"], "no person has gender = 'X'"),
        ("person_id,gender,region\np0,L,A\n", ["--focal", "L"], "several attributes"),
        ("person_id,gender\np0,L\np0,P\n", ["--focal", "L"], "groups.csv:3: person_id"),
    ],
)
def test_dif_bad_groups_exit_2(simulated, groups, args, expected):
    tmp, resp, _, _, _ = simulated
    path = tmp / "groups.csv"
    path.write_text(groups)
    result = run("dif", str(resp), "--groups", str(path), *args)
    assert result.exit_code == 2 and expected in result.output


def test_calibrate_bad_input_exit_2(tmp_path):
    resp = tmp_path / "r.csv"
    resp.write_text("person_id,q1,q2\nA,1,x\n")
    result = run("calibrate", str(resp), "--model", "2pl")
    assert result.exit_code == 2 and "r.csv:2: q2: 'x' is not a category" in result.output


# -- hostile files: exit 2 with the file and the place, never a traceback ---------------------


def _signed_export(tmp_path, size_line: str = "1"):
    """An export folder whose checkpoint (signed by a fresh key) says ``size_line``."""
    import base64

    from exam.cli_log import write_export
    from proctoring.note import Signer

    signer = Signer.generate("test.example/log")
    root = base64.b64encode(bytes(32)).decode()
    note = signer.sign(f"test.example/log\n{size_line}\n{root}\n")
    folder = tmp_path / "export"
    write_export(folder, str(signer.verifier), note, ['{"exam":"X","t":0,"type":"x"}'], [])
    return folder


def test_a_receipt_with_a_5000_digit_index_exits_2(tmp_path):
    from proctoring.note import Signer

    proof = tmp_path / "r.tlog-proof"
    proof.write_text("c2sp.org/tlog-proof@v1\nindex " + "7" * 5000 + "\n\ncheckpoint\n")
    key = str(Signer.generate("log").verifier)
    result = run("log", "receipt", str(proof), "--key", key)
    assert result.exit_code == 2, result.output
    assert f"{proof}: index '77777777777777777777… (5000 characters)'" in result.output
    proof.write_bytes(b"c2sp.org/tlog-proof@v1\nindex \xff\n\n")
    result = run("log", "receipt", str(proof), "--key", key)
    assert result.exit_code == 2 and f"{proof}: not UTF-8 text (byte 29)" in result.output


def test_verify_export_with_a_5000_digit_checkpoint_size_exits_2(tmp_path):
    folder = _signed_export(tmp_path, "9" * 5000)
    result = run("log", "verify", "--export", str(folder), "--state", str(tmp_path / "st"))
    assert result.exit_code == 2, result.output
    assert f"{folder / 'checkpoint.txt'}: a checkpoint is origin, size" in result.output


def test_verify_export_with_a_deep_entry_exits_2(tmp_path):
    folder = _signed_export(tmp_path)
    entries = folder / "entries.jsonl"
    entries.write_text(entries.read_text() + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run("log", "verify", "--export", str(folder), "--state", str(tmp_path / "st"))
    assert result.exit_code == 2, result.output
    assert f"{entries}:2: nested deeper than 64 levels" in result.output


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("key.txt", b"x" * 5000, "key.txt: larger than 1,024 bytes"),
        ("key.txt", b"log+0011+AAAA\n", "key.txt: "),
        ("checkpoint.txt", b"\xff\xfe", "checkpoint.txt: not UTF-8 text (byte 0)"),
        ("entries.jsonl", b'{"a":"\xed\xa0\x80"}\n', "entries.jsonl: not UTF-8 text (byte 6)"),
    ],
)
def test_verify_export_with_malformed_files_exits_2(tmp_path, name, content, expected):
    folder = _signed_export(tmp_path)
    (folder / name).write_bytes(content)
    result = run("log", "verify", "--export", str(folder), "--state", str(tmp_path / "st"))
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output


def test_a_5000_digit_response_exits_2(files):
    _tmp, params, responses = files
    responses.write_text("person_id,q1\nA," + "1" * 5000 + "\n")
    result = run("score", str(responses), "--params", str(params))
    assert result.exit_code == 2, result.output
    assert "responses.csv:2: q1: " in result.output
