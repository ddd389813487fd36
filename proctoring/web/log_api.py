"""The public audit log (CONTRACTS.md): no login, pseudonymous, no item content.

Checkpoint (with the witnesses' cosignatures) and verifier key as text, how many known
witnesses cosigned it, the offline verifier as one downloadable file, entries, inclusion
and consistency proofs from the stored Merkle nodes, and a Server-Sent Events stream whose
``id`` is the log index.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import bindparam, select

from exam.web.deps import INT64_MAX, DbSession, bounded
from proctoring import checkpoints, cosignatures, log, signer_guard, zipapp
from proctoring.models import LogEntry
from proctoring.web.log_feed import LogFeed

MAX_ENTRIES = 1000
KEEPALIVE_S = 15.0


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def alarm_headers(alarm: dict | None) -> dict[str, str]:
    """``Seleksi-Signer-Alarm: <detected at>; <reason>`` while the signer is halted."""
    if not alarm:
        return {}
    text = f"{alarm.get('detected_at', '')}; {alarm.get('reason', '')}"
    return {SIGNER_ALARM_HEADER: text.encode("ascii", "replace").decode()}


SIGNER_ALARM_HEADER = "Seleksi-Signer-Alarm"


async def witness_summary(request: Request, db_session) -> cosignatures.WitnessSummary:
    """How many of the known witnesses cosigned the latest checkpoint: what every public
    page that shows the checkpoint shows, with ``templates/observer/_witnesses.html``
    (context variable ``witnesses``)."""
    keys = [w.key for w in request.app.state.log_feed.witnesses]
    return await db_session.run_sync(lambda s: cosignatures.summary(s, keys))


class BadRange(HTTPException):
    status_code = 400


async def _size(db_session) -> int:
    return await db_session.run_sync(log.size)


class LogApi(Controller):
    path = "/api/v1/log"
    tags = ["audit log"]  # noqa: RUF012 (Litestar's controller attribute)

    @get("/checkpoint", media_type="text/plain", raises=[NotFoundException])
    async def checkpoint(self, request: Request, db_session: DbSession) -> Response[str]:
        """The latest signed checkpoint (a C2SP signed note). While the signer refuses to
        sign (the database does not extend its last checkpoint), the header
        ``Seleksi-Signer-Alarm`` says since when and why, and the checkpoint served is the
        last one the signer signed, as its state file keeps it."""
        alarm = signer_guard.current_alarm(request.app.state.log_feed.signer)
        if alarm and alarm.get("remembered_checkpoint"):
            # The database is not to be trusted now: the last checkpoint the signer
            # signed, from its own state file.
            note = alarm["remembered_checkpoint"]
        else:
            latest = await db_session.run_sync(checkpoints.latest)
            if latest is None:
                raise NotFoundException("no checkpoint has been signed yet")
            note = await db_session.run_sync(
                lambda s: cosignatures.cosigned_note(s, latest.note, latest.size)
            )
        return Response(note, media_type="text/plain", headers=alarm_headers(alarm))

    @get("/witnesses")
    async def witnesses(self, request: Request, db_session: DbSession) -> dict:
        """How many of the known witnesses cosigned the latest checkpoint
        (``checkpoint_size``): ``known``, ``cosigned``, their names in ``witnesses``, their
        verifier keys in ``keys``, and ``problems``: a witness that refused a checkpoint
        (a fork or a rewritten history) or could not be reached, until it cosigns again."""
        feed = request.app.state.log_feed
        found = await witness_summary(request, db_session)
        return {
            **found.as_dict(),
            "keys": [str(w.key) for w in feed.witnesses],
            "min_witnesses": feed.min_witnesses,
        }

    @get("/verifier.pyz", media_type="application/zip")
    async def verifier(self) -> Response[bytes]:
        """The offline verifier as one file (a Python zipapp): run it with Python 3.11+ and
        the packages ``cryptography`` and ``numpy``; it checks what ``seleksi log verify``
        checks (``proctoring.zipapp``)."""
        data = zipapp.build()
        return Response(
            data,
            media_type="application/zip",
            headers={
                "content-disposition": f'attachment; filename="{zipapp.FILENAME}"',
                "x-content-sha256": zipapp.sha256(),
            },
        )

    @get("/key", media_type="text/plain")
    async def key(self, request: Request) -> str:
        """The verifier key of the log's checkpoints: name+hexid+base64(0x01‖pubkey)."""
        return str(request.app.state.log_feed.signer.verifier) + "\n"

    @get("/entries")
    async def entries(
        self,
        db_session: DbSession,
        start: Annotated[int, bounded(QueryParameter, 0, INT64_MAX)],
        end: Annotated[int, bounded(QueryParameter, 0, INT64_MAX)],
    ) -> dict:
        """Entries with start ≤ index < end (at most 1,000); ``entry`` is the exact
        canonical-JSON text whose UTF-8 bytes are the Merkle leaf."""
        if end <= start or end - start > MAX_ENTRIES:
            raise BadRange(f"need start < end ≤ start + {MAX_ENTRIES}")
        rows = await db_session.run_sync(lambda s: log.entries(s, start, end))
        return {"entries": [{"index": r.index, "entry": r.entry} for r in rows]}

    @get("/proof/inclusion")
    async def inclusion(
        self,
        db_session: DbSession,
        index: Annotated[int, bounded(QueryParameter, 0, INT64_MAX)],
        size: Annotated[int, bounded(QueryParameter, 1, INT64_MAX)],
    ) -> dict:
        """RFC 9162 §2.1.3 inclusion proof of entry ``index`` in the tree of ``size``."""
        if index >= size or size > await _size(db_session):
            raise BadRange("need index < size ≤ the log size")
        return {
            "hashes": _b64(await db_session.run_sync(lambda s: log.inclusion_proof(s, index, size)))
        }

    @get("/proof/consistency")
    async def consistency(
        self,
        db_session: DbSession,
        first: Annotated[int, bounded(QueryParameter, 1, INT64_MAX)],
        second: Annotated[int, bounded(QueryParameter, 1, INT64_MAX)],
    ) -> dict:
        """RFC 9162 §2.1.4 consistency proof between tree sizes ``first`` ≤ ``second``."""
        if first > second or second > await _size(db_session):
            raise BadRange("need first ≤ second ≤ the log size")
        return {
            "hashes": _b64(
                await db_session.run_sync(lambda s: log.consistency_proof(s, first, second))
            )
        }

    @get("/stream")
    async def stream(
        self,
        request: Request,
        since: Annotated[int | None, bounded(QueryParameter, 0, INT64_MAX)] = None,
        # The stream goes on from the index after the last one seen: one the column holds.
        last_event_id: Annotated[
            int | None, bounded(HeaderParameter, -1, INT64_MAX - 1, name="last-event-id")
        ] = None,
    ) -> ServerSentEvent:
        """Every entry from ``since`` (or after ``Last-Event-ID``) on, then live; a
        keep-alive comment every 15 s. With neither, only new entries."""
        feed: LogFeed = request.app.state.log_feed
        if last_event_id is not None:
            start = last_event_id + 1
        elif since is not None:
            start = since
        else:
            start = None
        return ServerSentEvent(_follow(feed, start), headers={"cache-control": "no-store"})


_FOLLOW = (
    select(LogEntry.index, LogEntry.entry)
    .where(LogEntry.index >= bindparam("position"))
    .order_by(LogEntry.index)
    .limit(500)
)


async def _follow(feed: LogFeed, start: int | None) -> AsyncGenerator[ServerSentEventMessage, None]:
    with feed.subscribe() as sub:  # before reading, so nothing appended meanwhile is missed
        position = await feed.read_size() if start is None else start
        yield ServerSentEventMessage(data=None, comment=f"log from {position}", retry=2000)
        while True:
            params = {"position": position}
            rows = await feed.read(lambda c, p=params: c.execute(_FOLLOW, p).all())
            for index, entry in rows:
                yield ServerSentEventMessage(data=entry, id=index, event="entry")
                position = index + 1
            if len(rows) == 500:
                continue
            if not await sub.wait(KEEPALIVE_S):
                yield ServerSentEventMessage(data=None, comment="ping")
