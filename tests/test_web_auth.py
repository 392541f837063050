"""Signing up, logging in and out, CSRF on every form, and the account's settings pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from photoshare import csrf
from photoshare.app import create_app
from photoshare.deps import SESSION_COOKIE
from photoshare.models import Follow, PartnerAuthorisation, User, WebSession
from photoshare.routes import auth, social
from photoshare.security import token_hash
from photoshare.settings import Settings
from tests.factories import PASSWORD, World
from tests.web_helpers import act_as, form_token, login_form

NEW_PASSWORD = "a long enough secret"


def _sign_up(client: TestClient, **fields: str) -> tuple[int, str, str | None]:
    token = form_token(client.get("/signup").text)
    data = {"username": "newbie", "email": "newbie@example.org", "password": NEW_PASSWORD}
    response = client.post(
        "/signup", data={**data, **fields, "csrf_token": token}, follow_redirects=False
    )
    return response.status_code, response.text, response.headers.get("location")


def _session_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(WebSession)) or 0


def test_sign_up_logs_in_with_a_hardened_cookie(client: TestClient, db: Session) -> None:
    form = client.get("/signup")
    assert 'name="csrf_token"' in form.text
    assert "ps_csrf" in form.headers["set-cookie"]

    token = form_token(form.text)
    response = client.post(
        "/signup",
        data={
            "username": "Newbie",
            "email": "newbie@example.org",
            "password": NEW_PASSWORD,
            "csrf_token": token,
        },
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag in cookie
    user = db.scalars(select(User).where(User.username == "newbie")).one()
    assert user.password_hash.startswith("$argon2")
    session_token = client.cookies[SESSION_COOKIE]
    row = db.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    assert row.token_hash == token_hash(session_token) != session_token
    home = client.get("/")
    assert "@newbie" in home.text and "Log out" in home.text


def test_cookies_are_not_secure_when_the_settings_say_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "plain", secret_key="k", secure_cookies=False)
    with TestClient(create_app(settings), base_url="http://testserver") as plain:
        token = form_token(plain.get("/signup").text)
        response = plain.post(
            "/signup",
            data={
                "username": "plain",
                "email": "p@example.org",
                "password": NEW_PASSWORD,
                "csrf_token": token,
            },
            follow_redirects=False,
        )
    assert response.status_code == 303
    assert "HttpOnly" in response.headers["set-cookie"]
    assert "Secure" not in response.headers["set-cookie"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "ab"}, "3 to 30 characters"),
        ({"username": "x" * 31}, "3 to 30 characters"),
        ({"username": "bad name!"}, "3 to 30 characters"),
        ({"username": "<script>"}, "3 to 30 characters"),
        ({"password": "nine char"}, "at least 10 characters"),
        ({"email": "not-an-email"}, "valid email"),
        ({"email": ""}, "valid email"),
    ],
)
def test_sign_up_rejects_bad_input(
    client: TestClient, db: Session, fields: dict[str, str], message: str
) -> None:
    status, body, _ = _sign_up(client, **fields)
    assert status == 400
    assert message in body
    assert "<script>" not in body
    assert db.scalar(select(func.count()).select_from(User)) == 0
    assert SESSION_COOKIE not in client.cookies


def test_sign_up_refuses_a_taken_username(client: TestClient, db: Session, world: World) -> None:
    world.user("alice")
    status, body, _ = _sign_up(client, username="alice")
    assert status == 400
    assert "That username is taken." in body
    assert db.scalar(select(func.count()).select_from(User)) == 1


def test_log_in_and_log_out(client: TestClient, db: Session, world: World) -> None:
    world.user("alice")

    response = client.post("/login", data=login_form(client, "alice"), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert _session_count(db) == 1
    settings_page = client.get("/settings")
    assert settings_page.status_code == 200
    assert "alice@example.org" in settings_page.text

    out = client.post(
        "/logout", data={"csrf_token": form_token(settings_page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert _session_count(db) == 0
    after = client.get("/settings", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"] == "/login?next=%2Fsettings"


def test_a_stolen_cookie_stops_working_after_log_out(
    client: TestClient, db: Session, world: World
) -> None:
    world.user("alice")
    client.post("/login", data=login_form(client, "alice"), follow_redirects=False)
    stolen = client.cookies[SESSION_COOKIE]
    client.post("/logout", data={"csrf_token": form_token(client.get("/").text)})
    client.cookies.set(SESSION_COOKIE, stolen)
    assert "Log out" not in client.get("/").text


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password!"), ("nobody", PASSWORD), ("alice", "")],
)
def test_log_in_fails_with_wrong_credentials(
    client: TestClient, db: Session, world: World, username: str, password: str
) -> None:
    world.user("alice")
    response = client.post(
        "/login", data=login_form(client, username, password), follow_redirects=False
    )
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert SESSION_COOKIE not in str(response.headers.get("set-cookie"))
    assert _session_count(db) == 0


def test_disabled_accounts_cannot_log_in_and_lose_their_sessions(
    client: TestClient, db: Session, world: World
) -> None:
    alice = world.user("alice")
    client.post("/login", data=login_form(client, "alice"), follow_redirects=False)
    alice.disabled = True
    db.commit()

    assert client.get("/settings", follow_redirects=False).status_code == 303
    client.cookies.clear()
    response = client.post("/login", data=login_form(client, "alice"), follow_redirects=False)
    assert response.status_code == 401
    assert _session_count(db) == 1  # only the old one, which no longer counts


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/p/7", "/p/7"),
        ("/search?q=x", "/search?q=x"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_log_in_returns_only_to_local_pages(
    client: TestClient, world: World, next_url: str, expected: str
) -> None:
    world.user("alice")
    token = form_token(client.get("/login", params={"next": next_url}).text)
    response = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == expected


@pytest.mark.parametrize("path", ["/login", "/signup"])
def test_logged_out_forms_need_their_signed_token(
    client: TestClient, db: Session, world: World, path: str
) -> None:
    world.user("alice")
    data = {"username": "alice", "password": PASSWORD, "email": "x@example.org"}
    token = form_token(client.get(path).text)
    forged = URLSafeTimedSerializer("another key", salt="photoshare.csrf").dumps(
        client.cookies[csrf.COOKIE]
    )

    assert client.post(path, data=data).status_code == 403
    assert client.post(path, data={**data, "csrf_token": "garbage"}).status_code == 403
    assert client.post(path, data={**data, "csrf_token": forged}).status_code == 403
    client.cookies.delete(csrf.COOKIE)
    assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert _session_count(db) == 0


def _session_form_routes() -> list[str]:
    """Every form post of a logged-in account, path parameters filled with the world's ids."""
    fill = {"{username}": "bob", "{post_id:int}": "1", "{follow_id:int}": "1", "{app_id:int}": "1"}
    paths = []
    for router in (auth.router, social.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if "POST" in (route.methods or set()) and route.path not in ("/login", "/signup"):
                path = route.path
                for placeholder, value in fill.items():
                    path = path.replace(placeholder, value)
                assert "{" not in path, f"teach this test to fill {route.path}"
                paths.append(path)
    return paths


SESSION_FORMS = _session_form_routes()


@pytest.mark.parametrize("path", SESSION_FORMS)
def test_every_logged_in_form_needs_the_session_token(
    client: TestClient, db: Session, world: World, path: str
) -> None:
    alice = world.user("alice", business=True)
    bob = world.user("bob", private=True)
    world.post(bob)
    world.follow(bob, alice, approved=False)
    world.partner_app()
    act_as(client, db, alice)
    other_session = act_as(client, db, bob)
    act_as(client, db, alice)

    for data in ({}, {"csrf_token": ""}, {"csrf_token": other_session}, {"text": "hi"}):
        response = client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, (path, data)
    assert db.scalar(select(Follow.status).where(Follow.follower_id == bob.id)) == "pending"
    assert "Log out" in client.get("/").text


def test_the_login_redirect_comes_before_the_token_check(client: TestClient) -> None:
    response = client.post(
        "/u/bob/follow", headers={"referer": "https://testserver/u/bob"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fu%2Fbob"


def test_settings_update_the_profile(client: TestClient, db: Session, world: World) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)
    response = client.post(
        "/settings",
        data={
            "csrf_token": token,
            "display_name": "Alice <b>A</b>",
            "bio": "photos of <i>cats</i>",
            "email": "new@example.org",
            "private": "true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    db.refresh(alice)
    assert (alice.display_name, alice.bio, alice.email, alice.is_private) == (
        "Alice <b>A</b>",
        "photos of <i>cats</i>",
        "new@example.org",
        True,
    )
    page = client.get("/settings?saved=true").text
    assert "Saved." in page
    assert "Alice &lt;b&gt;A&lt;/b&gt;" in page and "<b>A</b>" not in page

    client.post("/settings", data={"csrf_token": token, "email": "new@example.org"})
    db.refresh(alice)
    assert alice.is_private is False
    assert alice.display_name == "alice"


@pytest.mark.parametrize(
    "fields",
    [{"email": "nope"}, {"display_name": "x" * 81}, {"bio": "x" * 301}],
)
def test_settings_reject_bad_input(
    client: TestClient, db: Session, world: World, fields: dict[str, str]
) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)
    data = {"csrf_token": token, "email": "alice@example.org", **fields}
    response = client.post("/settings", data=data)
    assert response.status_code == 400
    assert 'class="problems"' in response.text
    db.refresh(alice)
    assert alice.email == "alice@example.org" and alice.bio == "bio of alice"


def test_only_business_accounts_authorise_partner_apps(
    client: TestClient, db: Session, world: World
) -> None:
    app, _ = world.partner_app("Acme Insights")
    revoked, _ = world.partner_app("Gone Analytics")
    revoked.revoked = True
    db.commit()
    person = world.user("person")
    shop = world.user("shop", business=True)

    def authorisations() -> int:
        return db.scalar(select(func.count()).select_from(PartnerAuthorisation)) or 0

    token = act_as(client, db, person)
    page = client.get("/settings/apps").text
    assert "Acme Insights" in page and "Gone Analytics" not in page
    assert "/authorise" not in page
    denied = client.post(f"/settings/apps/{app.id}/authorise", data={"csrf_token": token})
    assert denied.status_code == 403 and "Only business accounts" in denied.text
    assert authorisations() == 0

    token = act_as(client, db, shop)
    for _ in range(2):
        response = client.post(f"/settings/apps/{app.id}/authorise", data={"csrf_token": token})
        assert response.status_code == 200 and "Revoke access" in response.text
    assert authorisations() == 1
    gone = client.post(f"/settings/apps/{revoked.id}/authorise", data={"csrf_token": token})
    assert gone.status_code == 404
    client.post(f"/settings/apps/{app.id}/revoke", data={"csrf_token": token})
    assert authorisations() == 0


def test_settings_pages_need_a_login(client: TestClient) -> None:
    for path in ("/settings", "/settings/apps"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert re.fullmatch(r"/login\?next=%2Fsettings(%2Fapps)?", response.headers["location"])
