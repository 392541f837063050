"""Partner tokens and browser sessions stay on their own side, and apps stay out of each other's data.

Every route is taken from the app itself (``tests.test_access_idor.app_routes``): a partner token
opens no web page a logged-out visitor could not, a session cookie (as a cookie or as a bearer
token) opens no API route, revoked and expired tokens open nothing, and what an app may list is
narrowed to its own authorisations, feed and tombstones.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from photoshare import accounts, deletions
from photoshare.db import utcnow
from photoshare.deps import SESSION_COOKIE
from photoshare.models import (
    Comment,
    Follow,
    Like,
    PartnerAuthorisation,
    PartnerToken,
    Post,
    Story,
    User,
    WebSession,
)
from tests.factories import World
from tests.partner_helpers import Partner, bearer, token_for
from tests.test_access_idor import app_routes, quick_partner
from tests.web_helpers import act_as

API_PREFIXES = ("/api/", "/oauth/")


@dataclass
class Little:
    """A small world: private alice, public business bob, and two apps."""

    alice: User
    bob: User
    mallory: User
    bob_post: Post
    alice_post: Post
    bob_app: Partner  # authorised by bob and alice
    mallory_app: Partner  # authorised by mallory


@pytest.fixture
def little(world: World) -> Little:
    alice = world.user("alice", private=True, business=True)
    bob = world.user("bob", business=True)
    mallory = world.user("mallory", business=True)
    venue = world.venue()
    bob_post = world.post(bob, caption="bob-caption-partner-61", venue=venue)
    alice_post = world.post(alice, caption="alice-caption-partner-62", venue=venue)
    world.story(bob, venue=venue)
    world.follow(mallory, alice, approved=False)
    world.db.add(Comment(post_id=bob_post.id, author_id=bob.id, text="bob-comment-partner-63"))
    world.db.commit()
    return Little(
        alice=alice,
        bob=bob,
        mallory=mallory,
        bob_post=bob_post,
        alice_post=alice_post,
        bob_app=quick_partner(world, "Bob Analytics", authorised_by=[bob, alice]),
        mallory_app=quick_partner(world, "Harvest", authorised_by=[mallory]),
    )


def _fill(path: str, little: Little, db: Session) -> str:
    story_id = db.scalar(select(Story.id))
    follow_id = db.scalar(select(Follow.id))
    values = {
        "username": little.bob.username,
        "user_id": str(little.bob.id),
        "post_id": str(little.bob_post.id),
        "story_id": str(story_id),
        "follow_id": str(follow_id),
        "venue_id": str(little.bob_post.venue_id),
        "app_id": str(little.bob_app.app.id),
        "key": little.bob_post.media.key,
        "path": "missing.css",
    }
    return re.sub(r"{(\w+)}", lambda match: values[match.group(1)], path)


def _state(db: Session) -> tuple[int, ...]:
    """Row counts of everything a form post could change."""
    db.expire_all()
    models = (User, Post, Story, Follow, Like, Comment, PartnerAuthorisation, WebSession)
    counts = (db.scalar(select(func.count()).select_from(model)) or 0 for model in models)
    return (*counts, sum(user.disabled or user.is_private for user in db.scalars(select(User))))


def test_a_partner_token_opens_no_web_page_a_logged_out_visitor_cannot(
    app: FastAPI, client: TestClient, db: Session, little: Little
) -> None:
    web = sorted((m, p) for m, p in app_routes(app) if not p.startswith(API_PREFIXES))
    assert ("GET", "/settings") in web and ("POST", "/p/{post_id}/delete") in web
    assert len(web) >= 40
    token = little.bob_app.headers
    before = _state(db)
    for method, path in web:
        url = _fill(path, little, db)
        anonymous = client.request(method, url, follow_redirects=False)
        as_app = client.request(method, url, headers=token, follow_redirects=False)
        assert as_app.status_code == anonymous.status_code, f"{method} {url}"
        assert as_app.headers.get("location") == anonymous.headers.get("location"), url
        if method == "POST":  # a logged-out browser is sent to log in first, or refused
            assert as_app.status_code in (303, 403, 404), f"{method} {url}"
        # the app has no name on the web: no page greets it, no page shows its data
        assert little.bob_app.app.name not in as_app.text
    assert _state(db) == before


def test_a_session_cookie_opens_no_api_route_as_cookie_or_as_bearer(
    app: FastAPI, client: TestClient, db: Session, little: Little
) -> None:
    api = sorted((m, p) for m, p in app_routes(app) if p.startswith("/api/"))
    assert len(api) >= 10
    session_token = accounts.start_session(db, little.bob, timedelta(hours=1))
    for method, path in api:
        url = _fill(path, little, db)
        body = {"usernames": ["bob"]} if method == "POST" else None
        client.cookies.set(SESSION_COOKIE, session_token)
        as_cookie = client.request(method, url, json=body)
        client.cookies.clear()
        as_bearer = client.request(method, url, json=body, headers=bearer(session_token))
        for response in (as_cookie, as_bearer):
            assert response.status_code == 401, f"{method} {url}: {response.status_code}"
            assert "bob-caption" not in response.text
            assert response.json()["error"] == "invalid_token"
    # and a partner token in the session cookie is no session either
    partner_token = little.bob_app.headers["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, partner_token)
    settings = client.get("/settings", follow_redirects=False)
    assert settings.status_code == 303 and settings.headers["location"].startswith("/login")
    client.cookies.clear()


def _api_answers(
    client: TestClient, app: FastAPI, db: Session, little: Little, headers: dict[str, str]
) -> tuple[set[int], bool]:
    """The statuses of every API route called with ``headers``, and whether bob's caption came."""
    statuses: set[int] = set()
    shown = False
    for method, path in sorted(app_routes(app)):
        if path.startswith("/api/"):
            url = _fill(path, little, db)
            body = {"usernames": ["bob"]} if method == "POST" else None
            response = client.request(method, url, json=body, headers=headers)
            statuses.add(response.status_code)
            shown = shown or "bob-caption" in response.text
    return statuses, shown


