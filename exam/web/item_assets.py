"""Item pictures by SHA-256, and item text as pages show it.

A picture's URL names its content, so a browser may keep it for good (``immutable``);
only logged-in applicants and committee members get pictures, as they get item text.
The reply's own Content-Security-Policy sandboxes an SVG opened on its own.
"""

from __future__ import annotations

import re

from litestar import Response, get
from litestar.datastructures import ResponseHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from markupsafe import Markup, escape

from exam.adapters.security import role_guard
from exam.web.deps import DbSession
from itembank import markup
from itembank.models import ItemAsset

_SHA256 = re.compile(r"[0-9a-f]{64}")


def asset_url(sha256: str) -> str:
    return f"/assets/{sha256}"


def item_html(text: str, rich: bool = False) -> Markup:
    """An item's stem or option as a page shows it: markup sanitised again, with its
    pictures' URLs; plain text escaped."""
    if rich:
        return Markup(markup.render(text, asset_url))
    return escape(text)


@get(
    "/assets/{sha256:str}",
    name="item-asset",
    guards=[role_guard("applicant", "committee")],
    include_in_schema=False,
    response_headers=[
        ResponseHeader(
            name="Content-Security-Policy",
            value="default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ),
    ],
)
async def item_asset(sha256: FromPath[str], db_session: DbSession) -> Response[bytes]:
    """One picture, by the SHA-256 of its bytes."""
    row = await db_session.get(ItemAsset, sha256) if _SHA256.fullmatch(sha256) else None
    if row is None:
        raise NotFoundException("no such picture")
    return Response(
        row.data,
        media_type=row.media_type,
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )
