"""The dashboard without a browser: log-in, sessions, CSRF, roles and escaping, through
Starlette's TestClient over a copy of a real guard's data dir (simulated traffic replayed through
the enforcement loop)."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from typer.testing import CliRunner

from harvestguard.cli import app as cli
from harvestguard.config import GuardConfig
from harvestguard.dashboard import DashboardOptions, create_dashboard
from harvestguard.dashboard.accounts import AccountStore, default_accounts_url, users
from harvestguard.dashboard.security import CSRF_FIELD, SESSION_COOKIE
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.incident import build_incident
from tests.dashboard_helpers import PASSWORD, GuardData, add_users, copy_data_dir, shared_guard_data

BASE = "https://testserver"  # the session cookie is Secure: it travels over https only


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory) -> GuardData:
    return shared_guard_data(tmp_path_factory)


@pytest.fixture
def data_dir(guard: GuardData, tmp_path: Path) -> Path:
    add_users(guard.data_dir)  # once: the accounts are copied with the rest
    return copy_data_dir(guard, tmp_path / "guard")


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    # no Redis: this dashboard reaches no decision store
    config = GuardConfig.from_env(environ={"HARVESTGUARD_DATA_DIR": str(data_dir)})
    app = create_dashboard(config, DashboardOptions(refresh_seconds=0))
    with TestClient(app, base_url=BASE, follow_redirects=False) as test_client:
        yield test_client


def _login_token(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Logs in; returns the session's CSRF token, read from a page as a browser would."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, CSRF_FIELD: _login_token(client)},
    )
    assert response.status_code == 303, response.text
    page = client.get("/cases")
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def _a_case(data_dir: Path, guard: GuardData) -> str:
    """An open case that is not the harvester's (the browser test acts on that one)."""
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        return next(c.id for c in store.list("open") if c.id != guard.harvester_case)
    finally:
        store.close()


def _audit(data_dir: Path, case_id: str) -> list[tuple[str, str]]:
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        return [(e.action, e.by) for e in store.audit(case_id)]
    finally:
        store.close()


def _access(data_dir: Path) -> list[tuple[str, str]]:
    store = AccountStore(default_accounts_url(data_dir))
    try:
        return [(e.username, e.action) for e in reversed(store.access_log())]
    finally:
        store.close()


def test_nothing_is_visible_without_logging_in(client: TestClient, guard: GuardData) -> None:
    app_routes = [r for r in client.app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    checked = 0
    for route in app_routes:
        path = route.path.replace("{case_id}", guard.harvester_case).replace("{verb}", "confirm")
        if path.startswith(("/login", "/static")):
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            response = client.request(method, path)
            if method == "GET" and not path.startswith("/api/"):
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 401, (method, path)
            assert guard.harvester_partner not in response.text
            checked += 1
    assert checked >= 12


def test_log_in_sets_a_secure_session_cookie_and_logs_it(
    client: TestClient, data_dir: Path
) -> None:
    response = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, CSRF_FIELD: _login_token(client)},
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert {"secure", "httponly", "samesite=strict"} <= {
        part.strip().lower() for part in cookie.split(";")
    }
    page = client.get("/")
    assert page.status_code == 200 and "viewer (viewer)" in page.text
    assert ("viewer", "login") in _access(data_dir)


def test_a_wrong_password_or_unknown_name_is_refused_and_logged(
    client: TestClient, data_dir: Path
) -> None:
    for name, password in (("analyst", "not the password"), ("nobody", PASSWORD)):
        response = client.post(
            "/login",
            data={"username": name, "password": password, CSRF_FIELD: _login_token(client)},
        )
        assert response.status_code == 401
        assert "wrong password" in response.text
        assert SESSION_COOKIE not in client.cookies
    assert [a for a in _access(data_dir) if a[1] == "login_failed"] == [
        ("analyst", "login_failed"),
        ("nobody", "login_failed"),
    ]