def test_revoked_and_expired_tokens_open_nothing(
    app: FastAPI, client: TestClient, db: Session, little: Little
) -> None:
    headers = little.bob_app.headers
    statuses, shown = _api_answers(client, app, db, little, headers)
    assert 200 in statuses and shown  # the token works, first
    token = db.scalars(select(PartnerToken).where(PartnerToken.app_id == little.bob_app.app.id))
    row = token.one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert _api_answers(client, app, db, little, headers) == ({401}, False)
    row.expires_at = utcnow() + timedelta(hours=1)
    little.bob_app.app.revoked = True
    db.commit()
    assert _api_answers(client, app, db, little, headers) == ({401}, False)


def test_a_revoked_authorisation_closes_that_account_at_once_and_tells_that_app_only(
    client: TestClient, db: Session, little: Little
) -> None:
    bob_app, mallory_app = little.bob_app, little.mallory_app
    url = f"/api/v1/media/{little.bob_post.id}"
    assert client.get(url, headers=bob_app.headers).status_code == 200
    assert deletions.revoke_authorisation(db, little.bob.id, bob_app.app.id)
    assert client.get(url, headers=bob_app.headers).status_code == 404
    feeds = {
        name: client.get("/api/v1/compliance", headers=made.headers).json()["items"]
        for name, made in (("bob_app", bob_app), ("mallory_app", mallory_app))
    }
    assert [event["type"] for event in feeds["bob_app"]] == ["authorisation.revoked"]
    assert feeds["mallory_app"] == []


def test_a_private_accounts_deletions_go_to_the_apps_it_authorised_only(
    app: FastAPI, client: TestClient, db: Session, little: Little
) -> None:
    media_dir = app.state.settings.media_dir
    deletions.delete_post(db, little.alice_post, media_dir)  # alice: private, authorised bob_app
    deletions.delete_post(db, little.bob_post, media_dir)  # bob: public, everyone could read it
    feed = {
        name: [
            (event["type"], event["user_id"])
            for event in client.get("/api/v1/compliance", headers=made.headers).json()["items"]
        ]
        for name, made in (("bob", little.bob_app), ("mallory", little.mallory_app))
    }
    assert feed["bob"] == [("post.deleted", little.alice.id), ("post.deleted", little.bob.id)]
    assert feed["mallory"] == [("post.deleted", little.bob.id)]


def test_lists_of_an_app_hold_only_the_accounts_that_authorised_it(
    client: TestClient, little: Little
) -> None:
    mallory_app = little.mallory_app.headers
    found = client.get("/api/v1/users/search?q=b", headers=mallory_app).json()
    assert found["items"] == []
    looked_up = client.post(
        "/api/v1/users/lookup", json={"usernames": ["bob", "alice"]}, headers=mallory_app
    ).json()
    assert (looked_up["users"], looked_up["not_found"]) == ([], ["bob", "alice"])
    me = client.get("/api/v1/me", headers=mallory_app).json()
    assert me["name"] == "Harvest"
    # and the same calls with bob's app do find bob: the check can fail
    found = client.get("/api/v1/users/search?q=b", headers=little.bob_app.headers).json()
    assert [user["username"] for user in found["items"]] == ["bob"]


def test_a_client_cannot_get_a_token_with_another_clients_secret(
    client: TestClient, world: World
) -> None:
    mine, my_secret = world.partner_app("Harvest")
    theirs, their_secret = world.partner_app("Bob Analytics")
    assert token_for(client, mine, my_secret)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(theirs.client_id, my_secret),
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert their_secret != my_secret


def test_self_pages_show_the_callers_own_things_only(
    client: TestClient, db: Session, little: Little
) -> None:
    """Follow requests and the feed: alice's pending request from mallory is alice's alone."""
    act_as(client, db, little.bob)
    assert "/u/mallory" not in client.get("/requests").text
    assert "alice-caption" not in client.get("/").text
    act_as(client, db, little.alice)
    assert "/u/mallory" in client.get("/requests").text


def test_a_disabled_account_is_gone_from_its_followers_feed(
    client: TestClient, db: Session, world: World
) -> None:
    """A banned account is gone from every page (queries.active_user); its followers' feed too."""
    banned = world.user("banned")
    follower = world.user("follower")
    world.post(banned, caption="banned-caption-feed-71")
    story = world.story(banned)
    world.follow(follower, banned)
    act_as(client, db, follower)
    feed = client.get("/")
    assert "banned-caption-feed-71" in feed.text and story.media.key in feed.text
    banned.disabled = True
    db.commit()
    feed = client.get("/")
    assert feed.status_code == 200
    assert "banned-caption-feed-71" not in feed.text and story.media.key not in feed.text


@pytest.mark.parametrize("key", ["9" * 40, "²³", str(2**63)])
def test_a_forged_cursor_is_an_invalid_request(
    client: TestClient, little: Little, key: str
) -> None:
    """A cursor is the app's to send back, not to write: one it forged is refused with 400."""
    cursor = base64.urlsafe_b64encode(f"k{key}".encode()).decode().rstrip("=")
    urls = (
        "/api/v1/users/search?q=b",
        "/api/v1/compliance?",
        f"/api/v1/users/{little.bob.id}/media?",
        f"/api/v1/media/{little.bob_post.id}/comments?",
    )
    for url in urls:
        response = client.get(f"{url}&cursor={cursor}", headers=little.bob_app.headers)
        assert response.status_code == 400, url
        assert response.json()["error"] == "invalid_request"
