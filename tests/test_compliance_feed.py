"""GET /api/v1/compliance: scope, payload, cursors, `since`, retention, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from photoshare import compliance, deletions
from photoshare.db import utcnow
from photoshare.jobs import purge_compliance_events
from photoshare.models import ComplianceEvent, ComplianceEventType, User
from photoshare.settings import Settings
from tests.compliance_helpers import FEED, kinds, read_feed
from tests.factories import World
from tests.partner_helpers import Partner, bearer, partner, token_for

EVENT_FIELDS = {"id", "type", "object_id", "user_id", "occurred_at"}


@pytest.fixture
def acme(client: TestClient, world: World) -> Partner:
    return partner(client, world, "profile:basic media:read")


def _post_deletions(
    db: Session, world: World, owner: User, count: int, settings: Settings
) -> list[int]:
    posts = [world.post(owner, caption=f"caption number {n}") for n in range(count)]
    ids = [post.id for post in posts]
    for post in posts:
        deletions.delete_post(db, post, settings.media_dir)
    return ids


def _record_at(db: Session, when: datetime, object_id: int, user_id: int = 1) -> None:
    compliance.record(
        db,
        ComplianceEventType.POST_DELETED,
        object_id=object_id,
        user_id=user_id,
        audience=[None],
        now=when,
    )
    db.commit()


def test_every_app_holds_the_scope_and_a_token_without_it_is_refused(
    client: TestClient, world: World
) -> None:
    app, secret = world.partner_app(scopes="media:read")
    full = bearer(token_for(client, app, secret))
    assert "compliance:read" in client.get("/api/v1/me", headers=full).json()["scopes"]
    assert client.get(FEED, headers=full).status_code == 200

    narrow = bearer(token_for(client, app, secret, scope="media:read"))
    refused = client.get(FEED, headers=narrow)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "error_description": "this endpoint requires the scopes: compliance:read",
        "scope": "compliance:read",
    }
    only = bearer(token_for(client, app, secret, scope="compliance:read"))
    assert client.get(FEED, headers=only).status_code == 200
    assert client.get(FEED).status_code == 401
    assert client.get(FEED, headers=bearer("not-a-token")).status_code == 401


def test_events_carry_ids_and_a_time_and_nothing_else(
    client: TestClient, db: Session, world: World, settings: Settings, acme: Partner
) -> None:
    alice = world.user("alice", email="alice-secret@example.org")
    before = utcnow()
    [post_id] = _post_deletions(db, world, alice, 1, settings)

    response = client.get(FEED, headers=acme.headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "next_cursor", "has_more"}
    [event] = body["items"]
    assert set(event) == EVENT_FIELDS
    assert (event["type"], event["object_id"], event["user_id"]) == (
        "post.deleted",
        post_id,
        alice.id,
    )
    occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
    assert before <= occurred <= utcnow()
    for personal in ("alice", "caption number", "alice-secret", "/media/"):
        assert personal not in response.text
    assert body["has_more"] is False and body["next_cursor"]


def test_pages_follow_each_other_without_gaps_or_repeats(
    client: TestClient, db: Session, world: World, settings: Settings, acme: Partner
) -> None:
    alice = world.user("alice")
    first = _post_deletions(db, world, alice, 7, settings)

    read = read_feed(client, acme.headers, limit=3)

    assert read.pages == 3
    assert [event["object_id"] for event in read.events] == first
    ids = [event["id"] for event in read.events]
    assert ids == sorted(set(ids))

    # polling with the last cursor: nothing new, then exactly the new events
    assert read_feed(client, acme.headers, cursor=read.cursor).events == []
    later = _post_deletions(db, world, alice, 2, settings)
    again = read_feed(client, acme.headers, cursor=read.cursor, limit=1)
    assert [event["object_id"] for event in again.events] == later
    assert read_feed(client, acme.headers, cursor=again.cursor).events == []


def test_another_apps_revocations_stay_out_of_the_feed_and_out_of_the_way(
    client: TestClient, db: Session, world: World, settings: Settings, acme: Partner
) -> None:
    alice, bob = world.user("alice", business=True), world.user("bob", business=True)
    other = partner(client, world, "profile:basic", authorised_by=[alice, bob], name="Other Co")
    start = read_feed(client, acme.headers).cursor
    deletions.revoke_authorisation(db, alice.id, other.app.id)
    deletions.revoke_authorisation(db, bob.id, other.app.id)
    [post_id] = _post_deletions(db, world, alice, 1, settings)

    mine = read_feed(client, acme.headers, cursor=start, limit=1)
    theirs = read_feed(client, other.headers, cursor=start, limit=1)

    assert kinds(mine.events) == [("post.deleted", post_id, alice.id)]
    assert mine.pages == 1  # the other app's events are not even empty pages
    assert kinds(theirs.events)[:2] == [
        ("authorisation.revoked", theirs.events[0]["object_id"], alice.id),
        ("authorisation.revoked", theirs.events[1]["object_id"], bob.id),
    ]
    assert len(theirs.events) == 3


def test_since_starts_the_feed_at_a_time(client: TestClient, db: Session, acme: Partner) -> None:
    now = utcnow()
    for days, object_id in ((5, 101), (3, 102), (1, 103)):
        _record_at(db, now - timedelta(days=days), object_id)

    since = (now - timedelta(days=4)).isoformat()
    read = read_feed(client, acme.headers, since=since, limit=1)
    assert [event["object_id"] for event in read.events] == [102, 103]
    zulu = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [e["object_id"] for e in read_feed(client, acme.headers, since=zulu).events] == [103]
    # an empty page still moves the cursor to the end: later events only, none before since
    empty = read_feed(client, acme.headers, since=now.isoformat())
    assert empty.events == []
    _record_at(db, utcnow(), 104)
    assert [
        e["object_id"] for e in read_feed(client, acme.headers, cursor=empty.cursor).events
    ] == [104]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "!!not-a-cursor"}, 400),
        ({"cursor": "bm9wZQ"}, 400),  # base64 of "nope"
        ({"since": "2026-11-28T10:00:00"}, 422),  # no zone: ambiguous
        ({"since": "yesterday"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
    ],
)
def test_bad_parameters_are_refused(
    client: TestClient, acme: Partner, params: dict[str, str | int], status: int
) -> None:
    response = client.get(FEED, params=params, headers=acme.headers)
    assert response.status_code == status
    assert response.json()["error"] == "invalid_request"


def test_old_events_are_purged_and_their_ids_never_come_back(
    client: TestClient, db: Session, acme: Partner
) -> None:
    now = utcnow()
    _record_at(db, now - compliance.RETENTION - timedelta(hours=1), 201)
    _record_at(db, now - compliance.RETENTION + timedelta(hours=1), 202)
    cursor = read_feed(client, acme.headers).cursor

    assert purge_compliance_events(db, now) == 1
    assert [e["object_id"] for e in read_feed(client, acme.headers).events] == [202]
    # purge everything: SQLite would start ids again at 1 without AUTOINCREMENT
    assert purge_compliance_events(db, now + compliance.RETENTION * 2) == 1
    assert db.scalar(select(func.count()).select_from(ComplianceEvent)) == 0
    _record_at(db, utcnow(), 203)
    assert [e["object_id"] for e in read_feed(client, acme.headers, cursor=cursor).events] == [203]
