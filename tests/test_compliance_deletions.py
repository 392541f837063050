"""Each kind of deletion, done the way it happens (a browser's form, the purge job), removes the
rows and the photo files and puts exactly one event per deleted object in the partner feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from photoshare import deletions
from photoshare.deps import SESSION_COOKIE
from photoshare.jobs import purge_expired_stories
from photoshare.media import media_path
from photoshare.models import (
    Comment,
    ComplianceEvent,
    Follow,
    Like,
    Media,
    PartnerAuthorisation,
    Post,
    Story,
    User,
    WebSession,
)
from photoshare.settings import Settings
from tests.compliance_helpers import kinds, read_feed
from tests.factories import PASSWORD, World
from tests.partner_helpers import Partner, partner
from tests.web_helpers import act_as


def _on_disk(settings: Settings, key: str) -> bool:
    return media_path(settings.media_dir, key).exists()


def _count(db: Session, table: Any) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(table)) or 0


@pytest.fixture
def watcher(client: TestClient, world: World) -> Partner:
    """An app no account authorised: it still receives the deletions of public objects."""
    return partner(client, world, "profile:basic", name="Watcher")


def test_the_owner_deletes_a_post(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    post, kept = world.post(alice), world.post(alice, caption="the other one")
    db.add_all([Like(user_id=bob.id, post_id=post.id)])
    db.add(Comment(post_id=post.id, author_id=bob.id, text="nice"))
    db.commit()
    key, post_id = post.media.key, post.id
    token = act_as(client, db, alice)
    assert f'action="/p/{post_id}/delete"' in client.get(f"/p/{post_id}").text

    response = client.post(
        f"/p/{post_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 303 and response.headers["location"] == "/u/alice"
    db.expire_all()
    assert db.get(Post, post_id) is None and db.get(Post, kept.id) is not None
    assert not _on_disk(settings, key) and _on_disk(settings, kept.media.key)
    assert db.scalar(select(Media).where(Media.key == key)) is None
    assert _count(db, Like) == 0 and _count(db, Comment) == 0
    assert client.get(f"/p/{post_id}").status_code == 404
    assert kinds(read_feed(client, watcher.headers).events) == [("post.deleted", post_id, alice.id)]


def test_only_the_owner_deletes_a_post_and_only_with_the_csrf_token(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    post = world.post(alice)
    bob_token = act_as(client, db, bob)
    assert f'action="/p/{post.id}/delete"' not in client.get(f"/p/{post.id}").text
    assert client.post(f"/p/{post.id}/delete", data={"csrf_token": bob_token}).status_code == 404
    assert client.post("/p/999999/delete", data={"csrf_token": bob_token}).status_code == 404

    act_as(client, db, alice)
    assert client.post(f"/p/{post.id}/delete", data={"csrf_token": "forged"}).status_code == 403
    assert client.post(f"/p/{post.id}/delete").status_code == 403
    act_as(client, db, None)
    logged_out = client.post(f"/p/{post.id}/delete", data={}, follow_redirects=False)
    assert logged_out.status_code == 303 and logged_out.headers["location"].startswith("/login")

    db.expire_all()
    assert db.get(Post, post.id) is not None and _on_disk(settings, post.media.key)
    assert read_feed(client, watcher.headers).events == []


def test_the_owner_deletes_a_story(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    story = world.story(alice)
    key, story_id = story.media.key, story.id
    assert (
        client.post(
            f"/stories/{story_id}/delete", data={"csrf_token": act_as(client, db, bob)}
        ).status_code
        == 404
    )
    token = act_as(client, db, alice)
    assert f'action="/stories/{story_id}/delete"' in client.get(f"/stories/{story_id}").text

    response = client.post(
        f"/stories/{story_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 303 and response.headers["location"] == "/u/alice/stories"
    db.expire_all()
    assert db.get(Story, story_id) is None and not _on_disk(settings, key)
    assert kinds(read_feed(client, watcher.headers).events) == [
        ("story.deleted", story_id, alice.id)
    ]


def test_the_purge_records_each_expired_story_once(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    expired = [world.story(alice, age=timedelta(hours=30)), world.story(bob, age=timedelta(days=3))]
    live = world.story(alice)
    expected = sorted(("story.expired", story.id, story.owner_id) for story in expired)
    expired_keys = [story.media.key for story in expired]

    assert purge_expired_stories(db, settings.media_dir) == 2
    assert purge_expired_stories(db, settings.media_dir) == 0

    assert sorted(kinds(read_feed(client, watcher.headers).events)) == expected
    assert not any(_on_disk(settings, key) for key in expired_keys)
    assert _on_disk(settings, live.media.key)


def test_revoking_an_authorisation_tells_that_app_only(
    client: TestClient, db: Session, world: World, watcher: Partner
) -> None:
    alice = world.user("alice", business=True)
    acme = partner(client, world, "profile:basic", authorised_by=[alice])
    other = partner(client, world, "profile:basic", authorised_by=[alice], name="Other Co")
    authorisation_id = db.scalar(
        select(PartnerAuthorisation.id).where(PartnerAuthorisation.app_id == acme.app.id)
    )
    token = act_as(client, db, alice)

    client.post(f"/settings/apps/{acme.app.id}/revoke", data={"csrf_token": token})
    client.post(f"/settings/apps/{acme.app.id}/revoke", data={"csrf_token": token})  # again

    assert kinds(read_feed(client, acme.headers).events) == [
        ("authorisation.revoked", authorisation_id, alice.id)
    ]
    assert read_feed(client, other.headers).events == []
    assert read_feed(client, watcher.headers).events == []
    assert client.get(f"/api/v1/users/{alice.id}", headers=acme.headers).status_code == 404
    assert client.get(f"/api/v1/users/{alice.id}", headers=other.headers).status_code == 200


def test_a_private_accounts_deletions_go_to_the_apps_it_authorised(
    client: TestClient, db: Session, world: World, watcher: Partner
) -> None:
    carol = world.user("carol", private=True, business=True)
    post = world.post(carol)
    acme = partner(client, world, "profile:basic", authorised_by=[carol])
    token = act_as(client, db, carol)

    client.post(f"/p/{post.id}/delete", data={"csrf_token": token})

    assert kinds(read_feed(client, acme.headers).events) == [("post.deleted", post.id, carol.id)]
    assert read_feed(client, watcher.headers).events == []


def _delete_account(client: TestClient, token: str, password: str) -> Response:
    return client.post(
        "/settings/delete-account",
        data={"csrf_token": token, "password": password},
        follow_redirects=False,
    )


def test_deleting_an_account_removes_everything_it_made(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice, bob = world.user("alice", business=True), world.user("bob")
    posts = [world.post(alice), world.post(alice, caption="second")]
    live, expired = world.story(alice), world.story(alice, age=timedelta(hours=30))
    avatar = world.media(alice)
    alice.avatar_id = avatar.id
    bob_post = world.post(bob)
    db.add_all(
        [
            Comment(post_id=bob_post.id, author_id=alice.id, text="alice was here"),
            Comment(post_id=posts[0].id, author_id=bob.id, text="bob on alice's post"),
            Like(user_id=alice.id, post_id=bob_post.id),
        ]
    )
    db.commit()
    world.follow(alice, bob)
    world.follow(bob, alice)
    acme = partner(client, world, "profile:basic", authorised_by=[alice])
    alice_keys = {
        media.key for media in db.scalars(select(Media).where(Media.owner_id == alice.id))
    }
    assert len(alice_keys) == 5
    alice_id = alice.id
    expected = sorted(
        [("post.deleted", post.id, alice_id) for post in posts]
        + [("story.deleted", live.id, alice_id), ("story.expired", expired.id, alice_id)]
        + [("account.deleted", alice_id, alice_id)]
    )
    token = act_as(client, db, alice)
    assert 'action="/settings/delete-account"' in client.get("/settings").text

    response = _delete_account(client, token, PASSWORD)

    assert response.status_code == 303 and response.headers["location"] == "/"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    db.expire_all()
    assert db.get(User, alice_id) is None
    assert not any(_on_disk(settings, key) for key in alice_keys)
    assert _on_disk(settings, bob_post.media.key)
    assert db.scalars(select(Media.owner_id)).all() == [bob.id]
    assert _count(db, Post) == 1 and _count(db, Story) == 0
    assert _count(db, Comment) == 0 and _count(db, Like) == 0 and _count(db, Follow) == 0
    assert _count(db, WebSession) == 0 and _count(db, PartnerAuthorisation) == 0
    assert client.get("/u/alice").status_code == 404

    for app in (watcher, acme):
        assert sorted(kinds(read_feed(client, app.headers).events)) == expected
    # the purge finds nothing left to report
    assert purge_expired_stories(db, settings.media_dir) == 0
    assert _count(db, ComplianceEvent) == len(expected)


def test_an_account_is_not_deleted_without_its_password_and_token(
    client: TestClient, db: Session, world: World, settings: Settings, watcher: Partner
) -> None:
    alice = world.user("alice")
    post = world.post(alice)
    token = act_as(client, db, alice)

    wrong = _delete_account(client, token, "not the password")
    assert wrong.status_code == 400
    assert "Wrong password" in wrong.text
    assert _delete_account(client, token, "x" * 5000).status_code == 400
    assert _delete_account(client, "forged", PASSWORD).status_code == 403
    act_as(client, db, None)
    assert _delete_account(client, token, PASSWORD).status_code == 303

    db.expire_all()
    assert db.get(User, alice.id) is not None and _on_disk(settings, post.media.key)
    assert _count(db, ComplianceEvent) == 0
    assert read_feed(client, watcher.headers).events == []


def test_a_deletion_that_fails_leaves_the_post_its_file_and_no_event(
    db: Session, world: World, settings: Settings
) -> None:
    """The deletion and its tombstone commit together or not at all; the file goes last.

    A trigger makes the database itself refuse the post's deletion, after the tombstone was
    written in the same transaction.
    """
    alice = world.user("alice")
    post = world.post(alice)
    key, post_id = post.media.key, post.id
    db.execute(
        text(
            "CREATE TRIGGER refuse_post_delete BEFORE DELETE ON posts "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    )
    db.commit()

    with pytest.raises(IntegrityError, match="refused"):
        deletions.delete_post(db, post, settings.media_dir)
    db.rollback()

    assert db.get(Post, post_id) is not None
    assert _on_disk(settings, key)
    assert _count(db, ComplianceEvent) == 0
