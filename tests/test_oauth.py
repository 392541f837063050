"""POST /oauth/token (client credentials) and bearer-token authentication of the partner API."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from photoshare.db import utcnow
from photoshare.models import PartnerToken, WebSession
from photoshare.security import new_token, token_hash
from photoshare.settings import Settings
from tests.factories import World
from tests.partner_helpers import bearer, token_for

GRANT = {"grant_type": "client_credentials"}
ERROR_KEYS = {"error", "error_description"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def _assert_oauth_error(response: Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert set(response.json()) == ERROR_KEYS
    assert response.headers["cache-control"] == "no-store"


def test_basic_auth_issues_a_hashed_expiring_token(
    client: TestClient, world: World, db: Session, settings: Settings
) -> None:
    app, secret = world.partner_app(scopes="profile:basic media:read")
    response = client.post("/oauth/token", data=GRANT, auth=(app.client_id, secret))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert body["scope"] == "compliance:read media:read profile:basic"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers

    rows = list(db.scalars(select(PartnerToken).where(PartnerToken.app_id == app.id)))
    assert len(rows) == 1
    assert rows[0].token_hash == token_hash(body["access_token"])
    assert body["access_token"] not in {rows[0].token_hash, rows[0].scopes}
    lifetime = rows[0].expires_at - utcnow()
    assert timedelta(seconds=settings.token_ttl_seconds - 60) < lifetime
    assert lifetime <= timedelta(seconds=settings.token_ttl_seconds)


def test_form_credentials_issue_a_token(client: TestClient, world: World) -> None:
    app, secret = world.partner_app(scopes="profile:basic")
    form = {**GRANT, "client_id": app.client_id, "client_secret": secret}
    response = client.post("/oauth/token", data=form)
    assert response.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(response.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["client_id"] == app.client_id


def test_requested_scopes_narrow_the_token(client: TestClient, world: World) -> None:
    app, secret = world.partner_app(scopes="profile:basic profile:bio media:read")
    response = client.post(
        "/oauth/token", data={**GRANT, "scope": "media:read"}, auth=(app.client_id, secret)
    )
    assert response.json()["scope"] == "media:read"
    me = client.get("/api/v1/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["scopes"] == ["media:read"]


@pytest.mark.parametrize(
    "scope", ["profile:basic contact:read", "location:read", "stories:read", "admin"]
)
def test_scope_escalation_is_refused(
    client: TestClient, world: World, db: Session, scope: str
) -> None:
    app, secret = world.partner_app(scopes="profile:basic media:read")
    response = client.post(
        "/oauth/token", data={**GRANT, "scope": scope}, auth=(app.client_id, secret)
    )
    _assert_oauth_error(response, 400, "invalid_scope")
    assert db.scalar(select(PartnerToken).where(PartnerToken.app_id == app.id)) is None


def test_wrong_secret_and_unknown_client_look_alike(client: TestClient, world: World) -> None:
    app, secret = world.partner_app()
    wrong = client.post("/oauth/token", data=GRANT, auth=(app.client_id, secret + "x"))
    unknown = client.post("/oauth/token", data=GRANT, auth=("0" * 24, secret))
    for response in (wrong, unknown):
        _assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")
    assert wrong.json() == unknown.json()


def test_wrong_form_secret_is_invalid_client(client: TestClient, world: World) -> None:
    app, _secret = world.partner_app()
    form = {**GRANT, "client_id": app.client_id, "client_secret": "guess"}
    _assert_oauth_error(client.post("/oauth/token", data=form), 401, "invalid_client")


def test_revoked_app_gets_no_token_and_its_tokens_stop_working(
    client: TestClient, world: World, db: Session
) -> None:
    app, secret = world.partner_app()
    token = token_for(client, app, secret)
    app.revoked = True
    db.commit()
    response = client.post("/oauth/token", data=GRANT, auth=(app.client_id, secret))
    _assert_oauth_error(response, 401, "invalid_client")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "x"])
def test_other_grant_types_are_unsupported(
    client: TestClient, world: World, grant_type: str
) -> None:
    app, secret = world.partner_app()
    response = client.post(
        "/oauth/token", data={"grant_type": grant_type}, auth=(app.client_id, secret)
    )
    _assert_oauth_error(response, 400, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(client: TestClient, world: World) -> None:
    app, secret = world.partner_app()
    response = client.post("/oauth/token", data={}, auth=(app.client_id, secret))
    _assert_oauth_error(response, 400, "invalid_request")


def test_json_body_is_not_a_token_request(client: TestClient, world: World) -> None:
    app, secret = world.partner_app()
    response = client.post("/oauth/token", json=GRANT, auth=(app.client_id, secret))
    _assert_oauth_error(response, 400, "invalid_request")


def test_repeated_parameters_are_invalid_request(client: TestClient, world: World) -> None:
    app, secret = world.partner_app()
    response = client.post(
        "/oauth/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **_basic(app.client_id, secret),
        },
    )
    _assert_oauth_error(response, 400, "invalid_request")


def test_two_authentication_methods_are_invalid_request(client: TestClient, world: World) -> None:
    app, secret = world.partner_app()
    form = {**GRANT, "client_id": app.client_id, "client_secret": secret}
    response = client.post("/oauth/token", data=form, auth=(app.client_id, secret))
    _assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
        "Bearer sometoken",
    ],
)
def test_missing_or_malformed_client_authentication(
    client: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.post("/oauth/token", data=GRANT, headers=headers)
    _assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_expired_token_is_refused(client: TestClient, world: World, db: Session) -> None:
    app, secret = world.partner_app()
    token = token_for(client, app, secret)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    row = db.scalar(select(PartnerToken).where(PartnerToken.token_hash == token_hash(token)))
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "invalid_token" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Token abc", "Bearer not-a-real-token"],
)
def test_api_refuses_missing_or_malformed_authorization(
    client: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert set(response.json()) == ERROR_KEYS
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_web_session_cookie_gives_no_api_access(
    client: TestClient, world: World, db: Session
) -> None:
    alice = world.user("alice")
    cookie = new_token()
    db.add(
        WebSession(
            token_hash=token_hash(cookie),
            user_id=alice.id,
            csrf_token=new_token(),
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    db.commit()
    client.cookies.set("ps_session", cookie)
    response = client.get(f"/api/v1/users/{alice.id}")
    assert response.status_code == 401
    assert "alice" not in response.text


def test_a_token_request_opens_no_web_session(
    client: TestClient, world: World, db: Session
) -> None:
    app, secret = world.partner_app()
    token_for(client, app, secret)
    assert not client.cookies
    assert db.scalar(select(WebSession)) is None
