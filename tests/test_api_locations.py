"""Partner API: venues, and the posts at a venue of the accounts that authorised the app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import World
from tests.partner_helpers import partner

VENUE = {"id", "name", "category", "city", "lat", "lon"}
MEDIA_AND_LOCATION = {
    "id",
    "owner_id",
    "owner_username",
    "image_url",
    "caption",
    "created_at",
    "like_count",
    "comment_count",
    "venue_id",
    "venue_name",
    "venue_city",
    "lat",
    "lon",
}


def test_a_venue_with_location_read(client: TestClient, world: World) -> None:
    venue = world.venue("Cafe Einstein", "Berlin")
    app = partner(client, world, "location:read")
    response = client.get(f"/api/v1/locations/{venue.id}", headers=app.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == VENUE
    assert (body["name"], body["city"], body["category"]) == ("Cafe Einstein", "Berlin", "hotel")
    assert "owner_id" not in body


def test_an_unknown_venue_is_not_found(client: TestClient, world: World) -> None:
    app = partner(client, world, "location:read media:read")
    for url in ("/api/v1/locations/999999", "/api/v1/locations/999999/media"):
        response = client.get(url, headers=app.headers)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "error_description": "no such location"}


@pytest.mark.parametrize(
    ("scopes", "path", "required"),
    [
        ("profile:basic media:read", "", "location:read"),
        ("media:read", "/media", "location:read media:read"),
        ("location:read", "/media", "location:read media:read"),
    ],
)
def test_location_endpoints_require_their_scopes(
    client: TestClient, world: World, scopes: str, path: str, required: str
) -> None:
    venue = world.venue()
    app = partner(client, world, scopes)
    response = client.get(f"/api/v1/locations/{venue.id}{path}", headers=app.headers)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.json()["scope"] == required
    assert "Adlon" not in response.text


def test_venue_media_lists_only_authorising_owners(client: TestClient, world: World) -> None:
    venue, elsewhere = world.venue(), world.venue("Tempelhof", "Berlin")
    alice, bob, carol = world.user("alice"), world.user("bob"), world.user("carol", private=True)
    here = world.post(alice, caption="at the hotel", venue=venue)
    world.post(alice, caption="at the park", venue=elsewhere)
    world.post(alice, caption="nowhere")
    world.post(bob, caption="bob at the hotel", venue=venue)
    world.post(carol, caption="carol at the hotel", venue=venue)
    app = partner(client, world, "location:read media:read", authorised_by=[alice, carol])
    response = client.get(f"/api/v1/locations/{venue.id}/media", headers=app.headers)
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [here.id]
    assert set(body["items"][0]) == MEDIA_AND_LOCATION
    assert body["items"][0]["venue_name"] == "Hotel Adlon"
    assert "bob" not in response.text
    # carol authorised the app, but her account is private: the policy keeps her posts hidden
    assert "carol" not in response.text


def test_venue_media_pages(client: TestClient, world: World) -> None:
    venue = world.venue()
    alice = world.user("alice")
    posts = [world.post(alice, caption=f"visit {n}", venue=venue) for n in range(3)]
    app = partner(client, world, "location:read media:read", authorised_by=[alice])
    url = f"/api/v1/locations/{venue.id}/media"
    first = client.get(url, params={"limit": "2"}, headers=app.headers).json()
    second = client.get(
        url, params={"limit": "2", "cursor": first["next_cursor"]}, headers=app.headers
    ).json()
    assert [item["id"] for item in first["items"]] == [posts[2].id, posts[1].id]
    assert [item["id"] for item in second["items"]] == [posts[0].id]
    assert second["next_cursor"] is None
