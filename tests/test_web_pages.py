"""The pages people read, for logged-out, logged-in, follower and owner callers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from photoshare.models import Comment, Post, Story, User, Venue
from tests.factories import World
from tests.web_helpers import act_as

# The venue's exact coordinates, as the pages print them (rounded to 5 decimals).
EXACT_LAT, EXACT_LON = "52.5163", "13.3798"


@dataclass
class Town:
    alice: User  # public, followed by bob
    bob: User
    carol: User  # private, followed by dave, requested by erin
    dave: User
    erin: User  # follows nobody
    hotel: Venue
    alice_post: Post
    carol_post: Post
    alice_story: Story
    old_story: Story
    carol_story: Story


@pytest.fixture
def town(world: World) -> Town:
    alice, bob = world.user("alice"), world.user("bob")
    carol = world.user("carol", private=True, bio="carol's secret bio")
    dave, erin = world.user("dave"), world.user("erin")
    hotel = world.venue("Hotel Adlon", "Berlin")
    alice_post = world.post(alice, caption="sunset from the roof", venue=hotel)
    carol_post = world.post(carol, caption="carol at the spa", venue=hotel)
    world.db.add(Comment(post_id=alice_post.id, author_id=bob.id, text="lovely light"))
    world.db.commit()
    town = Town(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        erin=erin,
        hotel=hotel,
        alice_post=alice_post,
        carol_post=carol_post,
        alice_story=world.story(alice, venue=hotel),
        old_story=world.story(alice, venue=hotel, age=timedelta(hours=25)),
        carol_story=world.story(carol, venue=hotel),
    )
    world.follow(bob, alice)
    world.follow(dave, carol)
    world.follow(erin, carol, approved=False)
    return town


def test_logged_out_home_is_a_landing_page(client: TestClient, town: Town) -> None:
    body = client.get("/").text
    assert "Create an account" in body
    assert "sunset from the roof" not in body and "Log out" not in body


def test_the_feed_shows_followed_accounts_only(client: TestClient, db: Session, town: Town) -> None:
    act_as(client, db, town.bob)
    body = client.get("/").text
    assert "sunset from the roof" in body
    assert f"/stories/{town.alice_story.id}" in body
    assert f"/stories/{town.old_story.id}" not in body
    assert "carol at the spa" not in body and f"/stories/{town.carol_story.id}" not in body

    act_as(client, db, town.dave)
    body = client.get("/").text
    assert "carol at the spa" in body and f"/stories/{town.carol_story.id}" in body
    assert "sunset from the roof" not in body

    act_as(client, db, town.erin)
    body = client.get("/").text
    assert "carol at the spa" not in body and "Find people to follow" in body


def test_a_public_profile(client: TestClient, db: Session, town: Town) -> None:
    anonymous = client.get("/u/alice")
    assert anonymous.status_code == 200
    assert "@alice" in anonymous.text and "bio of alice" in anonymous.text
    assert f"/p/{town.alice_post.id}" in anonymous.text
    assert "alice@example.org" not in anonymous.text
    assert 'action="/u/alice/follow"' not in anonymous.text

    act_as(client, db, town.erin)
    assert 'action="/u/alice/follow"' in client.get("/u/alice").text
    act_as(client, db, town.bob)
    assert 'action="/u/alice/unfollow"' in client.get("/u/alice").text


def test_the_owner_sees_their_email(client: TestClient, db: Session, town: Town) -> None:
    act_as(client, db, town.alice)
    body = client.get("/u/alice").text
    assert "alice@example.org" in body
    assert 'action="/u/alice/follow"' not in body


@pytest.mark.parametrize("caller", [None, "erin", "bob"])
def test_a_private_profile_is_hidden_from_non_followers(
    client: TestClient, db: Session, town: Town, caller: str | None
) -> None:
    act_as(client, db, None if caller is None else getattr(town, caller))
    response = client.get("/u/carol")
    assert response.status_code == 200
    assert "This account is private" in response.text
    assert "@carol" in response.text
    for secret in ("carol at the spa", f"/p/{town.carol_post.id}", "carol&#39;s secret bio"):
        assert secret not in response.text
    assert "carol@example.org" not in response.text


@pytest.mark.parametrize("caller", ["dave", "carol"])
def test_a_private_profile_shows_to_followers_and_its_owner(
    client: TestClient, db: Session, town: Town, caller: str
) -> None:
    act_as(client, db, getattr(town, caller))
    body = client.get("/u/carol").text
    assert "This account is private" not in body
    assert f"/p/{town.carol_post.id}" in body and "carol&#39;s secret bio" in body


def test_connection_lists(client: TestClient, db: Session, town: Town) -> None:
    anonymous = client.get("/u/alice/followers")
    assert anonymous.status_code == 401
    assert "Log in to see followers" in anonymous.text and "@bob" not in anonymous.text

    act_as(client, db, town.erin)
    assert "@bob" in client.get("/u/alice/followers").text
    assert "@alice" in client.get("/u/bob/following").text
    hidden = client.get("/u/carol/followers")
    assert "This account is private" in hidden.text and "@dave" not in hidden.text
    assert "@erin" not in client.get("/u/carol/followers").text.split("<main>")[1]

    act_as(client, db, town.dave)
    body = client.get("/u/carol/followers").text
    assert "@dave" in body and "@erin" not in body  # a pending request is not a follower


def test_a_users_stories(client: TestClient, db: Session, town: Town) -> None:
    anonymous = client.get("/u/alice/stories")
    assert anonymous.status_code == 401
    assert f"/stories/{town.alice_story.id}" not in anonymous.text

    act_as(client, db, town.erin)
    body = client.get("/u/alice/stories").text
    assert f"/stories/{town.alice_story.id}" in body
    assert f"/stories/{town.old_story.id}" not in body
    carol = client.get("/u/carol/stories").text
    assert "This account is private" in carol and f"/stories/{town.carol_story.id}" not in carol


def test_a_post_for_each_audience(client: TestClient, db: Session, town: Town) -> None:
    url = f"/p/{town.alice_post.id}"
    anonymous = client.get(url).text
    assert "sunset from the roof" in anonymous and "lovely light" in anonymous
    for location in ("Hotel Adlon", "Berlin", EXACT_LAT, EXACT_LON, "/explore/locations"):
        assert location not in anonymous
    assert "Log in</a> to like and comment" in anonymous

    act_as(client, db, town.erin)
    stranger = client.get(url).text
    assert "Hotel Adlon" in stranger and "Berlin" in stranger
    assert 'class="coords"' in stranger and EXACT_LAT not in stranger  # coarsened

    act_as(client, db, town.bob)
    follower = client.get(url).text
    assert EXACT_LAT in follower and EXACT_LON in follower
    assert f'action="{url}/like"' in follower


@pytest.mark.parametrize(("caller", "visible"), [(None, False), ("erin", False), ("dave", True)])
def test_a_private_post(
    client: TestClient, db: Session, town: Town, caller: str | None, visible: bool
) -> None:
    act_as(client, db, None if caller is None else getattr(town, caller))
    response = client.get(f"/p/{town.carol_post.id}")
    assert response.status_code == (200 if visible else 404)
    assert ("carol at the spa" in response.text) is visible


def test_markup_in_user_text_renders_inert(client: TestClient, db: Session, world: World) -> None:
    mallory = world.user("mallory", bio='<img src=x onerror="alert(1)">')
    post = world.post(mallory, caption="<script>alert('caption')</script>")
    world.db.add(Comment(post_id=post.id, author_id=mallory.id, text="<b>bold</b>"))
    world.db.commit()

    body = client.get(f"/p/{post.id}").text
    assert "<script>alert" not in body and "<b>bold</b>" not in body
    assert "&lt;script&gt;alert(&#39;caption&#39;)&lt;/script&gt;" in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body
    profile = client.get("/u/mallory").text
    assert "<img src=x" not in profile and "&lt;img src=x" in profile


@pytest.mark.parametrize(
    ("caller", "story", "status"),
    [
        (None, "alice_story", 404),
        ("erin", "alice_story", 200),
        ("erin", "carol_story", 404),
        ("dave", "carol_story", 200),
        ("alice", "old_story", 404),  # expired, even for its owner
        ("bob", "old_story", 404),
    ],
)
def test_the_story_viewer(
    client: TestClient, db: Session, town: Town, caller: str | None, story: str, status: int
) -> None:
    act_as(client, db, None if caller is None else getattr(town, caller))
    target: Story = getattr(town, story)
    response = client.get(f"/stories/{target.id}")
    assert response.status_code == status
    assert (target.media.key in response.text) is (status == 200)


def test_a_place_is_for_logged_in_people_only(client: TestClient, db: Session, town: Town) -> None:
    for venue_id in (town.hotel.id, 999_999):
        response = client.get(f"/explore/locations/{venue_id}")
        assert response.status_code == 401
        assert "Log in" in response.text
        for location in ("Hotel Adlon", "Berlin", EXACT_LAT, EXACT_LON, "sunset from the roof"):
            assert location not in response.text


def test_a_place_for_logged_in_callers(client: TestClient, db: Session, town: Town) -> None:
    act_as(client, db, town.erin)
    response = client.get(f"/explore/locations/{town.hotel.id}")
    assert response.status_code == 200
    assert "Hotel Adlon" in response.text and "Berlin" in response.text
    assert "sunset from the roof" in response.text
    assert f"/stories/{town.alice_story.id}" in response.text
    assert f"/stories/{town.old_story.id}" not in response.text
    # private accounts stay off a place's public page, even for their followers
    assert "carol at the spa" not in response.text
    act_as(client, db, town.dave)
    assert "carol at the spa" not in client.get(f"/explore/locations/{town.hotel.id}").text
    assert client.get("/explore/locations/999999").status_code == 404


def test_searching_people(client: TestClient, db: Session, world: World) -> None:
    world.user("carol", private=True, bio="hidden bio")
    for number in range(25):
        world.user(f"fan{number:02d}")
    world.user("superfan")

    body = client.get("/search", params={"q": "Carol"}).text
    assert "@carol" in body and "hidden bio" not in body
    fans = client.get("/search", params={"q": "fan"}).text
    assert fans.count('<li><a href="/u/') == 20
    assert "@fan00" in fans and "@superfan" not in fans  # prefix matches first
    assert client.get("/search", params={"q": "uperf"}).text.count("@superfan") == 1
    assert "No one matches" in client.get("/search", params={"q": "%"}).text
    assert 'name="q"' in client.get("/search").text


def test_searching_places(client: TestClient, db: Session, town: Town) -> None:
    anonymous = client.get("/search/locations", params={"q": "berl"})
    assert anonymous.status_code == 401
    assert "Hotel Adlon" not in anonymous.text

    act_as(client, db, town.erin)
    for query in ("berl", "ADLON"):
        body = client.get("/search/locations", params={"q": query}).text
        assert f'href="/explore/locations/{town.hotel.id}">Hotel Adlon</a>' in body
    assert "No place matches" in client.get("/search/locations", params={"q": "paris"}).text


def test_robots_txt(client: TestClient) -> None:
    response = client.get("/robots.txt")
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for rule in ("Disallow: /search", "Disallow: /explore/", "Disallow: /stories/"):
        assert rule in lines
    assert "Disallow: /api/" in lines and "Allow: /u/" in lines and "Allow: /p/" in lines


@pytest.mark.parametrize(
    "path",
    [
        "/u/nobody",
        "/u/nobody/followers",
        "/u/nobody/following",
        "/u/nobody/stories",
        "/p/999999",
        "/stories/999999",
    ],
)
def test_unknown_things_are_not_found(
    client: TestClient, db: Session, town: Town, path: str
) -> None:
    for caller in (None, town.alice):
        act_as(client, db, caller)
        response = client.get(path)
        assert response.status_code == 404
        assert "Page not found" in response.text


def test_disabled_accounts_are_gone(client: TestClient, db: Session, town: Town) -> None:
    town.alice.disabled = True
    db.commit()
    act_as(client, db, town.bob)
    assert client.get("/u/alice").status_code == 404
    assert client.get(f"/p/{town.alice_post.id}").status_code == 404
    assert "@alice" not in client.get("/search", params={"q": "alice"}).text.split("<main>")[1]
