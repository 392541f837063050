"""The guard around photoshare: what a real page or API call records as disclosed."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from harvestguard.events import AccessEvent, from_arrow
from harvestguard.sinks.parquet import read_events
from photoshare.app import create_app
from photoshare.settings import Settings
from tests.factories import World
from tests.partner_helpers import partner
from tests.web_helpers import act_as


def recorded(app: FastAPI) -> list[AccessEvent]:
    assert app.state.guard_sink.flush(timeout=10)
    events = from_arrow(read_events(app.state.settings.data_dir / "guard" / "events"))
    return sorted(events, key=lambda event: event.ts)


def event_for(app: FastAPI, path: str) -> AccessEvent:
    matching = [event for event in recorded(app) if event.path == path]
    assert len(matching) == 1, matching
    return matching[0]


def test_a_profile_page_records_its_owner_and_the_classes_it_showed(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    alice = world.user("alice", email="alice@example.org")
    response = client.get("/u/alice")
    assert response.status_code == 200
    assert "alice@example.org" not in response.text
    event = event_for(app, "/u/alice")
    assert event.request_id == response.headers["x-request-id"]
    assert (event.channel, event.route, event.status) == ("web", "/u/{username}", 200)
    assert (event.resource, event.object_id, event.audience) == (
        "profile",
        str(alice.id),
        "anonymous",
    )
    assert event.owner_ids == [str(alice.id)]
    assert "identity" in event.data_classes
    assert "contact" not in event.data_classes
    assert event.actor_account is None

    carol = world.user("carol")
    act_as(client, db, carol)
    client.get("/u/alice?tab=posts")
    logged_in = [event for event in recorded(app) if event.path == "/u/alice"][-1]
    assert (logged_in.audience, logged_in.actor_account) == ("authenticated", str(carol.id))
    assert logged_in.session is not None
    assert logged_in.owner_ids == [str(alice.id)]
    assert "contact" not in logged_in.data_classes


def test_an_anonymous_post_view_records_no_location(
    app: FastAPI, client: TestClient, db: Session, world: World
) -> None:
    bob = world.user("bob")
    carol = world.user("carol")
    post = world.post(bob, venue=world.venue())
    path = f"/p/{post.id}"
    assert client.get(path).status_code == 200
    anonymous = event_for(app, path)
    assert (anonymous.route, anonymous.resource, anonymous.audience) == (
        "/p/{post_id:int}",
        "post",
        "anonymous",
    )
    assert str(bob.id) in anonymous.owner_ids
    assert "location" not in anonymous.data_classes
    assert "photo" in anonymous.data_classes

    act_as(client, db, carol)
    client.get(path)
    logged_in = [event for event in recorded(app) if event.path == path][-1]
    assert logged_in.audience == "authenticated"
    assert "location" in logged_in.data_classes


def test_a_partner_api_call_is_recorded_on_the_api_channel(
    app: FastAPI, client: TestClient, world: World
) -> None:
    dora = world.user("dora")
    post = world.post(dora, venue=world.venue())
    acme = partner(client, world, "media:read", authorised_by=[dora])
    path = f"/api/v1/media/{post.id}"
    assert client.get(path, headers=acme.headers).status_code == 200
    event = event_for(app, path)
    assert (event.channel, event.route, event.actor_client) == (
        "api",
        "/api/v1/media/{post_id}",
        acme.app.client_id,
    )
    assert (event.resource, event.object_id) == ("post", str(post.id))
    assert (event.audience, event.owner_ids) == ("partner", [str(dora.id)])
    assert "photo" in event.data_classes
    assert "location" not in event.data_classes  # no location:read scope


def test_every_request_is_recorded_once(app: FastAPI, client: TestClient, world: World) -> None:
    world.user("erin")
    responses = [client.get(path) for path in ("/u/erin", "/u/nobody", "/static/missing.css")]
    ids = [response.headers["x-request-id"] for response in responses]
    events = recorded(app)
    assert sorted(event.request_id for event in events) == sorted(ids)
    assert [event.status for event in events] == [response.status_code for response in responses]


def test_without_the_guard_nothing_is_wrapped(settings: Settings) -> None:
    settings.guard = False
    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/robots.txt")
    assert response.status_code == 200
    assert "x-request-id" not in response.headers
    assert app.state.guard_sink is None
    assert not (settings.data_dir / "guard").exists()
