"""Following, follow requests, likes and comments, through the forms a browser posts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from photoshare.models import Comment, Follow, FollowStatus, Like, User
from tests.factories import World
from tests.web_helpers import act_as


def _follow_status(db: Session, follower: User, followee: User) -> FollowStatus | None:
    db.expire_all()
    return db.scalar(
        select(Follow.status).where(
            Follow.follower_id == follower.id, Follow.followee_id == followee.id
        )
    )


def _count(db: Session, table: type[Like] | type[Comment]) -> int:
    return db.scalar(select(func.count()).select_from(table)) or 0


def test_following_a_public_account(client: TestClient, db: Session, world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    world.post(alice, caption="hello world")
    token = act_as(client, db, bob)

    response = client.post("/u/alice/follow", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/u/alice"
    assert _follow_status(db, bob, alice) == FollowStatus.APPROVED
    assert "hello world" in client.get("/").text

    client.post("/u/alice/follow", data={"csrf_token": token})
    assert db.scalar(select(func.count()).select_from(Follow)) == 1

    client.post("/u/alice/unfollow", data={"csrf_token": token})
    assert _follow_status(db, bob, alice) is None
    assert "hello world" not in client.get("/").text


def test_following_yourself_does_nothing(client: TestClient, db: Session, world: World) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)
    assert client.post("/u/alice/follow", data={"csrf_token": token}).status_code == 200
    assert _follow_status(db, alice, alice) is None


def test_a_private_account_approves_its_followers(
    client: TestClient, db: Session, world: World
) -> None:
    carol, erin, mallory = world.user("carol", private=True), world.user("erin"), world.user("m")
    post = world.post(carol, caption="just for friends")
    erin_token = act_as(client, db, erin)

    client.post("/u/carol/follow", data={"csrf_token": erin_token})
    assert _follow_status(db, erin, carol) == FollowStatus.PENDING
    pending_view = client.get("/u/carol").text
    assert "This account is private" in pending_view and "Cancel request" in pending_view
    assert client.get(f"/p/{post.id}").status_code == 404

    follow_id = db.scalars(select(Follow.id).where(Follow.follower_id == erin.id)).one()
    mallory_token = act_as(client, db, mallory)
    assert "@erin" not in client.get("/requests").text.split("<main>")[1]
    stolen = client.post(f"/requests/{follow_id}/approve", data={"csrf_token": mallory_token})
    assert stolen.status_code == 404
    assert _follow_status(db, erin, carol) == FollowStatus.PENDING

    carol_token = act_as(client, db, carol)
    requests_page = client.get("/requests").text
    assert "@erin" in requests_page and f"/requests/{follow_id}/approve" in requests_page
    response = client.post(
        f"/requests/{follow_id}/approve", data={"csrf_token": carol_token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/requests"
    assert _follow_status(db, erin, carol) == FollowStatus.APPROVED
    assert "No pending requests" in client.get("/requests").text
    again = client.post(f"/requests/{follow_id}/approve", data={"csrf_token": carol_token})
    assert again.status_code == 404

    act_as(client, db, erin)
    assert "just for friends" in client.get(f"/p/{post.id}").text
    assert "This account is private" not in client.get("/u/carol").text


def test_rejecting_a_follow_request(client: TestClient, db: Session, world: World) -> None:
    carol, erin = world.user("carol", private=True), world.user("erin")
    follow = world.follow(erin, carol, approved=False)
    token = act_as(client, db, carol)
    client.post(f"/requests/{follow.id}/reject", data={"csrf_token": token})
    assert _follow_status(db, erin, carol) is None


def test_social_pages_send_browsers_to_log_in(client: TestClient, world: World) -> None:
    world.user("alice")
    response = client.get("/requests", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Frequests"
    posted = client.post("/u/alice/follow", follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/login?next=%2F"
    assert (
        client.post("/p/1/like", follow_redirects=False)
        .headers["location"]
        .startswith("/login?next=")
    )


def test_liking_a_post(client: TestClient, db: Session, world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    post = world.post(alice)
    token = act_as(client, db, bob)

    for _ in range(2):
        response = client.post(f"/p/{post.id}/like", data={"csrf_token": token})
        assert response.status_code == 200 and "1 likes" in response.text
    assert _count(db, Like) == 1
    assert f'action="/p/{post.id}/unlike"' in response.text

    response = client.post(f"/p/{post.id}/unlike", data={"csrf_token": token})
    assert "0 likes" in response.text and _count(db, Like) == 0


def test_commenting(client: TestClient, db: Session, world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    post = world.post(alice)
    token = act_as(client, db, bob)
    url = f"/p/{post.id}/comments"

    response = client.post(url, data={"csrf_token": token, "text": "  nice <em>shot</em> "})
    assert response.status_code == 200
    assert "nice &lt;em&gt;shot&lt;/em&gt;" in response.text
    assert db.scalars(select(Comment.text)).one() == "nice <em>shot</em>"

    for text in ("", "   ", "x" * 1001):
        rejected = client.post(url, data={"csrf_token": token, "text": text})
        assert rejected.status_code == 400 and "1 to 1000 characters" in rejected.text
    assert client.post(url, data={"csrf_token": token, "text": "y" * 1000}).status_code == 200
    assert _count(db, Comment) == 2


def test_no_likes_or_comments_on_posts_the_viewer_cannot_see(
    client: TestClient, db: Session, world: World
) -> None:
    carol, erin = world.user("carol", private=True), world.user("erin")
    post = world.post(carol)
    token = act_as(client, db, erin)

    assert client.post(f"/p/{post.id}/like", data={"csrf_token": token}).status_code == 404
    comment = client.post(f"/p/{post.id}/comments", data={"csrf_token": token, "text": "hi"})
    assert comment.status_code == 404
    assert client.post("/p/999999/like", data={"csrf_token": token}).status_code == 404
    assert _count(db, Like) == 0 and _count(db, Comment) == 0
