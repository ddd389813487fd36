"""The proctor's (pengawas) room view: the applicants of the proctor's rooms with their
status, incident notes, and pausing and resuming a room. A proctor never sees items, keys
or scores: the view holds a status, an item number and whether the page is connected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from msgspec import Meta
from sqlalchemy.orm import Session

from exam.adapters.security import CurrentUser, role_guard
from exam.usecases import rooms
from exam.web.api_attempts import NO_STORE
from proctoring import incidents

proctor_only = role_guard("proctor")
Name = Annotated[str, Meta(max_length=64)]


@dataclass
class RoomForm:
    exam: Name
    site: Name
    room: Name


@dataclass
class NoteForm:
    exam: Name
    site: Name
    room: Name
    text: Annotated[str, Meta(min_length=1, max_length=2000)]


class ProctorPages(Controller):
    path = "/proctor"
    guards = [proctor_only]  # noqa: RUF012 (Litestar's controller attribute)
    include_in_schema = False
    cache_control = NO_STORE

    @get("/", name="proctor-rooms")
    async def rooms_page(self, request: Request) -> Template:
        """Every room of the proctor's places, refreshed every few seconds."""
        user: CurrentUser = request.user
        now = request.app.state.clock()
        settings = request.app.state.settings
        # Connected: a contact within two heartbeats and the writing interval.
        within = 2 * settings.heartbeat_s + settings.contact_flush_s

        def run(session: Session):
            return rooms.proctor_rooms(session, user.id), rooms.room_views(
                session, user.id, now, within
            )

        places, views = await request.app.state.db.run(run)
        return Template("proctor/rooms.html", context={"places": places, "views": views})

    @post("/pause", name="proctor-pause", status_code=303)
    async def pause(
        self,
        request: Request,
        data: Annotated[RoomForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        user: CurrentUser = request.user
        now = request.app.state.clock()
        await request.app.state.db.write(
            lambda s: rooms.pause_room(s, user.id, data.exam, data.site, data.room, now)
        )
        return Redirect("/proctor/", status_code=303)

    @post("/resume", name="proctor-resume", status_code=303)
    async def resume(
        self,
        request: Request,
        data: Annotated[RoomForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        user: CurrentUser = request.user
        now = request.app.state.clock()
        await request.app.state.db.write(
            lambda s: rooms.resume_room(s, user.id, data.exam, data.site, data.room, now)
        )
        return Redirect("/proctor/", status_code=303)

    @post("/notes", name="proctor-note", status_code=303)
    async def note(
        self,
        request: Request,
        data: Annotated[NoteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """An incident note about a room: an entry of the audit log, as observers' are."""
        user: CurrentUser = request.user
        now = request.app.state.clock()

        def run(session: Session) -> int:
            rooms.check_room(session, user.id, data.exam, data.site, data.room)
            text = f"[{data.site}/{data.room}] {data.text.strip()}"
            return incidents.add_note(session, data.exam, user.id, user.role, text, "", now)

        await request.app.state.db.write(run)
        return Redirect("/proctor/?noted=1", status_code=303)
