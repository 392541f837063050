"""Shared steps of the partner API tests: registering an app, getting a token, calling the API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi.testclient import TestClient

from photoshare.models import PartnerApp, User
from tests.factories import World


@dataclass
class Partner:
    app: PartnerApp
    secret: str
    headers: dict[str, str]


def token_for(client: TestClient, app: PartnerApp, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = client.post("/oauth/token", data=data, auth=(app.client_id, secret))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def partner(
    client: TestClient,
    world: World,
    scopes: str,
    *,
    authorised_by: Iterable[User] = (),
    name: str = "Acme Insights",
) -> Partner:
    """A registered app with every scope in ``scopes``, authorised by the given accounts."""
    app, secret = world.partner_app(name=name, scopes=scopes)
    for user in authorised_by:
        world.authorise(app, user)
    return Partner(app, secret, bearer(token_for(client, app, secret)))
