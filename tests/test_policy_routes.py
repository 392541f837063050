"""Every GET route, for every audience, against the policy.

The world below gives every personal value a unique, searchable form. For each caller we ask the
policy which values it must never see (hidden from that caller in every object that holds them),
then fetch every route of the app with every id in the world and search the responses for them.
A route that renders personal data without going through redact() fails here, and a new route fails
until this test knows how to fill its parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from harvestguard.policy import redact
from photoshare import deletions, serialize
from photoshare.app import ROUTE_MODULES
from photoshare.db import utcnow
from photoshare.deps import SESSION_COOKIE
from photoshare.models import (
    Comment,
    Media,
    PartnerToken,
    Post,
    Story,
    User,
    Venue,
    WebSession,
)
from photoshare.partners import SCOPES
from photoshare.security import new_token, token_hash
from photoshare.viewer import Viewer
from tests.factories import World
from tests.web_helpers import form_token

# Values too short or too common to search for without false alarms are not checked.
_MIN_SENTINEL_LENGTH = 8


@dataclass
class Caller:
    name: str
    client: TestClient
    viewer: Viewer
    headers: dict[str, str] = field(default_factory=dict)


def _build_world(world: World) -> None:
    alice = world.user("alice_biz", business=True, email="alice-contact@sentinel.example")
    bob = world.user("bob_public", email="bob-private-mail@sentinel.example")
    carol = world.user("carol_private", private=True, email="carol-mail@sentinel.example")
    dave = world.user("dave_friend", email="dave-mail@sentinel.example")
    erin = world.user("erin_stranger", email="erin-mail@sentinel.example")
    hotel = world.venue("Hotel Sentinelhof", "Sentinelburg")
    hotel.lat, hotel.lon = 48.1371234567, 11.5753876543
    cafe = world.venue("Cafe Quietcorner", "Quietville")
    cafe.lat, cafe.lon = 38.7223456789, -9.1393456789
    world.db.commit()

    alice_post = world.post(alice, caption="alice caption at the sentinel hotel", venue=hotel)
    world.post(bob, caption="bob caption without a place")
    carol_post = world.post(carol, caption="carol private caption at the cafe", venue=cafe)
    world.story(alice, venue=hotel)
    world.story(alice, venue=cafe, age=timedelta(hours=30))  # expired: nobody may see it
    world.story(carol, venue=cafe)
    world.db.add(Comment(post_id=alice_post.id, author_id=bob.id, text="bob comment on alice post"))
    world.db.add(Comment(post_id=carol_post.id, author_id=dave.id, text="dave comment in private"))
    world.follow(bob, alice)
    world.follow(dave, carol)
    world.follow(erin, carol, approved=False)
    app, _secret = world.partner_app("Sentinel Analytics", scopes=" ".join(sorted(SCOPES)))
    world.authorise(app, alice)
    # tombstones for the compliance feed: a deleted post and story, a revoked authorisation
    media_dir = world.media_dir
    deletions.delete_post(world.db, world.post(bob, caption="bob deleted caption"), media_dir)
    deletions.delete_story(world.db, world.story(dave, venue=hotel), media_dir)
    world.authorise(app, dave)
    deletions.revoke_authorisation(world.db, dave.id, app.id)


def _objects(db: Session) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of the world as the routes serialise it."""
    users = list(db.scalars(select(User)))
    for user in users:
        avatar = db.get(Media, user.avatar_id) if user.avatar_id else None
        yield "profile", serialize.profile_dict(user, avatar=avatar)
    for post in db.scalars(select(Post)):
        yield "post", serialize.post_dict(post)
    for story in db.scalars(select(Story)):
        yield "story", serialize.story_dict(story)
    for comment in db.scalars(select(Comment)):
        yield "comment", serialize.comment_dict(comment)
    for venue in db.scalars(select(Venue)):
        yield "location", serialize.venue_dict(venue)
    for owner in users:
        for other in users:
            if other.id != owner.id:
                yield "connection", serialize.connection_dict(owner, other, "followers")


def _sentinels(value: Any) -> set[str]:
    if isinstance(value, float):
        text = repr(value)
        return {text} if len(text) >= _MIN_SENTINEL_LENGTH else set()
    if isinstance(value, str) and len(value) >= _MIN_SENTINEL_LENGTH:
        return {value}
    return set()


