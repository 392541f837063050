"""The shipped default policy, resource by resource and audience by audience."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

import pytest
from sqlalchemy.orm import Session

from harvestguard import context
from harvestguard.context import RequestContext
from harvestguard.events import AudienceKind, DataClass
from harvestguard.policy import Audience, default_policy, redact
from photoshare import serialize
from photoshare.models import Comment
from photoshare.partners import SCOPES
from tests.factories import World
from tests.test_policy_properties import geohash

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ANONYMOUS = Audience.anonymous()
AUTHENTICATED = Audience(AudienceKind.AUTHENTICATED)
FOLLOWER = Audience(AudienceKind.FOLLOWER)
OWNER = Audience(AudienceKind.OWNER)
LOCATION_FIELDS = {"venue_id", "venue_name", "venue_city", "lat", "lon"}


def partner(*scopes: str, authorised: bool = True) -> Audience:
    return Audience.partner(frozenset(scopes), authorised=authorised)


EVERY_SCOPE = partner(*SCOPES)


def profile(*, private: bool = False) -> dict[str, Any]:
    return {
        "id": 7,
        "username": "bob",
        "display_name": "Bob",
        "bio": "likes hotels",
        "email": "bob@example.org",
        "avatar_url": "/media/avatar",
        "is_private": private,
        "is_business": False,
        "follower_count": 3,
        "following_count": 4,
        "post_count": 5,
        "created_at": NOW - timedelta(days=30),
    }


def _venue() -> dict[str, Any]:
    return {
        "venue_id": 3,
        "venue_name": "Hotel Adlon",
        "venue_city": "Berlin",
        "lat": 52.5163,
        "lon": 13.3798,
    }


def post(*, private: bool = False, age: timedelta = timedelta(days=2)) -> dict[str, Any]:
    return {
        "id": 11,
        "owner_id": 7,
        "owner_username": "bob",
        "owner_private": private,
        "image_url": "/media/post",
        "caption": "a day out",
        "created_at": NOW - age,
        "like_count": 1,
        "comment_count": 2,
        **_venue(),
    }


def story(*, private: bool = False, age: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    created = NOW - age
    return {
        "id": 12,
        "owner_id": 7,
        "owner_username": "bob",
        "owner_private": private,
        "image_url": "/media/story",
        "created_at": created,
        "expires_at": created + timedelta(hours=24),
        **_venue(),
    }


def comment(*, private: bool = False) -> dict[str, Any]:
    return {
        "id": 13,
        "post_id": 11,
        "owner_id": 7,
        "owner_username": "bob",
        "owner_private": private,
        "text": "nice",
        "created_at": NOW - timedelta(hours=3),
    }


def connection(*, private: bool = False) -> dict[str, Any]:
    return {
        "owner_id": 7,
        "owner_private": private,
        "direction": "followers",
        "user_id": 8,
        "username": "carol",
        "display_name": "Carol",
    }


def location(*, private: bool = False) -> dict[str, Any]:
    del private  # a venue belongs to nobody, so it is never private
    return {
        "id": 3,
        "owner_id": None,
        "name": "Hotel Adlon",
        "category": "hotel",
        "city": "Berlin",
        "lat": 52.5163,
        "lon": 13.3798,
    }


FACTORIES: dict[str, Callable[..., dict[str, Any]]] = {
    "profile": profile,
    "post": post,
    "story": story,
    "comment": comment,
    "connection": connection,
    "location": location,
}

PROFILE = set(profile())
PROFILE_PUBLIC = PROFILE - {"email"}
PROFILE_BASICS = {"id", "username", "display_name", "avatar_url", "is_private"}
POST = set(post())
POST_MEDIA = {
    "id",
    "owner_id",
    "owner_username",
    "image_url",
    "caption",
    "created_at",
    "like_count",
    "comment_count",
}
STORY = set(story())
COMMENT = set(comment())
COMMENT_MEDIA = COMMENT - {"owner_private"}
CONNECTION = set(connection())
LOCATION = set(location())

HIDDEN = None
CASES: list[tuple[str, bool, Audience, set[str] | None]] = [
    # resource, owner private, audience, the fields it sees (None: nothing at all)
    ("profile", False, ANONYMOUS, PROFILE_PUBLIC),
    ("profile", False, AUTHENTICATED, PROFILE_PUBLIC),
    ("profile", False, FOLLOWER, PROFILE_PUBLIC),
    ("profile", False, OWNER, PROFILE),
    ("profile", True, ANONYMOUS, PROFILE_BASICS),
    ("profile", True, AUTHENTICATED, PROFILE_BASICS),
    ("profile", True, FOLLOWER, PROFILE_PUBLIC),
    ("profile", True, OWNER, PROFILE),
    ("profile", True, EVERY_SCOPE, PROFILE_BASICS),
    ("profile", True, partner("profile:bio", "contact:read"), HIDDEN),
    ("profile", False, partner("profile:basic"), PROFILE_BASICS | {"is_business"}),
    ("profile", False, partner("profile:bio"), {"bio"}),
    (
        "profile",
        False,
        partner("profile:insights"),
        {"follower_count", "following_count", "post_count"},
    ),
    ("profile", False, partner("contact:read"), {"email"}),
    ("profile", False, partner("media:read", "location:read"), HIDDEN),
    ("profile", False, partner(*SCOPES, authorised=False), HIDDEN),
    ("post", False, ANONYMOUS, POST - LOCATION_FIELDS),
    ("post", False, AUTHENTICATED, POST),
    ("post", False, FOLLOWER, POST),
    ("post", False, OWNER, POST),
    ("post", True, ANONYMOUS, HIDDEN),
    ("post", True, AUTHENTICATED, HIDDEN),
    ("post", True, EVERY_SCOPE, HIDDEN),
    ("post", True, FOLLOWER, POST),
    ("post", True, OWNER, POST),
    ("post", False, partner("media:read"), POST_MEDIA),
    ("post", False, partner("location:read"), LOCATION_FIELDS),
    ("post", False, partner("media:read", "location:read"), POST_MEDIA | LOCATION_FIELDS),
    ("post", False, partner("profile:basic", "contact:read"), HIDDEN),
    ("post", False, partner("media:read", authorised=False), HIDDEN),
    ("story", False, ANONYMOUS, HIDDEN),
    ("story", False, AUTHENTICATED, STORY),
    ("story", False, FOLLOWER, STORY),
    ("story", False, OWNER, STORY),
    ("story", False, EVERY_SCOPE, HIDDEN),
    ("story", True, AUTHENTICATED, HIDDEN),
    ("story", True, FOLLOWER, STORY),
    ("comment", False, ANONYMOUS, COMMENT),
    ("comment", False, AUTHENTICATED, COMMENT),
    ("comment", False, OWNER, COMMENT),
    ("comment", False, partner("media:read"), COMMENT_MEDIA),
    ("comment", False, partner("profile:basic"), HIDDEN),
    ("comment", True, ANONYMOUS, HIDDEN),
    ("comment", True, EVERY_SCOPE, HIDDEN),
    ("comment", True, FOLLOWER, COMMENT),
    ("connection", False, ANONYMOUS, HIDDEN),
    ("connection", False, AUTHENTICATED, CONNECTION),
    ("connection", False, FOLLOWER, CONNECTION),
    ("connection", False, EVERY_SCOPE, HIDDEN),
    ("connection", True, AUTHENTICATED, HIDDEN),
    ("connection", True, FOLLOWER, CONNECTION),
    ("connection", True, OWNER, CONNECTION),
    ("location", False, ANONYMOUS, HIDDEN),
    ("location", False, AUTHENTICATED, LOCATION),
    ("location", False, partner("location:read"), LOCATION),
    ("location", False, partner(*(SCOPES - {"location:read"})), HIDDEN),
]


def _case_id(case: tuple[str, bool, Audience, set[str] | None]) -> str:
    resource, private, audience, _ = case
    who = audience.kind.value
    if audience.kind is AudienceKind.PARTNER:
        who += (
            f"[{' '.join(sorted(audience.scopes))}{'' if audience.authorised else ' unauthorised'}]"
        )
    return f"{resource}-{'private' if private else 'public'}-{who}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_default_policy_shows_each_audience_its_fields(
    case: tuple[str, bool, Audience, set[str] | None],
) -> None:
    resource, private, audience, expected = case
    shown = redact(resource, FACTORIES[resource](private=private), audience, now=NOW)
    if expected is None:
        assert shown.data is None
    else:
        assert shown.data is not None
        assert set(shown.data) == expected


@pytest.mark.parametrize("resource", sorted(FACTORIES))
def test_anonymous_visitors_never_get_location_data(resource: str) -> None:
    for private in (False, True):
        shown = redact(resource, FACTORIES[resource](private=private), ANONYMOUS, now=NOW)
        assert not LOCATION_FIELDS & set(shown.data or {})
        assert DataClass.LOCATION not in shown.data_classes


def _every_scope_set() -> list[frozenset[str]]:
    ordered = sorted(SCOPES)
    return [frozenset(c) for size in range(len(ordered) + 1) for c in combinations(ordered, size)]


def test_stories_never_go_to_partners() -> None:
    for scopes in _every_scope_set():
        for authorised in (True, False):
            shown = redact(
                "story", story(), Audience.partner(scopes, authorised=authorised), now=NOW
            )
            assert shown.data is None


@pytest.mark.parametrize("audience", [ANONYMOUS, AUTHENTICATED, FOLLOWER, OWNER, EVERY_SCOPE])
def test_stories_disappear_after_24_hours_for_everyone(audience: Audience) -> None:
    old = redact("story", story(age=timedelta(hours=24)), audience, now=NOW)
    much_older = redact("story", story(age=timedelta(days=30)), audience, now=NOW)
    assert old.data is None and much_older.data is None


def test_a_story_is_shown_until_its_24_hours_are_over() -> None:
    assert redact("story", story(age=timedelta(hours=23, minutes=59)), OWNER, now=NOW).visible
    assert redact("story", story(age=timedelta(hours=23)), AUTHENTICATED, now=NOW).visible


def test_a_story_without_a_readable_creation_time_is_not_shown() -> None:
    for created in (None, "yesterday-ish", 1714564800):
        undated = {**story(), "created_at": created}
        assert redact("story", undated, OWNER, now=NOW).data is None


def test_a_story_dated_in_iso_text_expires_too() -> None:
    dated = {**story(), "created_at": (NOW - timedelta(hours=25)).isoformat()}
    assert redact("story", dated, FOLLOWER, now=NOW).data is None
    dated["created_at"] = (NOW - timedelta(hours=2)).isoformat()
    assert redact("story", dated, FOLLOWER, now=NOW).visible


def test_only_the_owner_and_contact_read_partners_get_the_email() -> None:
    audiences = [ANONYMOUS, AUTHENTICATED, FOLLOWER, partner(*(SCOPES - {"contact:read"}))]
    for audience in audiences:
        assert "email" not in (redact("profile", profile(), audience).data or {})
    assert redact("profile", profile(), OWNER).data == profile()
    assert redact("profile", profile(), partner("contact:read")).data == {
        "email": "bob@example.org"
    }


@pytest.mark.parametrize("resource", ["post", "story"])
def test_authenticated_viewers_get_coordinates_coarsened_to_geohash_5(resource: str) -> None:
    original = FACTORIES[resource]()
    shown = redact(resource, original, AUTHENTICATED, now=NOW).data
    assert shown is not None
    lat, lon = shown["lat"], shown["lon"]
    assert (lat, lon) != (original["lat"], original["lon"])
    assert lat != original["lat"] and lon != original["lon"]
    cell, (lat_low, lat_high, lon_low, lon_high) = geohash(original["lat"], original["lon"], 5)
    assert lat_low <= lat < lat_high and lon_low <= lon < lon_high
    assert (lat, lon) == ((lat_low + lat_high) / 2, (lon_low + lon_high) / 2)
    assert geohash(lat, lon, 5)[0] == cell
    assert shown["venue_name"] == "Hotel Adlon" and shown["venue_city"] == "Berlin"


@pytest.mark.parametrize("resource", ["post", "story"])
def test_followers_and_owners_get_exact_coordinates(resource: str) -> None:
    for audience in (FOLLOWER, OWNER):
        shown = redact(resource, FACTORIES[resource](), audience, now=NOW).data
        assert shown is not None
        assert (shown["lat"], shown["lon"]) == (52.5163, 13.3798)


def test_the_location_resource_is_public_to_logged_in_users_in_full() -> None:
    assert redact("location", location(), AUTHENTICATED).data == location()


def test_unknown_resources_and_fields_are_not_shown() -> None:
    assert redact("message", {"owner_id": 7, "text": "hi"}, OWNER).data is None
    shown = redact("comment", {**comment(), "author_ip": "10.0.0.1"}, ANONYMOUS).data
    assert shown is not None and "author_ip" not in shown


def test_an_object_without_its_private_flag_counts_as_private() -> None:
    unflagged = post()
    del unflagged["owner_private"]
    assert redact("post", unflagged, AUTHENTICATED).data is None
    assert redact("post", {**post(), "owner_private": None}, ANONYMOUS).data is None
    assert redact("post", unflagged, FOLLOWER).visible


def test_redact_records_owner_and_data_classes_on_the_active_request() -> None:
    ctx = RequestContext("req-42")
    token = context.activate(ctx)
    try:
        shown = redact("post", post(), AUTHENTICATED)
        redact("story", story(), ANONYMOUS, now=NOW)  # hidden: records nothing
        redact("profile", {**profile(), "id": 9, "email": None}, OWNER)
    finally:
        context.deactivate(token)
    assert shown.owner_id == "7"
    assert shown.data_classes == {
        DataClass.IDENTITY,
        DataClass.PHOTO,
        DataClass.CONTENT,
        DataClass.LOCATION,
    }
    assert ctx.owner_ids == {"7", "9"}
    # the profile's email was None: no contact data went out
    assert ctx.data_classes == {"identity", "photo", "content", "location", "social_graph"}


def test_redact_records_nothing_outside_a_request() -> None:
    shown = redact("post", post(), OWNER)
    assert shown.visible and context.current() is None


def test_an_anonymous_post_view_discloses_no_location_class() -> None:
    ctx = RequestContext("req-43")
    token = context.activate(ctx)
    try:
        redact("post", post(), ANONYMOUS)
    finally:
        context.deactivate(token)
    assert ctx.data_classes == {"identity", "photo", "content"}


def test_default_policy_declares_exactly_the_fields_photoshare_serializes(
    world: World, db: Session
) -> None:
    bob = world.user("bob")
    venue = world.venue()
    a_post = world.post(bob, venue=venue)
    a_story = world.story(bob, venue=venue)
    a_comment = Comment(post_id=a_post.id, author_id=bob.id, text="first")
    db.add(a_comment)
    db.commit()
    serialized = {
        "profile": serialize.profile_dict(bob),
        "post": serialize.post_dict(a_post),
        "story": serialize.story_dict(a_story),
        "comment": serialize.comment_dict(a_comment),
        "connection": serialize.connection_dict(bob, world.user("carol"), "followers"),
        "location": serialize.venue_dict(venue),
    }
    policy = default_policy()
    assert set(policy.resources) == set(serialized)
    for resource, obj in serialized.items():
        assert set(policy.resources[resource].fields) == set(obj), resource
        assert redact(resource, obj, OWNER).data == obj