def test_the_log_in_form_needs_its_csrf_token(client: TestClient) -> None:
    _login_token(client)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_passwords_are_stored_as_argon2_hashes(data_dir: Path) -> None:
    store = AccountStore(default_accounts_url(data_dir))
    try:
        with store.engine.connect() as db:
            hashes = db.execute(select(users.c.password_hash)).scalars().all()
    finally:
        store.close()
    assert len(hashes) == 3
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_an_analyst_action_needs_the_csrf_token(
    client: TestClient, data_dir: Path, guard: GuardData
) -> None:
    case_id = _a_case(data_dir, guard)
    token = log_in(client, "analyst")
    before = _audit(data_dir, case_id)
    forged = client.post(f"/cases/{case_id}/confirm", data={"note": "forged"})
    assert forged.status_code == 403
    wrong = client.post(f"/cases/{case_id}/confirm", data={"note": "x", CSRF_FIELD: "0" * 43})
    assert wrong.status_code == 403
    assert _audit(data_dir, case_id) == before
    done = client.post(
        f"/cases/{case_id}/confirm", data={"note": "sweeps venues", CSRF_FIELD: token}
    )
    assert done.status_code == 303
    assert _audit(data_dir, case_id)[-1] == ("confirmed", "analyst")
    assert "Case confirmed." in client.get(done.headers["location"]).text


def test_a_viewer_cannot_act(client: TestClient, data_dir: Path, guard: GuardData) -> None:
    case_id = _a_case(data_dir, guard)
    token = log_in(client, "viewer")
    before = _audit(data_dir, case_id)
    for verb in ("confirm", "dismiss", "ban", "lift", "incident"):
        response = client.post(f"/cases/{case_id}/{verb}", data={"note": "x", CSRF_FIELD: token})
        assert response.status_code == 403, verb
        assert "analyst role" in response.text
    assert _audit(data_dir, case_id) == before
    assert ("viewer", "refused") in _access(data_dir)
    assert client.get("/access").status_code == 403  # the access log is the admin's


def test_log_out_ends_the_session(client: TestClient, data_dir: Path) -> None:
    token = log_in(client, "admin")
    cookie = client.cookies[SESSION_COOKIE]
    assert client.get("/access").status_code == 200
    response = client.post("/logout", data={CSRF_FIELD: token})
    assert response.status_code == 303
    client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")  # replay the old cookie
    assert client.get("/").status_code == 303
    assert ("admin", "logout") in _access(data_dir)


def test_a_role_change_ends_the_users_sessions(client: TestClient, data_dir: Path) -> None:
    log_in(client, "analyst")
    store = AccountStore(default_accounts_url(data_dir))
    try:
        store.set_role("analyst", store.users()[0][0].role, by="admin")
    finally:
        store.close()
    assert client.get("/").status_code == 303


def test_attacker_strings_are_escaped(client: TestClient, data_dir: Path, guard: GuardData) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client.post(
        "/login",
        data={"username": payload, "password": "x", CSRF_FIELD: _login_token(client)},
    )
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        store.record_action(guard.harvester_case, "note", "analyst", payload)
    finally:
        store.close()
    log_in(client, "admin")
    for path in ("/access", f"/cases/{guard.harvester_case}"):
        page = client.get(path)
        assert page.status_code == 200
        assert payload not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]


def test_log_in_never_redirects_off_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'value="//evil.example/x"' not in page.text
    response = client.post(
        "/login",
        data={
            "username": "viewer",
            "password": PASSWORD,
            "next": "https://evil.example/",
            CSRF_FIELD: _login_token(client),
        },
    )
    assert response.headers["location"] == "/"


def test_a_ban_without_a_decision_store_is_refused(
    client: TestClient, data_dir: Path, guard: GuardData
) -> None:
    token = log_in(client, "analyst")
    before = _audit(data_dir, guard.harvester_case)
    response = client.post(
        f"/cases/{guard.harvester_case}/ban", data={"note": "harvesting", CSRF_FIELD: token}
    )
    assert response.status_code == 409 and "HARVESTGUARD_REDIS_URL" in response.text
    assert _audit(data_dir, guard.harvester_case) == before


def test_the_overview_data_adds_up(client: TestClient, data_dir: Path) -> None:
    log_in(client, "viewer")
    data = client.get("/api/overview").json()
    kpis, figures = data["kpis"], data["charts"]
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        flagged = [c for c in store.list() if c.status.value in ("open", "confirmed", "escalated")]
    finally:
        store.close()
    assert kpis["flagged"] == len(flagged) > 0
    assert kpis["records"] == sum(c.evidence.records for c in flagged)
    traffic = sum(sum(trace["y"]) for trace in figures["traffic"]["data"])
    refused = sum(sum(trace["y"]) for trace in figures["refusals"]["data"])
    assert traffic == kpis["requests"] > 0
    assert refused == kpis["refused"] > 0
    assert {t["name"] for t in figures["refusals"]["data"]} <= {"throttle", "challenge", "block"}
    assert max(figures["disclosed"]["data"][1]["y"]) > 0  # the running total


