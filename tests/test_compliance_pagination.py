"""The feed's cursor gives every event exactly once, in order, while deletions keep coming."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from photoshare import compliance, deletions
from photoshare.models import ComplianceEvent, ComplianceEventType, PartnerApp, Post
from photoshare.settings import Settings
from tests.compliance_helpers import read_feed
from tests.factories import World
from tests.partner_helpers import Partner, partner

# A step of a schedule: ("write", audience) adds one event for everyone ("all"), for the reader's
# app ("mine") or for another app ("theirs"); ("read", limit) reads one page.
Step = tuple[str, str] | tuple[str, int]
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(["all", "mine", "theirs"])),
        st.tuples(st.just("read"), st.integers(min_value=1, max_value=4)),
    ),
    max_size=40,
)


@pytest.fixture
def apps(db: Session, world: World) -> tuple[PartnerApp, PartnerApp]:
    mine, _ = world.partner_app("Reader")
    theirs, _ = world.partner_app("Other")
    return mine, theirs


def _drain(db: Session, app_id: int, position: int | None, limit: int) -> tuple[list[int], int]:
    """Reads pages until the feed says nothing more waits: the object ids, and the position."""
    seen: list[int] = []
    while True:
        page = compliance.read_feed(db, app_id, after=position, since=None, limit=limit)
        seen.extend(event.object_id for event in page.events)
        position = page.position
        if not page.has_more:
            return seen, position


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=STEPS)
def test_interleaved_writes_and_reads_see_each_event_once(
    db: Session, apps: tuple[PartnerApp, PartnerApp], schedule: list[Step]
) -> None:
    mine, theirs = apps
    audience: dict[str, list[int | None]] = {
        "all": [None],
        "mine": [mine.id],
        "theirs": [theirs.id],
    }
    _, position = _drain(db, mine.id, None, 100)  # earlier examples' events
    written: list[int] = []  # object ids of the events the reader must see, in order
    seen: list[int] = []
    for number, step in enumerate(schedule):
        if step[0] == "write":
            compliance.record(
                db,
                ComplianceEventType.POST_DELETED,
                object_id=number,
                user_id=1,
                audience=audience[str(step[1])],
            )
            db.commit()
            if step[1] != "theirs":
                written.append(number)
        else:
            page = compliance.read_feed(db, mine.id, after=position, since=None, limit=int(step[1]))
            seen.extend(event.object_id for event in page.events)
            position = page.position
    rest, _ = _drain(db, mine.id, position, 3)
    assert seen + rest == written


@pytest.fixture
def reader(client: TestClient, world: World) -> Partner:
    return partner(client, world, "media:read", name="Reader")


def test_concurrent_deletions_reach_a_polling_reader_exactly_once(
    app: FastAPI,
    client: TestClient,
    db: Session,
    world: World,
    settings: Settings,
    reader: Partner,
) -> None:
    """Writers in threads delete posts and revoke another app's authorisations (each in its own
    session and transaction) while the partner polls the feed over HTTP, a few events a page."""
    owners = [world.user(f"owner{n}", business=True) for n in range(4)]
    other = partner(client, world, "profile:basic", authorised_by=owners, name="Other")
    per_writer = 12
    posts = {owner.id: [world.post(owner).id for _ in range(per_writer)] for owner in owners}
    start = read_feed(client, reader.headers).cursor
    errors: list[BaseException] = []
    done = threading.Event()

    def write(owner_id: int) -> None:
        try:
            for number, post_id in enumerate(posts[owner_id]):
                with app.state.sessionmaker() as session:
                    post = session.get(Post, post_id)
                    assert post is not None
                    deletions.delete_post(session, post, settings.media_dir)
                if number == per_writer // 2:
                    with app.state.sessionmaker() as session:
                        deletions.revoke_authorisation(session, owner_id, other.app.id)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(owner.id,)) for owner in owners]
    for thread in threads:
        thread.start()
    seen: list[dict[str, Any]] = []
    cursor = start
    polls = 0
    while not done.is_set():
        if not any(thread.is_alive() for thread in threads):
            done.set()  # one more read after the writers finished, then stop
        response = client.get(
            "/api/v1/compliance", params={"cursor": cursor, "limit": 5}, headers=reader.headers
        )
        assert response.status_code == 200
        body = response.json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        polls += 1
    for thread in threads:
        thread.join()
    assert not errors, errors
    seen.extend(read_feed(client, reader.headers, cursor=cursor, limit=5).events)

    ids = [event["id"] for event in seen]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    all_posts = sorted(post_id for owner_posts in posts.values() for post_id in owner_posts)
    assert sorted(event["object_id"] for event in seen) == all_posts
    assert {event["type"] for event in seen} == {"post.deleted"}
    expected_ids = db.scalars(
        select(ComplianceEvent.id)
        .where(ComplianceEvent.app_id.is_(None))
        .order_by(ComplianceEvent.id)
    ).all()
    assert ids == expected_ids
    assert polls > 1
    # the other app got the revocations, one per owner, among the same post deletions
    other_events = read_feed(client, other.headers, cursor=start).events
    revoked = [e["user_id"] for e in other_events if e["type"] == "authorisation.revoked"]
    assert sorted(revoked) == sorted(owner.id for owner in owners)
    assert len(other_events) == len(seen) + len(owners)
