"""The authorization matrix: every route of the app × every role (anonymous, applicant,
another applicant, observer, committee). Each request carries a valid CSRF token, so a
refusal is the guard's, not the CSRF check's."""

import re

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from sqlalchemy import select

from exam.adapters import database
from exam.adapters.models import User
from exam.app import PUBLIC_PATHS, create_app
from exam.usecases import rooms
from tests.web.conftest import csrf, login
from tests.web.test_attempt_api import exam_ready  # noqa: F401 (the fixture)

ROLES = {
    "anonymous": None,
    "applicant": "peserta01",
    "observer": "pengamat",
    "committee": "komite",
    "proctor": "pengawas",
}
#: Which roles a path prefix is for (public paths are open to all).
OWNERS = [
    (r"^/committee/", {"committee"}),
    (r"^/observer/exams/[^/]+/forensics$", {"committee"}),  # the screening's settings
    (r"^/observer", {"observer", "committee"}),
    (r"^/exam", {"applicant"}),
    (r"^/proctor", {"proctor"}),
    (r"^/assets/", {"applicant", "committee"}),  # item pictures: never for observers
    (r"^/api/v1/attempts/", {"applicant"}),
    (r"^/api/v1/exams/[^/]+/attempts$", {"applicant"}),
]
#: Requested by no one here: logging out would end the client's session mid-matrix.
SKIP = {"/logout", "/api/v1/auth/logout"}
VALUES = {"code": "UJI", "exam_code": "UJI", "item_id": "TWK-001", "pseudonym": "Px"}


def concrete(path: str, attempt_id: int) -> str:
    def fill(m: re.Match) -> str:
        name = m.group(1).split(":")[0]
        return str(attempt_id) if name == "attempt_id" else VALUES.get(name, "1")

    return re.sub(r"\{([^}]+)\}", fill, path)


def owners(path: str) -> set[str] | None:
    if any(re.match(p, path) for p in PUBLIC_PATHS):
        return None
    for pattern, roles in OWNERS:
        if re.match(pattern, path):
            return roles
    return set(ROLES) - {"anonymous"}  # any logged-in role (home, logout, language)


def routes(app) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/static"):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((route.path, method))
    return out


@pytest.fixture
def apps(exam_ready):  # noqa: F811
    engine = database.sync_engine(exam_ready)
    with database.session_factory(engine)() as session, session.begin():
        proctor = session.scalar(select(User).where(User.username == "pengawas"))
        rooms.bind_proctor(session, proctor, [("S1", "R1")])
    engine.dispose()
    with TestClient(app=create_app(exam_ready)) as owner:
        login(owner, "peserta01")
        owner.post("/api/v1/exams/UJI/attempts", headers={"x-csrftoken": csrf(owner)})
        attempt_id = owner.get("/api/v1/attempts/1").json()["attempt_id"]
        yield exam_ready, attempt_id


def test_every_route_refuses_every_role_it_is_not_for(apps):
    settings, attempt_id = apps
    app = create_app(settings)
    checked = 0
    for role, username in ROLES.items():
        with TestClient(app=create_app(settings)) as client:
            if username:
                assert login(client, username).status_code == 303
            for path, method in routes(app):
                allowed = owners(path)
                if allowed is None or path in SKIP:
                    continue  # open to all (the log stream never ends), or logs out
                url = concrete(path, attempt_id)
                res = client.request(
                    method, url, headers={"x-csrftoken": csrf(client)}, follow_redirects=False
                )
                where = f"{role} {method} {url}: {res.status_code}"
                if role in allowed:
                    assert res.status_code not in (401, 403), where
                elif role == "anonymous":
                    assert res.status_code in (401, 303), where
                    if res.status_code == 303:
                        assert res.headers["location"] == "/login", where
                else:
                    assert res.status_code == 403, where
                checked += 1
    assert checked > 150, checked


def test_an_applicant_cannot_read_or_write_another_applicants_attempt(apps):
    settings, attempt_id = apps
    with TestClient(app=create_app(settings)) as other:
        assert login(other, "peserta02").status_code == 303
        token = {"x-csrftoken": csrf(other)}
        assert other.get(f"/api/v1/attempts/{attempt_id}").status_code == 404
        assert other.get(f"/api/v1/attempts/{attempt_id}/result").status_code == 404
        answer = {"step": 0, "item_id": "TWK-001", "choice": "A"}
        res = other.post(f"/api/v1/attempts/{attempt_id}/answers", json=answer, headers=token)
        assert res.status_code == 404
        event = {"type": "blur", "at": 1}
        res = other.post(f"/api/v1/attempts/{attempt_id}/events", json=event, headers=token)
        assert res.status_code == 404


def test_every_state_changing_route_needs_the_csrf_token(apps):
    settings, attempt_id = apps
    app = create_app(settings)
    unsafe = [(p, m) for p, m in routes(app) if m in {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(unsafe) >= 29
    for username in ("komite", "peserta01"):
        with TestClient(app=create_app(settings)) as client:
            assert login(client, username).status_code == 303
            for path, method in unsafe:
                url = concrete(path, attempt_id)
                res = client.request(method, url, follow_redirects=False)  # no token
                assert res.status_code == 403, f"{username} {method} {url}: {res.status_code}"
                assert "csrf" in res.text.lower(), f"{method} {url}: {res.text[:200]}"


def session_cookie(res) -> str:
    [cookie] = [c for c in res.headers.get_list("set-cookie") if c.startswith("seleksi_session=")]
    return cookie


def test_the_session_cookie_flags(apps):
    settings, _ = apps
    with TestClient(app=create_app(settings)) as client:
        cookie = session_cookie(login(client, "pengamat")).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie.replace("samesite", "")
    secure = settings.model_copy(update={"secure_cookies": True})
    with TestClient(app=create_app(secure), base_url="https://testserver.local") as client:
        cookie = session_cookie(login(client, "pengamat")).lower()
        assert "; secure" in cookie and "httponly" in cookie


def test_a_session_id_planted_before_login_is_worthless_after_it(apps):
    settings, _ = apps
    planted = "a" * 64
    with TestClient(app=create_app(settings)) as victim:
        victim.cookies.set("seleksi_session", planted)
        res = login(victim, "pengamat")
        assert res.status_code == 303
        issued = session_cookie(res).split(";")[0].split("=", 1)[1]
        assert issued != planted and len(issued) >= 32
        assert victim.get("/observer/").status_code == 200
    with TestClient(app=create_app(settings)) as attacker:
        attacker.cookies.set("seleksi_session", planted)
        assert attacker.get("/observer/", follow_redirects=False).status_code in (303, 401)