def test_users_command(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["users", "add", "dana", "--role", "analyst", "--password-stdin"]
    args += ["--data-dir", str(data_dir), "--by", "tests"]
    added = runner.invoke(cli, args, input="a long enough secret\n")
    assert added.exit_code == 0, added.output
    short = runner.invoke(cli, [*args[:2], "erin", *args[3:]], input="short\n")
    assert short.exit_code == 2 and "at least" in short.output
    bad_role = runner.invoke(cli, ["users", "role", "dana", "owner", "--data-dir", str(data_dir)])
    assert bad_role.exit_code == 2
    listed = runner.invoke(cli, ["users", "list", "--data-dir", str(data_dir)])
    assert "dana" in listed.output and "analyst" in listed.output and "erin" not in listed.output
    removed = runner.invoke(cli, ["users", "remove", "dana", "--data-dir", str(data_dir)])
    assert removed.exit_code == 0
    again = runner.invoke(cli, ["users", "remove", "dana", "--data-dir", str(data_dir)])
    assert again.exit_code == 2 and "no user" in again.output


def test_mounted_beside_an_app_its_links_stay_under_its_path(data_dir: Path) -> None:
    config = GuardConfig.from_env(environ={"HARVESTGUARD_DATA_DIR": str(data_dir)})
    dashboard = create_dashboard(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with dashboard.router.lifespan_context(dashboard):
            yield

    async def home(_request: Request) -> Response:
        return PlainTextResponse("the platform")

    platform = Starlette(
        routes=[Route("/", home), Mount("/guard", app=dashboard)], lifespan=lifespan
    )
    with TestClient(platform, base_url=BASE, follow_redirects=False) as client:
        assert client.get("/").text == "the platform"
        refused = client.get("/guard/cases")
        assert refused.headers["location"] == "/guard/login?next=/guard/cases"
        page = client.get("/guard/login?next=/guard/cases")
        token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
        assert token and 'action="/guard/login"' in page.text
        response = client.post(
            "/guard/login",
            data={
                "username": "viewer",
                "password": PASSWORD,
                "next": "/guard/cases",
                CSRF_FIELD: token.group(1),
            },
        )
        assert response.headers["location"] == "/guard/cases"
        cases = client.get("/guard/cases")
        assert cases.status_code == 200 and 'href="/guard/cases/C-' in cases.text


def test_the_case_data_is_the_cases_and_the_events(
    client: TestClient, data_dir: Path, guard: GuardData
) -> None:
    log_in(client, "viewer")
    figures = client.get(f"/api/cases/{guard.harvester_case}").json()["charts"]
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        case = store.get(guard.harvester_case)
    finally:
        store.close()
    drawn = {
        text.split(" (")[0] for trace in figures["graph"]["data"][1:] for text in trace["text"]
    }
    assert drawn == {f"{kind}:{value}" for kind, value in case.keys if kind != "ua"}
    report = build_incident(case, f"parquet:{data_dir / 'events'}")
    affected = figures["affected"]["data"][0]
    assert dict(zip(affected["x"], affected["y"], strict=True)) == report.accounts_by_class
    assert report.accounts_by_class["location"] > 0
    actions = figures["timeline"]["data"][-1]
    assert len(actions["x"]) == sum(1 for e in store_audit(data_dir, case.id) if e != "updated")


def store_audit(data_dir: Path, case_id: str) -> list[str]:
    return [action for action, _ in _audit(data_dir, case_id)]


def test_the_detectors_and_policy_pages(client: TestClient, data_dir: Path) -> None:
    log_in(client, "viewer")
    store = CaseStore(f"sqlite:///{data_dir / 'cases.db'}")
    try:
        fired = Counter(d.detector for c in store.list() for d in c.evidence.detectors)
    finally:
        store.close()
    chart = client.get("/api/detectors").json()["charts"]["detectors"]
    undecided = next(t for t in chart["data"] if t["name"] == "not judged")
    assert dict(zip(undecided["x"], undecided["y"], strict=True)) == dict(fired)
    assert "geo_sweep" in client.get("/detectors").text  # every shipped detector is listed
    policy = client.get("/policy").text
    email = re.search(r"<td>email</td><td>contact</td>(.*?)</tr>", policy, re.S)
    assert email and email.group(1).count("hidden") >= 3  # strangers never see an email