def _denied_values(db: Session, viewer: Viewer, app: FastAPI) -> set[str]:
    """Values that the policy withholds from this caller wherever they occur."""
    shown: set[str] = set()
    hidden: set[str] = set()
    for resource, obj in _objects(db):
        audience = viewer.audience_for(db, app.state.policy.owner_of(resource, obj))
        data = redact(resource, obj, audience, policy=app.state.policy).data or {}
        fields = app.state.policy.resources[resource].fields
        for name, value in obj.items():
            spec = fields.get(name)  # undeclared fields are never shown: count them as personal
            if spec is not None and spec.data_class is None:
                continue  # not personal data: flags, directions, counters
            target = shown if name in data and data[name] == value else hidden
            target.update(_sentinels(value))
    return hidden - shown


def _login(client: TestClient, db: Session, user: User) -> None:
    token = new_token()
    db.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=new_token(),
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    db.commit()
    client.cookies.set(SESSION_COOKIE, token)


def _partner_headers(db: Session) -> tuple[Viewer, dict[str, str]]:
    from photoshare.models import PartnerApp

    app = db.scalars(select(PartnerApp)).one()
    token = new_token()
    db.add(
        PartnerToken(
            app_id=app.id,
            token_hash=token_hash(token),
            scopes=app.scopes,
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    db.commit()
    viewer = Viewer(app=app, token_scopes=app.scope_set)
    return viewer, {"Authorization": f"Bearer {token}"}


def _parameter_values(db: Session) -> dict[str, list[str]]:
    users = list(db.scalars(select(User)))
    return {
        "username": [u.username for u in users] + ["nobody_here"],
        "user_id": [str(u.id) for u in users] + ["999999"],
        "post_id": [str(p.id) for p in db.scalars(select(Post))] + ["999999"],
        "story_id": [str(s.id) for s in db.scalars(select(Story))] + ["999999"],
        "venue_id": [str(v.id) for v in db.scalars(select(Venue))] + ["999999"],
        "key": [m.key for m in db.scalars(select(Media))] + ["0" * 32],
    }


_QUERIES = ("q=a", "q=sentinel", "q=caf")
_FEED_QUERIES = ("limit=1", "since=2000-01-01T00:00:00Z")


def _urls(db: Session) -> list[str]:
    values = _parameter_values(db)
    urls: list[str] = []
    routes = [route for module in ROUTE_MODULES for route in module.router.routes]
    for route in routes:
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        missing = [name for name in names if name not in values]
        assert not missing, f"{route.path}: this test cannot fill {missing}; teach it"
        expanded = [route.path]
        for name in names:
            expanded = [
                re.sub(r"{" + name + r"(?::\w+)?}", value, url)
                for url in expanded
                for value in values[name]
            ]
        if "search" in route.path:
            expanded = [f"{url}?{query}" for url in expanded for query in _QUERIES]
        if route.path == "/api/v1/compliance":
            expanded += [f"{url}?{query}" for url in expanded for query in _FEED_QUERIES]
        urls.extend(expanded)
    return urls


@pytest.fixture
def callers(app: FastAPI, db: Session, world: World) -> Iterator[list[Caller]]:
    _build_world(world)
    by_name = {u.username: u for u in db.scalars(select(User))}
    made: list[Caller] = []
    try:
        anonymous = TestClient(app, base_url="https://testserver")
        made.append(Caller("anonymous", anonymous, Viewer()))
        for label, username in (
            ("stranger", "erin_stranger"),
            ("follower of alice", "bob_public"),
            ("follower of carol", "dave_friend"),
            ("owner alice", "alice_biz"),
            ("owner carol", "carol_private"),
        ):
            client = TestClient(app, base_url="https://testserver")
            _login(client, db, by_name[username])
            made.append(Caller(label, client, Viewer(user=by_name[username])))
        partner_viewer, headers = _partner_headers(db)
        partner = TestClient(app, base_url="https://testserver")
        made.append(Caller("partner", partner, partner_viewer, headers))
        yield made
    finally:
        for caller in made:
            caller.client.close()


def test_no_route_discloses_what_the_policy_denies(
    app: FastAPI, db: Session, callers: list[Caller]
) -> None:
    urls = _urls(db)
    usernames = _parameter_values(db)["username"]
    assert any(url.startswith("/api/") for url in urls), "the partner API must be covered"
    assert any(url.startswith("/u/") for url in urls), "the web pages must be covered"
    leaks: list[str] = []
    answered = 0
    anonymous_denied = _denied_values(db, Viewer(), app)
    for caller in callers:
        denied = _denied_values(db, caller.viewer, app)
        assert denied, f"{caller.name}: the world must hold something this caller may not see"
        for url in urls:
            if caller.viewer.is_partner and not url.startswith("/api/"):
                # a partner token opens no web session: on web pages a partner is nobody
                denied = anonymous_denied
            elif caller.viewer.is_partner:
                denied = _denied_values(db, caller.viewer, app)
            response = caller.client.get(url, headers=caller.headers)
            assert response.status_code < 500, f"{caller.name} GET {url}: {response.status_code}"
            answered += response.status_code == 200
            body = response.content.decode("utf-8", errors="replace")
            leaks.extend(
                f"{caller.name} GET {url} shows {value!r}" for value in denied if value in body
            )
        # the one API read that is a POST: the batch lookup
        response = caller.client.post(
            "/api/v1/users/lookup", json={"usernames": usernames}, headers=caller.headers
        )
        assert response.status_code < 500
        echoed = set(usernames)  # names the caller sent itself may come back as "not found"
        leaks.extend(
            f"{caller.name} POST lookup shows {value!r}"
            for value in denied - echoed
            if value in response.text
        )
    assert answered > len(callers) * 10, "too few routes answered 200 for the check to mean much"
    assert not leaks, "\n".join(leaks[:40])


def test_the_check_sees_a_leak(app: FastAPI, db: Session, callers: list[Caller]) -> None:
    """The sentinel search is sharp: a denied value, planted in a response, is found."""
    anonymous = next(c for c in callers if c.name == "anonymous")
    denied = _denied_values(db, anonymous.viewer, app)
    assert "Hotel Sentinelhof" in denied  # no location data of any kind to anonymous viewers
    assert "carol private caption at the cafe" in denied  # private account
    assert "bob-private-mail@sentinel.example" in denied  # contact data
    expired = db.scalars(select(Story).where(Story.expires_at < utcnow())).one()
    for caller in callers:
        assert serialize.media_url(expired.media) in _denied_values(db, caller.viewer, app)


def test_the_compliance_feed_is_covered_and_gives_ids_only(
    db: Session, callers: list[Caller]
) -> None:
    assert "/api/v1/compliance" in _urls(db)
    partner = next(c for c in callers if c.viewer.is_partner)
    events = partner.client.get("/api/v1/compliance", headers=partner.headers).json()["items"]
    assert {event["type"] for event in events} == {
        "post.deleted",
        "story.deleted",
        "authorisation.revoked",
    }
    for event in events:
        assert set(event) == {"id", "type", "object_id", "user_id", "occurred_at"}
    for caller in callers:
        if not caller.viewer.is_partner:
            assert caller.client.get("/api/v1/compliance").status_code == 401


def test_deleting_what_is_not_yours_discloses_and_deletes_nothing(
    app: FastAPI, db: Session, callers: list[Caller]
) -> None:
    """The delete forms of posts and stories, posted by everyone but the owner, with a valid
    CSRF token where the caller has a session: the same answer as for a missing object."""
    targets = [(f"/p/{p.id}/delete", p.owner_id) for p in db.scalars(select(Post))]
    targets += [(f"/stories/{s.id}/delete", s.owner_id) for s in db.scalars(select(Story))]
    targets += [("/p/999999/delete", None), ("/stories/999999/delete", None)]
    before = (len(db.scalars(select(Post)).all()), len(db.scalars(select(Story)).all()))
    leaks: list[str] = []
    anonymous_denied = _denied_values(db, Viewer(), app)
    for caller in callers:
        user = caller.viewer.user
        token = form_token(caller.client.get("/").text) if user is not None else ""
        denied = _denied_values(db, caller.viewer, app) if user else anonymous_denied
        for url, owner_id in targets:
            if user is not None and owner_id == user.id:
                continue
            response = caller.client.post(
                url, data={"csrf_token": token}, headers=caller.headers, follow_redirects=False
            )
            expected = 404 if user is not None else 303  # nobody is sent to log in first
            assert response.status_code == expected, f"{caller.name} POST {url}"
            leaks.extend(
                f"{caller.name} POST {url} shows {v!r}" for v in denied if v in response.text
            )
    db.expire_all()
    assert (len(db.scalars(select(Post)).all()), len(db.scalars(select(Story)).all())) == before
    assert not leaks, "\n".join(leaks[:40])
