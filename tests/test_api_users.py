"""Partner API: the app itself, profiles by id and username, search and batch lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from photoshare.models import User
from tests.factories import World
from tests.partner_helpers import Partner, bearer, partner, token_for

BASIC = {"id", "username", "display_name", "avatar_url", "is_business", "is_private"}
BIO = {"bio"}
INSIGHTS = {"follower_count", "following_count", "post_count"}
CONTACT = {"email"}
ALL_SCOPES = "profile:basic profile:bio profile:insights contact:read media:read location:read"


@dataclass
class People:
    alice: User  # public business account that authorised the app
    bob: User  # public account that did not
    carol: User  # private account that authorised the app


@pytest.fixture
def people(world: World, db: Session) -> People:
    alice = world.user("alice", business=True, bio="cakes and coffee")
    alice.avatar_id = world.media(alice).id
    bob = world.user("bob")
    carol = world.user("carol", private=True)
    fan, other_fan, hopeful = (world.user(name) for name in ("fan", "other_fan", "hopeful"))
    world.follow(fan, alice)
    world.follow(other_fan, alice)
    world.follow(hopeful, alice, approved=False)
    world.follow(alice, bob)
    world.post(alice)
    db.commit()
    return People(alice, bob, carol)


def _app(client: TestClient, world: World, people: People, scopes: str = ALL_SCOPES) -> Partner:
    return partner(client, world, scopes, authorised_by=[people.alice, people.carol])


def test_me_describes_the_app_and_nothing_personal(client: TestClient, world: World) -> None:
    app = partner(client, world, "profile:basic media:read")
    response = client.get("/api/v1/me", headers=app.headers)
    assert response.status_code == 200
    assert response.json() == {
        "client_id": app.app.client_id,
        "name": "Acme Insights",
        "purpose": "analytics for business accounts",
        "scopes": ["compliance:read", "media:read", "profile:basic"],  # the first: every app's
    }


@pytest.mark.parametrize(
    ("scopes", "fields"),
    [
        ("profile:basic", BASIC),
        ("profile:basic profile:bio", BASIC | BIO),
        ("profile:basic profile:insights", BASIC | INSIGHTS),
        ("profile:basic contact:read", BASIC | CONTACT),
        (ALL_SCOPES, BASIC | BIO | INSIGHTS | CONTACT),
    ],
)
def test_a_profile_has_exactly_the_fields_of_the_scopes(
    client: TestClient, world: World, people: People, scopes: str, fields: set[str]
) -> None:
    app = _app(client, world, people, scopes)
    response = client.get(f"/api/v1/users/{people.alice.id}", headers=app.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == fields
    assert body["username"] == "alice"
    assert body["is_business"] is True
    assert body["avatar_url"].startswith("/media/")
    assert "password_hash" not in body and "created_at" not in body


def test_profile_values_with_every_scope(client: TestClient, world: World, people: People) -> None:
    app = _app(client, world, people)
    body = client.get("/api/v1/users/by-username/alice", headers=app.headers).json()
    assert body["id"] == people.alice.id
    assert body["bio"] == "cakes and coffee"
    assert body["email"] == "alice@example.org"
    # the pending follow request does not count
    assert (body["follower_count"], body["following_count"], body["post_count"]) == (2, 1, 1)


def test_an_unauthorised_owner_is_answered_like_a_missing_one(
    client: TestClient, world: World, people: People
) -> None:
    app = _app(client, world, people)
    hidden = client.get(f"/api/v1/users/{people.bob.id}", headers=app.headers)
    missing = client.get("/api/v1/users/999999", headers=app.headers)
    assert hidden.status_code == missing.status_code == 404
    assert (
        hidden.json()
        == missing.json()
        == {"error": "not_found", "error_description": "no such user"}
    )
    by_name = client.get("/api/v1/users/by-username/bob", headers=app.headers)
    no_name = client.get("/api/v1/users/by-username/nobody", headers=app.headers)
    assert by_name.status_code == no_name.status_code == 404
    assert by_name.json() == no_name.json()
    assert "bob" not in by_name.text


def test_another_apps_authorisation_does_not_count(
    client: TestClient, world: World, people: People
) -> None:
    _app(client, world, people)
    other = partner(client, world, ALL_SCOPES, name="Other Co")
    assert client.get(f"/api/v1/users/{people.alice.id}", headers=other.headers).status_code == 404


def test_a_private_owner_shows_only_the_minimal_profile(
    client: TestClient, world: World, people: People
) -> None:
    app = _app(client, world, people)
    body = client.get(f"/api/v1/users/{people.carol.id}", headers=app.headers).json()
    assert set(body) == {"id", "username", "display_name", "avatar_url", "is_private"}
    assert body["is_private"] is True


def test_a_disabled_account_is_not_found(
    client: TestClient, world: World, people: People, db: Session
) -> None:
    app = _app(client, world, people)
    people.alice.disabled = True
    db.commit()
    assert client.get(f"/api/v1/users/{people.alice.id}", headers=app.headers).status_code == 404
    assert client.get("/api/v1/users/by-username/alice", headers=app.headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/users/1"),
        ("GET", "/api/v1/users/by-username/alice"),
        ("GET", "/api/v1/users/search?q=ali"),
        ("POST", "/api/v1/users/lookup"),
    ],
)
def test_profile_endpoints_require_profile_basic(
    client: TestClient, world: World, people: People, method: str, url: str
) -> None:
    app = _app(client, world, people, "profile:bio media:read contact:read")
    response = client.request(method, url, headers=app.headers, json={"usernames": ["alice"]})
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "insufficient_scope"
    assert body["scope"] == "profile:basic"
    assert "alice" not in response.text
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("user_id", ["abc", "0", "-1", str(2**64), "1.5"])
def test_malformed_user_ids_are_invalid_requests(
    client: TestClient, world: World, people: People, user_id: str
) -> None:
    app = _app(client, world, people)
    response = client.get(f"/api/v1/users/{user_id}", headers=app.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["errors"][0]["loc"] == ["path", "user_id"]


def test_search_finds_only_authorising_accounts(
    client: TestClient, world: World, people: People
) -> None:
    app = _app(client, world, people)
    world.user("alicia")  # matches, but has not authorised the app
    body = client.get("/api/v1/users/search", params={"q": "ALI"}, headers=app.headers).json()
    assert [item["username"] for item in body["items"]] == ["alice"]
    assert set(body["items"][0]) == BASIC | BIO | INSIGHTS | CONTACT
    assert body["next_cursor"] is None


def test_search_wildcards_are_literal(client: TestClient, world: World, people: People) -> None:
    app = _app(client, world, people)
    for q in ("%", "_", "\\"):
        body = client.get("/api/v1/users/search", params={"q": q}, headers=app.headers).json()
        assert body["items"] == []


def test_search_pages_through_every_match(client: TestClient, world: World) -> None:
    fans = [world.user(f"fan{n}") for n in range(5)]
    app = partner(client, world, "profile:basic", authorised_by=fans)
    seen: list[str] = []
    cursor: str | None = None
    for _page in range(3):
        params = {"q": "fan", "limit": "2", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/users/search", params=params, headers=app.headers).json()
        seen += [item["username"] for item in body["items"]]
        cursor = body["next_cursor"]
    assert seen == [f"fan{n}" for n in range(5)]
    assert cursor is None


@pytest.mark.parametrize(
    "params", [{}, {"q": ""}, {"q": "x" * 81}, {"q": "a", "limit": "0"}, {"q": "a", "limit": "101"}]
)
def test_search_rejects_bad_parameters(
    client: TestClient, world: World, people: People, params: dict[str, str]
) -> None:
    app = _app(client, world, people)
    response = client.get("/api/v1/users/search", params=params, headers=app.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_lookup_resolves_visible_usernames_in_order(
    client: TestClient, world: World, people: People
) -> None:
    app = _app(client, world, people, "profile:basic")
    response = client.post(
        "/api/v1/users/lookup",
        json={"usernames": ["nobody", "carol", "bob", "alice", "alice"]},
        headers=app.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert [user["username"] for user in body["users"]] == ["carol", "alice"]
    assert set(body["users"][1]) == BASIC
    assert "email" not in body["users"][0]
    # an account that did not authorise the app is reported like one that does not exist
    assert body["not_found"] == ["nobody", "bob"]


@pytest.mark.parametrize(
    "content",
    [
        '{"usernames": ["alice"',
        "not json at all",
        "",
    ],
)
def test_lookup_rejects_malformed_json(
    client: TestClient, world: World, people: People, content: str
) -> None:
    app = _app(client, world, people)
    response = client.post(
        "/api/v1/users/lookup",
        content=content,
        headers={**app.headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        [],
        ["alice"],
        {},
        {"usernames": "alice"},
        {"usernames": []},
        {"usernames": [""]},
        {"usernames": [7]},
        {"usernames": [None]},
        {"usernames": ["x" * 31]},
        {"usernames": ["alice"], "emails": ["alice@example.org"]},
        {"usernames": [f"user{n}" for n in range(101)]},
    ],
)
def test_lookup_rejects_wrong_shapes(
    client: TestClient, world: World, people: People, body: object
) -> None:
    app = _app(client, world, people)
    response = client.post("/api/v1/users/lookup", json=body, headers=app.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["errors"]


def test_lookup_accepts_a_full_batch(client: TestClient, world: World, people: People) -> None:
    app = _app(client, world, people)
    names = ["alice", *(f"user{n}" for n in range(99))]
    response = client.post("/api/v1/users/lookup", json={"usernames": names}, headers=app.headers)
    assert response.status_code == 200
    assert len(response.json()["not_found"]) == 99


def test_lookup_refuses_an_oversized_body(client: TestClient, world: World, people: People) -> None:
    app = _app(client, world, people)
    content = json.dumps({"usernames": ["a" * 30] * 1000})
    response = client.post(
        "/api/v1/users/lookup",
        content=content,
        headers={**app.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_a_token_of_a_narrower_scope_sees_less(
    client: TestClient, world: World, people: People
) -> None:
    app = _app(client, world, people)
    narrow = bearer(token_for(client, app.app, app.secret, scope="profile:basic"))
    body = client.get(f"/api/v1/users/{people.alice.id}", headers=narrow).json()
    assert set(body) == BASIC
