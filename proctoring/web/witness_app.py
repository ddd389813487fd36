"""The witness's HTTP service (``seleksi witness serve``), c2sp.org/tlog-witness:

- ``POST /add-checkpoint``: a log submits a checkpoint with a consistency proof and gets
  the witness's cosignature, or a refusal (``proctoring.witness``);
- ``GET /<SHA-256 of the origin, hex>/checkpoint``: the last checkpoint it cosigned for
  that log, with the log's signature and its own (the monitoring side);
- ``GET /``: the witness's name, its verifier key and the logs it follows.

It is a small Litestar application of its own, separate from the exam server: a witness is
run by someone independent of the committee, on another machine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from proctoring.cosign import WitnessSigner
from proctoring.note import Verifier
from proctoring.witness import MAX_BODY, WitnessStore

logger = logging.getLogger("seleksi.witness")


def create_witness_app(
    signer: WitnessSigner, logs: Sequence[Verifier], state_dir: Path
) -> Litestar:
    """A witness cosigning with ``signer`` the logs whose keys are ``logs``, keeping its
    state in ``state_dir``."""
    store = WitnessStore(state_dir)
    by_origin = {key.name: key for key in logs}

    @post("/add-checkpoint", request_max_body_size=MAX_BODY)
    async def add_checkpoint(request: Request) -> Response[str]:
        body = await request.body()
        reply = await anyio.to_thread.run_sync(
            store.handle, body, by_origin, signer, datetime.now(UTC)
        )
        if reply.status == 422:  # a signed checkpoint that does not extend the last one
            logger.warning("refused a checkpoint: %s", reply.body.strip())
        return Response(reply.body, status_code=reply.status, media_type=reply.media_type)

    @get("/{origin_hash:str}/checkpoint", media_type="text/plain")
    async def checkpoint(origin_hash: FromPath[str]) -> str:
        for origin in by_origin:
            if store.path(origin).stem == origin_hash:
                latest = store.read(origin).latest
                if latest is not None:
                    return latest.note
        raise NotFoundException("this witness has not cosigned a checkpoint of that log")

    @get("/", media_type="text/plain")
    async def about() -> str:
        follows = "".join(f"log {key}\n" for key in logs)
        return f"witness {signer.name}\nkey {signer.verifier}\n{follows}"

    return Litestar(route_handlers=[add_checkpoint, checkpoint, about])
