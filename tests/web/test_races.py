"""Concurrent requests for the same attempt against a real server (SQLite, several requests
in flight at once): the same answer gets the same reply, a different one a change in a
fixed section and 409 in an adaptive one, a double
start one attempt, and concurrent events each their own log index."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.live_server import PASSWORD, server  # noqa: F401 (the server fixture)


async def client(url: str, user: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=url, timeout=60)
    await c.get("/login")
    c.headers["x-csrftoken"] = c.cookies["csrftoken"]
    res = await c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert res.status_code == 200, res.text
    return c


async def scenario(url: str) -> None:
    c = await client(url, "peserta05")
    starts = await asyncio.gather(*[c.post("/api/v1/exams/UJI/attempts") for _ in range(4)])
    assert [r.status_code for r in starts] == [200] * 4
    assert len({r.json()["attempt_id"] for r in starts}) == 1
    attempt = starts[0].json()["attempt_id"]
    view = (await c.get(f"/api/v1/attempts/{attempt}")).json()
    body = {"step": view["step"], "item_id": view["item"]["item_id"], "choice": "A"}
    same = await asyncio.gather(
        *[c.post(f"/api/v1/attempts/{attempt}/answers", json=body) for _ in range(4)]
    )
    assert [r.status_code for r in same] == [200] * 4
    assert len({r.text for r in same}) == 1
    view = (await c.get(f"/api/v1/attempts/{attempt}")).json()
    step, item = view["step"], view["item"]["item_id"]
    mixed = await asyncio.gather(
        *[
            c.post(
                f"/api/v1/attempts/{attempt}/answers",
                json={"step": step, "item_id": item, "choice": choice},
            )
            for choice in "ABCD"
        ]
    )
    # TWK is a fixed section: each different answer is a change, taken one at a time.
    assert [r.status_code for r in mixed] == [200] * 4, [r.text for r in mixed]
    assert len({r.json()["log_index"] for r in mixed}) == 4
    finished = await c.post(f"/api/v1/attempts/{attempt}/sections/current/finish")
    assert finished.status_code == 200, finished.text
    # TIU is adaptive: one of four different answers to its step is taken, three get 409.
    view = finished.json()["attempt"]
    step, item = view["step"], view["item"]["item_id"]
    mixed = await asyncio.gather(
        *[
            c.post(
                f"/api/v1/attempts/{attempt}/answers",
                json={"step": step, "item_id": item, "choice": choice},
            )
            for choice in "ABCD"
        ]
    )
    codes = sorted(r.status_code for r in mixed)
    assert codes == [200, 409, 409, 409], [r.text for r in mixed]
    events = await asyncio.gather(
        *[
            c.post(f"/api/v1/attempts/{attempt}/events", json={"type": "blur", "at": k})
            for k in range(12)
        ]
    )
    assert [r.status_code for r in events] == [200] * 12
    assert len({r.json()["log_index"] for r in events}) == 12
    await c.aclose()


def test_concurrent_requests_for_one_attempt(server):  # noqa: F811
    # In a thread of its own: the browser tests' Playwright may hold this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(scenario(server))).result()
