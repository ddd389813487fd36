"""``seleksi witness``: run an independent witness that cosigns the audit log's checkpoints
(c2sp.org/tlog-witness, ``proctoring.witness``), with its own Ed25519 key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from exam.cli_log import BadInput, key_argument
from scoring import limits


@click.group()
def witness() -> None:
    """A witness: cosigns a log's checkpoints only while the log only grows."""


@witness.command("keygen")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The private key file.")
def keygen(name: str, out: str) -> None:
    """Make a witness key named NAME (a schema-less URL such as ombudsman.example/w1),
    write it to OUT (readable by you only) and print its verifier key, which you give to
    the committee and to observers."""
    from proctoring.cosign import WitnessSigner  # noqa: PLC0415
    from proctoring.note import NoteError  # noqa: PLC0415

    try:
        signer = WitnessSigner.generate(name)
    except NoteError as exc:
        raise BadInput(f"NAME: {exc}") from None
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BadInput(f"--out {out}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w") as f:
        f.write(f"{signer}\n")
    click.echo(str(signer.verifier))


def _signer(path: str):
    from proctoring.cosign import WitnessSigner  # noqa: PLC0415
    from proctoring.note import NoteError  # noqa: PLC0415

    try:
        return WitnessSigner.parse(limits.read_file(Path(path), limits.KEY_BYTES).decode())
    except (OSError, limits.LimitError, UnicodeDecodeError, NoteError) as exc:
        raise BadInput(f"--key {path}: not a witness key ({exc})") from None


def _log_keys(keys: tuple[str, ...]):
    from proctoring.note import NoteError, Verifier  # noqa: PLC0415
    from proctoring.offline import InputError  # noqa: PLC0415

    parsed = []
    for key in keys:
        try:
            parsed.append(Verifier.parse(key_argument(key)))
        except (NoteError, InputError) as exc:
            raise BadInput(f"--log {key}: {exc}") from None
    return parsed


@witness.command("serve")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--log",
    "logs",
    required=True,
    multiple=True,
    help="The verifier key of a log to witness (as its /api/v1/log/key serves it), or a "
    "file holding it; repeatable.",
)
@click.option(
    "--state",
    "state_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Where the last cosigned checkpoint of each log is kept.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8100, show_default=True, type=click.IntRange(1, 65535))
def serve(key_file: str, logs: tuple[str, ...], state_dir: str, host: str, port: int) -> None:
    """Serve POST /add-checkpoint: the log sends each new checkpoint with a consistency
    proof from the last one this witness cosigned, and gets a cosignature only if the proof
    holds. Give the printed URL and verifier key to the committee."""
    import uvicorn  # noqa: PLC0415

    from proctoring.web.witness_app import create_witness_app  # noqa: PLC0415

    signer = _signer(key_file)
    app = create_witness_app(signer, _log_keys(logs), Path(state_dir))
    click.echo(f"witness {signer.name}, key {signer.verifier}")
    click.echo(f"add-checkpoint URL prefix: http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info")


@witness.command("show")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False))
def show(state_dir: str) -> None:
    """What the witness keeps: per log, the last checkpoint it cosigned and the signed
    checkpoints it refused (evidence of a log that forked or rewrote its history). Exit 1
    when there is a refusal."""
    from proctoring.witness import LogState  # noqa: PLC0415

    refusals = 0
    for path in sorted(Path(state_dir).glob("*.json")):
        try:
            state = LogState.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}: not a witness state file ({exc})") from None
        size = state.latest.size if state.latest else 0
        click.echo(f"log {state.origin}: cosigned up to {size} entries")
        for refused in state.refused:
            refusals += 1
            click.echo(f"REFUSED at {refused['at']}: {refused['reason']}")
            click.echo(json.dumps(refused["checkpoint"]))
    if refusals:
        raise SystemExit(1)
