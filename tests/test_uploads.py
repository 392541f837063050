"""Uploading posts, stories and avatars through the web forms, and who gets the bytes back."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harvestguard.events import AccessEvent, from_arrow
from harvestguard.sinks.parquet import read_events
from photoshare.media import media_path
from photoshare.models import Media, Post, Story, User
from photoshare.settings import Settings
from tests.factories import World
from tests.image_helpers import (
    assert_clean_jpeg,
    gps_jpeg,
    image_bytes,
    png_declaring,
    truncated_jpeg,
)
from tests.partner_helpers import partner
from tests.web_helpers import act_as, form_token, login_form


def _count(db: Session, column: Any) -> int:
    db.expire_all()
    return db.scalar(select(func.count(column))) or 0


def _files(settings: Settings) -> list[Path]:
    return sorted(settings.media_dir.iterdir())


def _upload(
    client: TestClient,
    path: str,
    data: bytes,
    token: str,
    **fields: str,
) -> Response:
    return client.post(
        path,
        data={"csrf_token": token, **fields},
        files={"image": ("holiday.jpg", data, "image/jpeg")},
        follow_redirects=False,
    )


def test_a_camera_photo_is_posted_and_served_without_its_exif_and_gps(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    world.user("alice")
    venue = world.venue()
    logged_in = client.post("/login", data=login_form(client, "alice"), follow_redirects=False)
    assert logged_in.status_code == 303

    form = client.get("/new/post")
    assert form.status_code == 200
    assert "Hotel Adlon" in form.text and 'enctype="multipart/form-data"' in form.text
    response = client.post(
        "/new/post",
        data={
            "csrf_token": form_token(form.text),
            "caption": "  Checked in  ",
            "venue_id": str(venue.id),
        },
        files={"image": ("IMG_0001.JPG", gps_jpeg(), "image/jpeg")},
        follow_redirects=False,
    )

    assert response.status_code == 303
    post = db.scalars(select(Post)).one()
    assert response.headers["location"] == f"/p/{post.id}"
    assert (post.caption, post.venue_id) == ("Checked in", venue.id)
    stored = media_path(settings.media_dir, post.media.key).read_bytes()
    assert_clean_jpeg(stored)

    served = client.get(f"/media/{post.media.key}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"].startswith("private")
    assert served.content == stored
    assert_clean_jpeg(served.content)
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.getexif() == {}


def test_a_story_is_posted_with_its_lifetime(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)
    form = client.get("/new/story")
    assert form.status_code == 200 and "24 hours" in form.text

    response = _upload(client, "/new/story", gps_jpeg(), token)

    assert response.status_code == 303
    story = db.scalars(select(Story)).one()
    assert response.headers["location"] == f"/stories/{story.id}"
    assert story.expires_at - story.created_at == timedelta(hours=settings.story_ttl_hours)
    assert story.venue_id is None
    assert_clean_jpeg(media_path(settings.media_dir, story.media.key).read_bytes())


@pytest.mark.parametrize("path", ["/new/post", "/new/story"])
def test_the_forms_are_for_logged_in_accounts(client: TestClient, path: str) -> None:
    page = client.get(path, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fnew%2F{path.rsplit('/', 1)[1]}"
    upload = _upload(client, path, image_bytes("PNG"), "")
    assert upload.status_code == 303
    assert upload.headers["location"].startswith("/login")


@pytest.mark.parametrize("path", ["/new/post", "/new/story", "/settings/avatar"])
@pytest.mark.parametrize("token", ["", "forged"])
def test_uploads_without_the_sessions_csrf_token_are_refused(
    client: TestClient,
    db: Session,
    world: World,
    settings: Settings,
    path: str,
    token: str,
) -> None:
    act_as(client, db, world.user("alice"))
    response = _upload(client, path, image_bytes("PNG"), token)
    assert response.status_code == 403
    assert _files(settings) == []
    assert _count(db, Media.id) == 0


@pytest.mark.parametrize(
    ("data", "fields", "status", "message"),
    [
        pytest.param(b"GIF89a not really", {}, 400, "not an image", id="not-an-image"),
        pytest.param(truncated_jpeg(), {}, 400, "truncated", id="truncated-jpeg"),
        pytest.param(png_declaring(60_000, 60_000), {}, 413, "too many pixels", id="bomb"),
        pytest.param(b"\xff" * 5000, {}, 413, "larger than", id="too-large"),
        pytest.param(
            image_bytes("PNG"), {"caption": "x" * 2201}, 400, "longer than 2200", id="caption"
        ),
        pytest.param(image_bytes("PNG"), {"venue_id": "999"}, 400, "place", id="no-such-venue"),
        pytest.param(image_bytes("PNG"), {"venue_id": "1 OR 1=1"}, 400, "place", id="bad-venue"),
    ],
)
def test_bad_posts_are_refused_clearly_and_leave_nothing_behind(
    client: TestClient,
    db: Session,
    world: World,
    settings: Settings,
    data: bytes,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    settings.max_upload_bytes = 4096
    token = act_as(client, db, world.user("alice"))

    response = _upload(client, "/new/post", data, token, **fields)

    assert response.status_code == status
    assert message in response.text
    assert 'name="csrf_token"' in response.text  # the form again, ready for another try
    assert _files(settings) == []
    assert _count(db, Media.id) == 0
    assert _count(db, Post.id) == 0


def test_a_post_without_a_photo_is_refused(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    token = act_as(client, db, world.user("alice"))
    response = client.post("/new/post", data={"csrf_token": token, "caption": "no photo"})
    assert response.status_code == 400
    assert "choose a photo" in response.text
    assert _count(db, Post.id) == 0


def test_a_bad_story_is_refused_and_leaves_nothing(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    token = act_as(client, db, world.user("alice"))
    response = _upload(client, "/new/story", truncated_jpeg(), token)
    assert response.status_code == 400
    assert _files(settings) == []
    assert _count(db, Story.id) == 0


def test_an_avatar_replaces_the_previous_one(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)

    first = _upload(client, "/settings/avatar", gps_jpeg(), token)
    assert first.status_code == 303
    db.refresh(alice)
    old = db.get(Media, alice.avatar_id)
    assert old is not None
    old_key = old.key
    assert_clean_jpeg(client.get(f"/media/{old_key}").content)

    second = _upload(client, "/settings/avatar", image_bytes("PNG"), token)
    assert second.status_code == 303
    db.expire_all()
    new = db.get(Media, db.get(User, alice.id).avatar_id)  # type: ignore[union-attr]
    assert new is not None and new.key != old_key
    assert _count(db, Media.id) == 1
    assert [path.name for path in _files(settings)] == [f"{new.key}.jpg"]
    assert client.get(f"/media/{old_key}").status_code == 404


def test_a_refused_avatar_keeps_the_old_one(
    client: TestClient, db: Session, world: World, settings: Settings
) -> None:
    alice = world.user("alice")
    token = act_as(client, db, alice)
    assert _upload(client, "/settings/avatar", image_bytes("PNG"), token).status_code == 303
    response = _upload(client, "/settings/avatar", b"not an image", token)
    assert response.status_code == 400
    db.expire_all()
    assert db.get(User, alice.id).avatar_id is not None  # type: ignore[union-attr]
    assert len(_files(settings)) == 1


def _status(client: TestClient, db: Session, viewer: User | None, key: str) -> int:
    act_as(client, db, viewer)
    return client.get(f"/media/{key}").status_code


def test_photos_of_a_private_account_reach_only_its_approved_followers(
    client: TestClient, db: Session, world: World
) -> None:
    owner = world.user("secretive", private=True)
    follower, pending, stranger = world.user("friend"), world.user("asking"), world.user("bob")
    world.follow(follower, owner)
    world.follow(pending, owner, approved=False)
    key = world.post(owner).media.key

    assert _status(client, db, owner, key) == 200
    assert _status(client, db, follower, key) == 200
    assert _status(client, db, pending, key) == 404
    assert _status(client, db, stranger, key) == 404
    assert _status(client, db, None, key) == 404


def test_photos_of_a_public_account_are_public(
    client: TestClient, db: Session, world: World
) -> None:
    key = world.post(world.user("alice")).media.key
    assert _status(client, db, None, key) == 200
    assert _status(client, db, world.user("bob"), key) == 200


def test_story_photos_are_for_logged_in_accounts_and_only_while_the_story_lives(
    client: TestClient, db: Session, world: World
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    live = world.story(alice, age=timedelta(hours=2)).media.key
    expired = world.story(alice, age=timedelta(hours=25)).media.key

    assert _status(client, db, bob, live) == 200
    assert _status(client, db, None, live) == 404  # no stories for logged-out visitors
    assert _status(client, db, bob, expired) == 404
    assert _status(client, db, alice, expired) == 404  # gone for the owner too


def test_a_story_is_not_cached_past_its_end(client: TestClient, db: Session, world: World) -> None:
    alice = world.user("alice")
    key = world.story(alice, age=timedelta(hours=23, minutes=59)).media.key
    act_as(client, db, alice)
    response = client.get(f"/media/{key}")
    assert response.status_code == 200
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert max_age <= 60


def test_avatars_follow_the_profile_policy(client: TestClient, db: Session, world: World) -> None:
    private = world.user("secretive", private=True)
    private.avatar_id = world.media(private).id
    db.commit()
    # A private profile still shows its name and avatar, so that friends can find it.
    assert _status(client, db, None, db.get(Media, private.avatar_id).key) == 200  # type: ignore[union-attr]


def test_unknown_orphaned_and_disabled_owners_media_are_404(
    client: TestClient, db: Session, world: World
) -> None:
    alice = world.user("alice")
    orphan = world.media(alice).key  # a file and a row, but nothing shows it
    post_key = world.post(alice).media.key
    alice.disabled = True
    db.commit()

    assert _status(client, db, None, "0" * 32) == 404
    assert _status(client, db, None, "not-a-key") == 404
    assert _status(client, db, None, orphan) == 404
    assert _status(client, db, None, post_key) == 404


def test_partner_tokens_do_not_open_the_media_route(
    client: TestClient, db: Session, world: World
) -> None:
    owner = world.user("secretive", private=True, business=True)
    key = world.post(owner).media.key
    app = partner(client, world, "profile:basic media:read", authorised_by=[owner])
    response = client.get(f"/media/{key}", headers=app.headers)
    assert response.status_code == 404


def _recorded(app: FastAPI, path: str) -> list[AccessEvent]:
    assert app.state.guard_sink.flush(timeout=10)
    events = from_arrow(read_events(app.state.settings.data_dir / "guard" / "events"))
    return sorted((event for event in events if event.path == path), key=lambda e: e.ts)


def test_the_guard_records_a_served_photo_as_media_of_its_owner(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    post_key = world.post(alice, caption="not disclosed by the image").media.key
    story_key = world.story(alice).media.key
    act_as(client, db, bob)
    assert client.get(f"/media/{post_key}").status_code == 200
    assert client.get(f"/media/{story_key}").status_code == 200
    act_as(client, db, None)
    assert client.get(f"/media/{story_key}").status_code == 404

    [post_event] = _recorded(app, f"/media/{post_key}")
    assert (post_event.resource, post_event.route, post_event.audience) == (
        "media",
        "/media/{key}",
        "authenticated",
    )
    assert post_event.owner_ids == [str(alice.id)]
    assert post_event.data_classes == ["photo"]  # the caption and place were not served
    shown, refused = _recorded(app, f"/media/{story_key}")
    assert (shown.data_classes, shown.owner_ids) == (["ephemeral"], [str(alice.id)])
    assert (refused.status, refused.audience, refused.owner_ids) == (404, "anonymous", [])
